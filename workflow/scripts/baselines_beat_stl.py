from pvigroup.baselines.compare import beat_stl
from pvigroup.io import run_script

run_script(beat_stl, snakemake.input[0], snakemake.output[0], log_path=snakemake.log[0])
