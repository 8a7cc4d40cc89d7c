# calibrate: measure the configured models on this machine's (or the cluster's) GPUs before a
# run. One short job per model key writes results/calibration/{model}.json; once these exist,
# `pvigroup estimate` and the runtime/mem_mb of every GPU rule use them (docs/cluster.md).
from pvigroup.calibration import calibrate_resources


localrules:
    calibrate,


rule calibrate:
    input:
        expand("results/calibration/{model}.json", model=MODELS),


rule calibrate_model:
    input:
        hub=hub_model_input,
    output:
        "results/calibration/{model}.json",
    log:
        "logs/calibration/{model}.log",
    benchmark:
        "benchmarks/calibration/{model}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: GPU_JOB["threads"]
    resources:
        **calibrate_resources(config),
        gpu=GPU_JOB["gpu"],
    params:
        pretrained=model_pretrained,
        calibrate=config["calibrate"],
    script:
        "../scripts/calibrate.py"
