from pathlib import Path

from pvigroup.io import run_script
from pvigroup.pvi import fit_empirical_prior

run_script(
    fit_empirical_prior,
    Path(snakemake.input.train).parent,
    snakemake.output[0],
    log_path=snakemake.log[0],
)
