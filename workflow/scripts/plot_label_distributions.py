from pvigroup.io import run_script
from pvigroup.plots import plot_label_distributions

run_script(plot_label_distributions, dict(zip(snakemake.params.tasks, snakemake.input, strict=True)),
           snakemake.output[0], names=snakemake.params.names, log_path=snakemake.log[0])
