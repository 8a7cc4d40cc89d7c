from pvigroup.calibration import calibrate
from pvigroup.io import run_script

run_script(
    calibrate,
    snakemake.wildcards.model,
    snakemake.output[0],
    pretrained=snakemake.params.pretrained,
    config=snakemake.config,
    engine=snakemake.config["engine"],
    log_path=snakemake.log[0],
)
