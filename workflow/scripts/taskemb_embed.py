from pathlib import Path

from pvigroup.baselines.taskemb import compute_taskemb
from pvigroup.io import run_script

settings = dict(snakemake.params.settings)
run_script(
    compute_taskemb,
    Path(snakemake.input.info).parent,
    snakemake.output.embedding,
    model=snakemake.wildcards.model,
    gprime_dir=snakemake.input.get("gprime"),
    pretrained=snakemake.params.pretrained,
    engine=snakemake.params.engine,
    **settings,
    log_path=snakemake.log[0],
)
