from pvigroup.io import run_script
from pvigroup.plots import plot_pvi_violin

run_script(plot_pvi_violin, dict(zip(snakemake.params.tasks, snakemake.input, strict=True)),
           snakemake.output[0], model=snakemake.wildcards.model, names=snakemake.params.names,
           log_path=snakemake.log[0])
