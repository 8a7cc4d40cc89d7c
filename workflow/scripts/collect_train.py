from pvigroup.io import run_script
from pvigroup.train import collect_train

run_script(
    collect_train,
    list(snakemake.input.stl) + list(snakemake.input.mtl),
    list(snakemake.input.groups),
    snakemake.output.summary,
    snakemake.output.aggregate,
    snakemake.output.comparison,
    model=snakemake.wildcards.model,
    level=snakemake.params.ci_level,
    log_path=snakemake.log[0],
)
