from pvigroup.io import run_script
from pvigroup.llm import collect_llm

run_script(
    collect_llm,
    list(snakemake.input.metrics),
    snakemake.output.table07,
    snakemake.output.table08,
    log_path=snakemake.log[0],
)
