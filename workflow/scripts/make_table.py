from pvigroup.io import run_script
from pvigroup.tables import make_table

run_script(
    make_table,
    log_path=snakemake.log[0],
    number=int(snakemake.wildcards.nn),
    inputs={k: [v] if isinstance(v, str) else list(v) for k, v in snakemake.input.items()},
    settings=snakemake.params.settings,
    prov=snakemake.params.provenance,
    csv=snakemake.output.csv,
    md=snakemake.output.md,
    tex=snakemake.output.tex,
    meta=snakemake.output.meta,
)
