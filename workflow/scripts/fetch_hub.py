from pvigroup import hub
from pvigroup.io import run_script

if snakemake.rule == "fetch_hub_dataset":
    run_script(hub.fetch_dataset, snakemake.wildcards.task, snakemake.params.task,
               snakemake.output[0], log_path=snakemake.log[0])
else:
    run_script(hub.fetch_model, snakemake.params.repo, snakemake.output[0],
               model=snakemake.wildcards.get("model") or snakemake.wildcards.get("llm"),
               extra_files=snakemake.params.get("files") or None, log_path=snakemake.log[0])
