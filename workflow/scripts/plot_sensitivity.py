from pvigroup.io import run_script
from pvigroup.plots import plot_sensitivity

run_script(
    plot_sensitivity,
    snakemake.input[0],
    snakemake.output[0],
    alpha=snakemake.params.alpha,
    model=snakemake.wildcards.model,
    names=snakemake.params.names,
    provenance=snakemake.params.provenance,
    log_path=snakemake.log[0],
)
