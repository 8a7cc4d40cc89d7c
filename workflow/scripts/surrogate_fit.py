from pvigroup.baselines.surrogate import surrogate_fit
from pvigroup.io import run_script

run_script(
    surrogate_fit,
    list(snakemake.input),
    snakemake.output.affinity,
    snakemake.output.coefficients,
    tasks=snakemake.params.tasks,
    **dict(snakemake.params.settings),
    log_path=snakemake.log[0],
)
