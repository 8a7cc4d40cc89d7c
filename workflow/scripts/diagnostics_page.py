from pvigroup.diagnostics import task_page
from pvigroup.io import run_script

run_script(task_page, snakemake.input.summary, snakemake.input.suspects, snakemake.input.figure,
           snakemake.output[0], rows=snakemake.params.rows, log_path=snakemake.log[0])
