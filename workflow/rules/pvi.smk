# PVI: g' on (x, y), the null model g on (∅, y), and one PVI row per held-out instance.
from pvigroup import baselines as bl


rule finetune_gprime:
    input:
        train="results/data/{task}/train.parquet",
        dev="results/data/{task}/dev.parquet",
        info="results/data/{task}/task.json",
        hub=hub_model_input,
    output:
        # kept when TaskEmb reads it: a temporary g' would be deleted after the PVI stage
        # (`snakemake groups`) and retrained - and the PVI rerun - by a later full run
        model_dir("results/pvi/{model}/{task}/gprime", keep=bl.reads_gprime(config)),
    log:
        "logs/pvi/{model}/{task}/finetune_gprime.log",
    benchmark:
        "benchmarks/pvi/{model}/{task}/finetune_gprime.tsv"
    conda:
        "../../envs/torch.yaml"
    # one GPU and 2 cores each, or with engine.device: cpu no GPU and 1 core (res.gpu_job)
    threads: GPU_JOB["threads"]
    resources:
        **res.rule_resources("finetune", config),
        gpu=GPU_JOB["gpu"],
    params:
        pretrained=model_pretrained,
        hparams=pvi_hparams,
    script:
        "../scripts/finetune.py"


use rule finetune_gprime as finetune_null with:
    output:
        model_dir("results/pvi/{model}/{task}/null"),
    log:
        "logs/pvi/{model}/{task}/finetune_null.log",
    benchmark:
        "benchmarks/pvi/{model}/{task}/finetune_null.tsv"


rule fit_empirical_prior:
    input:
        train="results/data/{task}/train.parquet",
        info="results/data/{task}/task.json",
    output:
        "results/pvi/{model}/{task}/prior.json",
    log:
        "logs/pvi/{model}/{task}/fit_empirical_prior.log",
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/fit_empirical_prior.py"


rule compute_pvi:
    input:
        split=pvi_split_file,
        train="results/data/{task}/train.parquet",
        info="results/data/{task}/task.json",
        gprime="results/pvi/{model}/{task}/gprime",
        null=null_model_input,
    output:
        pvi="results/pvi/{model}/{task}.parquet",
        summary="results/pvi/{model}/{task}.summary.json",
    log:
        "logs/pvi/{model}/{task}/compute_pvi.log",
    benchmark:
        "benchmarks/pvi/{model}/{task}/compute_pvi.tsv"
    conda:
        "../../envs/torch.yaml"
    # one GPU and 2 cores each, or with engine.device: cpu no GPU and 1 core (res.gpu_job)
    threads: GPU_JOB["threads"]
    resources:
        **res.rule_resources("readout", config),
        gpu=GPU_JOB["gpu"],
    params:
        split=config["pvi"]["split"],
        model_spec=model_spec,
        hparams=pvi_hparams,
        allow_collapsed=config["pvi"]["allow_collapsed"],
    script:
        "../scripts/compute_pvi.py"


# Seed variability (pvi.variability_seeds): g' and g retrained with another seed, the PVI of
# that replicate beside the main one; only vinfo.tsv reads them (the grouping uses the main seed).
use rule finetune_gprime as finetune_gprime_seed with:
    output:
        model_dir("results/pvi/{model}/seed{seed}/{task}/gprime"),
    log:
        "logs/pvi/{model}/seed{seed}/{task}/finetune_gprime.log",
    benchmark:
        "benchmarks/pvi/{model}/seed{seed}/{task}/finetune_gprime.tsv"
    params:
        pretrained=model_pretrained,
        hparams=pvi_hparams_seed,


use rule finetune_gprime_seed as finetune_null_seed with:
    output:
        model_dir("results/pvi/{model}/seed{seed}/{task}/null"),
    log:
        "logs/pvi/{model}/seed{seed}/{task}/finetune_null.log",
    benchmark:
        "benchmarks/pvi/{model}/seed{seed}/{task}/finetune_null.tsv"


use rule compute_pvi as compute_pvi_seed with:
    input:
        split=pvi_split_file,
        train="results/data/{task}/train.parquet",
        info="results/data/{task}/task.json",
        gprime="results/pvi/{model}/seed{seed}/{task}/gprime",
        null=null_model_input_seed,
    output:
        pvi="results/pvi/{model}/seed{seed}/{task}.parquet",
        summary="results/pvi/{model}/seed{seed}/{task}.summary.json",
    log:
        "logs/pvi/{model}/seed{seed}/{task}/compute_pvi.log",
    benchmark:
        "benchmarks/pvi/{model}/seed{seed}/{task}/compute_pvi.tsv"
    params:
        split=config["pvi"]["split"],
        model_spec=model_spec,
        hparams=pvi_hparams_seed,
        allow_collapsed=config["pvi"]["allow_collapsed"],
