from pvigroup.io import run_script
from pvigroup.stats import StatsSettings, run_sensitivity

run_script(
    run_sensitivity,
    list(snakemake.input),
    snakemake.output.table,
    snakemake.output.summary,
    StatsSettings.from_params(snakemake.params.settings),
    model=snakemake.wildcards.model,
    log_path=snakemake.log[0],
)
