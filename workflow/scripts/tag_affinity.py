from pathlib import Path

from pvigroup.baselines.tag import tag_affinity
from pvigroup.io import run_script

run_script(
    tag_affinity,
    [Path(p).parent for p in snakemake.input.info],
    snakemake.output.affinity,
    snakemake.output.symmetric,
    snakemake.output.meta,
    model=snakemake.wildcards.model,
    pretrained=snakemake.params.pretrained,
    engine=snakemake.params.engine,
    **dict(snakemake.params.settings),
    log_path=snakemake.log[0],
)
