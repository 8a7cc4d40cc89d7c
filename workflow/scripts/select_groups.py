from pvigroup.groups import StatsSettings, write_groups
from pvigroup.io import run_script

run_script(
    write_groups,
    snakemake.input.pairs,
    snakemake.input.get("triples"),
    snakemake.output.similar,
    snakemake.output.dissimilar,
    StatsSettings.from_params(snakemake.params.settings),
    log_path=snakemake.log[0],
)
