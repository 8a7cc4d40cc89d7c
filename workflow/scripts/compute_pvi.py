from pathlib import Path

from pvigroup.io import run_script
from pvigroup.pvi import compute_pvi

run_script(
    compute_pvi,
    Path(snakemake.input.info).parent,
    snakemake.input.gprime,
    snakemake.input.null,
    snakemake.output.pvi,
    snakemake.output.summary,
    split=snakemake.params.split,
    model=snakemake.wildcards.model,
    model_spec=snakemake.params.model_spec,
    hparams=snakemake.params.hparams,
    engine=snakemake.config["engine"],
    allow_collapsed=snakemake.params.allow_collapsed,
    log_path=snakemake.log[0],
)
