from pvigroup.io import run_script
from pvigroup.stats import run_sensitivity

run_script(
    run_sensitivity,
    list(snakemake.input),
    snakemake.output.table,
    snakemake.output.summary,
    sizes=snakemake.params.sizes,
    alpha=snakemake.params.alpha,
    method=snakemake.params.method,
    group_method=snakemake.params.group_method,
    seed=snakemake.params.seed,
    max_group_size=snakemake.params.max_group_size,
    rule=snakemake.params.rule,
    size_priority=snakemake.params.size_priority,
    test=snakemake.params.test,
    tost_margin=snakemake.params.tost_margin,
    tost_variance=snakemake.params.tost_variance,
    correction=snakemake.params.correction,
    model=snakemake.wildcards.model,
    log_path=snakemake.log[0],
)
