from pathlib import Path

from pvigroup.baselines.surrogate import run_subset
from pvigroup.io import run_script

settings = dict(snakemake.params.settings)
run_script(
    run_subset,
    [Path(p).parent for p in snakemake.input.info],
    snakemake.output[0],
    subset=snakemake.wildcards.subset,
    model=snakemake.wildcards.model,
    pretrained=snakemake.params.pretrained,
    engine=snakemake.params.engine,
    **settings,
    log_path=snakemake.log[0],
)
