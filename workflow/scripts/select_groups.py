from pvigroup.groups import write_groups
from pvigroup.io import run_script

run_script(
    write_groups,
    snakemake.input.pairs,
    snakemake.input.get("triples"),
    snakemake.output.similar,
    snakemake.output.dissimilar,
    alpha=snakemake.params.alpha,
    rule=snakemake.params.rule,
    test=snakemake.params.test,
    size_priority=snakemake.params.size_priority,
    dissimilar_sizes=snakemake.params.dissimilar_sizes,
    max_dissimilar=snakemake.params.max_dissimilar,
    select=snakemake.params.select,
    control=snakemake.params.control,
    max_groups=snakemake.params.max_groups,
    log_path=snakemake.log[0],
)
