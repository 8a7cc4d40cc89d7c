from pvigroup.io import run_script
from pvigroup.train import train_mtl

run_script(
    train_mtl,
    list(snakemake.input.info),
    snakemake.output.metrics,
    snakemake.output.predictions,
    snakemake.output.model,
    group=snakemake.wildcards.group,
    model=snakemake.wildcards.model,
    seed=int(snakemake.wildcards.seed),
    pretrained=snakemake.params.model["pretrained"],
    train=snakemake.params.train,
    engine=snakemake.config["engine"],
    log_path=snakemake.log[0],
)
