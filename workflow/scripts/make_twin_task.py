from pvigroup.demo import make_noisy_twin
from pvigroup.io import run_script

run_script(
    make_noisy_twin,
    snakemake.input[0],
    snakemake.output.csv,
    noise=int(snakemake.wildcards.noise) / 100,
    seed=42,
    part=int(snakemake.wildcards.part),
    parts=int(snakemake.wildcards.parts),
    flipped_tsv=snakemake.output.flipped,
    log_path=snakemake.log[0],
)
