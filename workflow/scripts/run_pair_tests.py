from pvigroup.io import run_script
from pvigroup.stats import StatsSettings, run_pair_tests

run_script(
    run_pair_tests,
    list(snakemake.input),
    snakemake.output[0],
    StatsSettings.from_params(snakemake.params.settings),
    model=snakemake.wildcards.model,
    log_path=snakemake.log[0],
)
