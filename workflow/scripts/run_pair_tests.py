from pvigroup.io import run_script
from pvigroup.stats import run_pair_tests

run_script(
    run_pair_tests,
    list(snakemake.input),
    snakemake.output[0],
    method=snakemake.params.method,
    seed=snakemake.params.seed,
    model=snakemake.wildcards.model,
    tost_margin=snakemake.params.tost_margin,
    tost_variance=snakemake.params.tost_variance,
    bootstrap_resamples=snakemake.params.bootstrap_resamples,
    bootstrap_seed=snakemake.params.bootstrap_seed,
    bootstrap_max_pairs=snakemake.params.bootstrap_max_pairs,
    correction=snakemake.params.correction,
    alpha=snakemake.params.alpha,
    test=snakemake.params.test,
    log_path=snakemake.log[0],
)
