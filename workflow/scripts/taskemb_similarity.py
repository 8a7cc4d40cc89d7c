from pvigroup.baselines.taskemb import taskemb_similarity
from pvigroup.io import run_script

run_script(taskemb_similarity, list(snakemake.input), snakemake.output[0], log_path=snakemake.log[0])
