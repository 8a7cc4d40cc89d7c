from pvigroup.io import run_script
from pvigroup.train import train_stl

run_script(
    train_stl,
    snakemake.input.info,
    snakemake.output.metrics,
    snakemake.output.predictions,
    snakemake.output.model,
    task=snakemake.wildcards.task,
    model=snakemake.wildcards.model,
    seed=int(snakemake.wildcards.seed),
    pretrained=snakemake.params.model["pretrained"],
    train=snakemake.params.train,
    engine=snakemake.config["engine"],
    log_path=snakemake.log[0],
)
