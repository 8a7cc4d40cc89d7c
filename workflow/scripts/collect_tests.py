from pvigroup.io import run_script
from pvigroup.stats import collect_tests

run_script(
    collect_tests,
    list(snakemake.input),
    snakemake.output[0],
    correction=snakemake.params.correction,
    log_path=snakemake.log[0],
)
