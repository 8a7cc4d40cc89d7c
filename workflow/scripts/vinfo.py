from pvigroup.io import run_script
from pvigroup.stats import run_vinfo

run_script(
    run_vinfo,
    list(snakemake.input.main),
    snakemake.output[0],
    resamples=snakemake.params.resamples,
    seed=snakemake.params.seed,
    model=snakemake.wildcards.model,
    replicate_files=list(snakemake.input.seeds),
    main_seeds=snakemake.params.main_seeds,
    log_path=snakemake.log[0],
)
