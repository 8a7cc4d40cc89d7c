from pvigroup.diagnostics import plot_pvi_by_correct
from pvigroup.io import run_script

run_script(plot_pvi_by_correct, snakemake.input[0], snakemake.output[0],
           task=snakemake.wildcards.task, model=snakemake.wildcards.model,
           log_path=snakemake.log[0])
