from pvigroup.evaluation import evaluate_model
from pvigroup.io import run_script

run_script(
    evaluate_model,
    snakemake.input.summary,
    snakemake.input.get("pairs"),
    out_gain=snakemake.output.gain,
    out_groups=snakemake.output.groups,
    out_methods=snakemake.output.methods,
    out_predictor=snakemake.output.predictor,
    out_pairs=snakemake.output.pairs,
    model=snakemake.wildcards.model,
    sources=snakemake.params.sources,
    alpha=snakemake.params.alpha,
    level=snakemake.params.level,
    seed=snakemake.params.seed,
    config=snakemake.config,
    log_path=snakemake.log[0],
)
