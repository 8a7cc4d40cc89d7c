from pvigroup.io import run_script
from pvigroup.plots import plot_pair_pvalues

run_script(plot_pair_pvalues, snakemake.input[0], snakemake.output[0], alpha=snakemake.params.alpha,
           model=snakemake.wildcards.model, names=snakemake.params.names, log_path=snakemake.log[0])
