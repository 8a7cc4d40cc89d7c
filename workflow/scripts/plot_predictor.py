from pvigroup.evaluation.figures import plot_predictor
from pvigroup.io import run_script

run_script(plot_predictor, snakemake.input.pairs, snakemake.input.predictor, snakemake.output[0],
           alpha=snakemake.params.alpha, model=snakemake.wildcards.model,
           names=snakemake.params.names, provenance=snakemake.params.provenance,
           log_path=snakemake.log[0])
