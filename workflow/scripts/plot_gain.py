from pvigroup.evaluation.figures import plot_gain
from pvigroup.io import run_script

run_script(plot_gain, snakemake.input[0], snakemake.output[0], model=snakemake.wildcards.model,
           names=snakemake.params.names, provenance=snakemake.params.provenance,
           log_path=snakemake.log[0])
