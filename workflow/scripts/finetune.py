from pathlib import Path

from pvigroup.io import run_script
from pvigroup.pvi import finetune

run_script(
    finetune,
    Path(snakemake.input.train).parent,
    snakemake.output[0],
    pretrained=snakemake.params.pretrained,
    hparams=snakemake.params.hparams,
    null_input=snakemake.rule in ("finetune_null", "finetune_null_seed"),
    engine=snakemake.config["engine"],
    log_path=snakemake.log[0],
)
