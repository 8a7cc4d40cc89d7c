from pvigroup.diagnostics import task_diagnostics
from pvigroup.io import run_script

run_script(task_diagnostics, snakemake.input.pvi, snakemake.input.split, snakemake.input.info,
           snakemake.output.suspects, snakemake.output.summary, model=snakemake.wildcards.model,
           max_rows=snakemake.params.max_rows, max_pvi=snakemake.params.max_pvi,
           text_chars=snakemake.params.text_chars,
           flip_records={k.removeprefix("flips_"): v for k, v in snakemake.input.items()
                         if k.startswith("flips_")},
           log_path=snakemake.log[0])
