from pvigroup.evaluation import write_answer
from pvigroup.io import run_script

models = list(snakemake.params.models)
run_script(
    write_answer,
    dict(zip(models, snakemake.input.methods, strict=True)),
    dict(zip(models, snakemake.input.predictors, strict=True)),
    snakemake.output[0],
    log_path=snakemake.log[0],
)
