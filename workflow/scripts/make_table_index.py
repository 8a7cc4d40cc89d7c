from pvigroup.io import run_script
from pvigroup.tables import write_index

run_script(write_index, snakemake.params.plans, snakemake.params.provenance, snakemake.output[0],
           log_path=snakemake.log[0])
