import sys
from pathlib import Path

from pvigroup.data import prepare_task
from pvigroup.io import run_script

run_script(
    prepare_task,
    snakemake.wildcards.task,
    snakemake.params.task,
    Path(snakemake.output.info).parent,
    console=sys.stderr,  # WARNING lines on the console too; run_script sends the rest to the log
    log_path=snakemake.log[0],
)
