from pvigroup.baselines.compare import compare_with_pvi
from pvigroup.io import run_script

run_script(
    compare_with_pvi,
    snakemake.input[0],
    snakemake.wildcards.method,
    snakemake.output[0],
    log_path=snakemake.log[0],
)
