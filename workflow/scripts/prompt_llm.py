from pvigroup.io import run_script
from pvigroup.llm import prompt_llm

run_script(
    prompt_llm,
    train=snakemake.input.train,
    test=snakemake.input.test,
    task_json=snakemake.input.info,
    llm=snakemake.wildcards.llm,
    llm_cfg=snakemake.params.llm,
    options=snakemake.params.options,
    task_cfg=snakemake.params.task,
    predictions=snakemake.output.predictions,
    metrics=snakemake.output.metrics,
    threads=snakemake.threads,
    log_path=snakemake.log[0],
)
