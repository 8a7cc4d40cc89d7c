from pvigroup.io import run_script
from pvigroup.tables import paper_comparison

inputs = {k: [v] if isinstance(v, str) else list(v) for k, v in snakemake.input.items()}
run_script(
    paper_comparison,
    log_path=snakemake.log[0],
    tables=dict(zip(snakemake.params.settings["tables"], inputs.get("tables", []), strict=True)),
    tests={"pairs": inputs.get("pairs", []), "triples": inputs.get("triples", [])},
    settings=snakemake.params.settings,
    prov=snakemake.params.provenance,
    out=snakemake.output[0],
)
