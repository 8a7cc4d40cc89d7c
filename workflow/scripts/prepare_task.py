from pathlib import Path

from pvigroup.data import prepare_task
from pvigroup.io import run_script

run_script(
    prepare_task,
    snakemake.wildcards.task,
    snakemake.params.task,
    Path(snakemake.output.info).parent,
    log_path=snakemake.log[0],
)
