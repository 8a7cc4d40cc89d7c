from pvigroup.baselines.grouping import baseline_groups
from pvigroup.io import run_script

run_script(
    baseline_groups,
    snakemake.input[0],
    snakemake.output[0],
    method=snakemake.wildcards.method,
    **dict(snakemake.params.settings),
    log_path=snakemake.log[0],
)
