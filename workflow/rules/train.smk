# STL and MTL training: every task alone, and every accepted group with hard parameter sharing,
# one job per seed; then seed aggregation with t-intervals and the paired MTL - STL comparison.
# The MTL groups are known only after the checkpoint select_groups (and the baselines' group
# checkpoint, when the workflow defines one), so the collect rule's input is a function.


include: "train_inputs.smk"


# `snakemake train`: STL, MTL and the collected tables of every model, without the LLM, baseline
# and table stages (the PVI stage and the grouping run first, as the MTL groups need them).
rule train:
    input:
        train_targets,
    localrule: True


rule train_stl:
    input:
        train="results/data/{task}/train.parquet",
        dev="results/data/{task}/dev.parquet",
        test="results/data/{task}/test.parquet",
        info="results/data/{task}/task.json",
        hub=hub_model_input,
    output:
        metrics="results/train/{model}/stl/{task}/seed{seed}/metrics.json",
        predictions="results/train/{model}/stl/{task}/seed{seed}/predictions.parquet",
        model=model_dir("results/train/{model}/stl/{task}/seed{seed}/model"),
    log:
        "logs/train/{model}/stl/{task}/seed{seed}/train_stl.log",
    benchmark:
        "benchmarks/train/{model}/stl/{task}/seed{seed}/train_stl.tsv"
    conda:
        "../../envs/torch.yaml"
    # one GPU and 2 cores each, or with engine.device: cpu no GPU and 1 core (res.gpu_job)
    threads: GPU_JOB["threads"]
    resources:
        **res.rule_resources("stl", config),
        gpu=GPU_JOB["gpu"],
    params:
        train=train_stl_params,
        model=train_model_params,
    script:
        "../scripts/train_stl.py"


rule train_mtl:
    input:
        unpack(mtl_data),
        hub=hub_model_input,
    output:
        metrics="results/train/{model}/mtl/{group}/seed{seed}/metrics.json",
        predictions="results/train/{model}/mtl/{group}/seed{seed}/predictions.parquet",
        model=model_dir("results/train/{model}/mtl/{group}/seed{seed}/model"),
    log:
        "logs/train/{model}/mtl/{group}/seed{seed}/train_mtl.log",
    benchmark:
        "benchmarks/train/{model}/mtl/{group}/seed{seed}/train_mtl.tsv"
    wildcard_constraints:
        group=rf"(?:{wf.one_of(TASKS)})(?:__(?:{wf.one_of(TASKS)}))+",
    conda:
        "../../envs/torch.yaml"
    # one GPU and 2 cores each, or with engine.device: cpu no GPU and 1 core (res.gpu_job)
    threads: GPU_JOB["threads"]
    resources:
        **res.rule_resources("mtl", config),
        gpu=GPU_JOB["gpu"],
    params:
        train=train_mtl_params,
        model=train_model_params,
    script:
        "../scripts/train_mtl.py"


rule collect_train:
    input:
        unpack(collect_train_input),
    output:
        summary="results/train/{model}/summary.tsv",
        aggregate="results/train/{model}/aggregate.tsv",
        comparison="results/train/{model}/mtl_vs_stl.tsv",
    log:
        "logs/train/{model}/collect_train.log",
    benchmark:
        "benchmarks/train/{model}/collect_train.tsv"
    localrule: True
    conda:
        "../../envs/stats.yaml"
    params:
        ci_level=config["train"]["ci_level"],
    script:
        "../scripts/collect_train.py"
