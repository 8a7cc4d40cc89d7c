from pvigroup.io import run_script
from pvigroup.plots import plot_vinfo

run_script(
    plot_vinfo,
    snakemake.input[0],
    snakemake.output[0],
    model=snakemake.wildcards.model,
    names=snakemake.params.names,
    provenance=snakemake.params.provenance,
    log_path=snakemake.log[0],
)
