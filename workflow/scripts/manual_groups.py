from pvigroup.groups import manual_groups
from pvigroup.io import run_script

run_script(
    manual_groups,
    snakemake.params.groups,
    snakemake.params.tasks,
    snakemake.output[0],
    log_path=snakemake.log[0],
)
