from pvigroup.diagnostics import summarise
from pvigroup.io import run_script

run_script(summarise, dict(zip(snakemake.params.tasks, snakemake.input, strict=True)),
           snakemake.output.table, snakemake.output.figure, model=snakemake.wildcards.model,
           names=snakemake.params.names, log_path=snakemake.log[0])
