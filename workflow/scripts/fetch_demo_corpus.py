from pathlib import Path

from pvigroup.demo import fetch_corpus
from pvigroup.io import run_script

run_script(
    fetch_corpus,
    snakemake.wildcards.corpus,
    snakemake.output[0],
    cache_dir=Path(snakemake.output[0]).parent,
    log_path=snakemake.log[0],
)
