from pvigroup.io import run_script
from pvigroup.plots import plot_pvi_forest

run_script(
    plot_pvi_forest,
    snakemake.input[0],
    snakemake.output[0],
    margin=snakemake.params.margin,
    alpha=snakemake.params.alpha,
    model=snakemake.wildcards.model,
    names=snakemake.params.names,
    provenance=snakemake.params.provenance,
    log_path=snakemake.log[0],
)
