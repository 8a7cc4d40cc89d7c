from pvigroup.io import run_script
from pvigroup.plots import plot_stl_mtl

run_script(plot_stl_mtl, snakemake.input[0], snakemake.output[0], model=snakemake.wildcards.model,
           names=snakemake.params.names, log_path=snakemake.log[0])
