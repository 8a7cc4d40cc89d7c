from pvigroup.io import run_script
from pvigroup.stats import run_group_tests

run_script(
    run_group_tests,
    list(snakemake.input),
    snakemake.output[0],
    method=snakemake.params.method,
    model=snakemake.wildcards.model,
    max_group_size=snakemake.params.max_group_size,
    tost_margin=snakemake.params.tost_margin,
    tost_variance=snakemake.params.tost_variance,
    correction=snakemake.params.correction,
    alpha=snakemake.params.alpha,
    test=snakemake.params.test,
    log_path=snakemake.log[0],
)
