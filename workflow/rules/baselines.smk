# Baseline groupings (Tables 11-14), see docs/baselines.md.
#   TaskEmb:   one taskemb_embed job per task -> taskemb_similarity -> baseline_groups
#   surrogate: one surrogate_run job per sampled subset -> surrogate_fit -> baseline_groups
# baseline_groups is a checkpoint: train.smk reads its groups.tsv to schedule the MTL runs of
# the methods listed in train.sources. baselines_compare / baselines_beat_stl read the
# collected training table.
from pvigroup import baselines as bl

BASELINE_METHODS = bl.enabled_methods(config)
if "surrogate" in BASELINE_METHODS:
    # the budget, before anything trains (one line per model)
    SURROGATE_SUBSETS = {m: bl.surrogate_subsets(config, m) for m in MODELS}
    for _m, _subsets in SURROGATE_SUBSETS.items():
        _runs = len(_subsets) * len(config["baselines"]["surrogate"]["seeds"])
        logger.info(
            f"pvigroup: surrogate baseline for {_m}: {len(_subsets)} subsets, {_runs} runs"
        )
else:
    SURROGATE_SUBSETS = {m: [] for m in MODELS}


localrules:
    taskemb_similarity,
    baseline_groups,
    baselines_compare,
    baselines_beat_stl,


def baselines_all_targets(wildcards):
    return [p for m in MODELS for p in bl.baseline_targets(config, m)]


EXTRA_TARGETS.append(baselines_all_targets)


def taskemb_input(wildcards):
    """The task's split and task.json, and its g' when the embedding is read from g'."""
    split = config["baselines"]["taskemb"]["split"]
    files = {
        "rows": f"results/data/{wildcards.task}/{split}.parquet",
        "info": f"results/data/{wildcards.task}/task.json",
    }
    if config["baselines"]["taskemb"]["source"] == "gprime":
        files["gprime"] = f"results/pvi/{wildcards.model}/{wildcards.task}/gprime"
    return files


def taskemb_embeddings(wildcards):
    return bl.taskemb_embedding_files(config, wildcards.model)


def surrogate_input(wildcards):
    tasks = wf.group_tasks(wildcards.subset)
    return {
        split: [f"results/data/{t}/{split}.parquet" for t in tasks]
        for split in ("train", "dev")
    } | {"info": [f"results/data/{t}/task.json" for t in tasks]}


def surrogate_runs(wildcards):
    return [
        f"results/baselines/surrogate/{wildcards.model}/runs/{s}.json"
        for s in SURROGATE_SUBSETS[wildcards.model]
    ]


def baseline_matrix(wildcards):
    return bl.matrix_file(wildcards.method, wildcards.model)


def baseline_group_params(wildcards):
    return bl.group_settings(config, wildcards.method)


def model_task_list(wildcards):
    return wf.model_tasks(config, wildcards.model)


rule taskemb_embed:
    input:
        unpack(taskemb_input),
    output:
        embedding="results/baselines/taskemb/{model}/{task}.npy",
        meta="results/baselines/taskemb/{model}/{task}.json",
    log:
        "logs/baselines/taskemb/{model}/{task}/taskemb_embed.log",
    benchmark:
        "benchmarks/baselines/taskemb/{model}/{task}/taskemb_embed.tsv"
    conda:
        "../../envs/torch.yaml"
    # GPU jobs run one at a time on a workstation (profiles/default): on a CPU-only machine
    # they use two cores each instead of one
    threads: 2
    resources:
        gpu=1,
        runtime=60,
    params:
        settings=bl.taskemb_settings(config),
        pretrained=model_pretrained,
        engine=config["engine"],
    script:
        "../scripts/taskemb_embed.py"


rule taskemb_similarity:
    input:
        taskemb_embeddings,
    output:
        "results/baselines/taskemb/{model}/similarity.tsv",
    log:
        "logs/baselines/taskemb/{model}/taskemb_similarity.log",
    benchmark:
        "benchmarks/baselines/taskemb/{model}/taskemb_similarity.tsv"
    conda:
        "../../envs/stats.yaml"
    script:
        "../scripts/taskemb_similarity.py"


rule surrogate_run:
    input:
        unpack(surrogate_input),
    output:
        "results/baselines/surrogate/{model}/runs/{subset}.json",
    log:
        "logs/baselines/surrogate/{model}/runs/{subset}/surrogate_run.log",
    benchmark:
        "benchmarks/baselines/surrogate/{model}/runs/{subset}/surrogate_run.tsv"
    wildcard_constraints:
        subset=rf"(?:{wf.one_of(TASKS)})(?:__(?:{wf.one_of(TASKS)}))+",
    conda:
        "../../envs/torch.yaml"
    # GPU jobs run one at a time on a workstation (profiles/default): on a CPU-only machine
    # they use two cores each instead of one
    threads: 2
    resources:
        gpu=1,
        runtime=120,
    params:
        settings=bl.surrogate_run_settings(config),
        pretrained=model_pretrained,
        engine=config["engine"],
    script:
        "../scripts/surrogate_run.py"


rule surrogate_fit:
    input:
        surrogate_runs,
    output:
        affinity="results/baselines/surrogate/{model}/affinity.tsv",
        coefficients="results/baselines/surrogate/{model}/coefficients.tsv",
    log:
        "logs/baselines/surrogate/{model}/surrogate_fit.log",
    benchmark:
        "benchmarks/baselines/surrogate/{model}/surrogate_fit.tsv"
    conda:
        "../../envs/stats.yaml"
    resources:
        runtime=10,
    params:
        settings=(
            bl.surrogate_fit_settings(config)
            if "surrogate" in BASELINE_METHODS
            else {}
        ),
        tasks=model_task_list,
    script:
        "../scripts/surrogate_fit.py"


checkpoint baseline_groups:
    input:
        baseline_matrix,
    output:
        "results/baselines/{method}/{model}/groups.tsv",
    log:
        "logs/baselines/{method}/{model}/baseline_groups.log",
    benchmark:
        "benchmarks/baselines/{method}/{model}/baseline_groups.tsv"
    wildcard_constraints:
        method="taskemb|surrogate",
    conda:
        "../../envs/stats.yaml"
    params:
        settings=baseline_group_params,
    script:
        "../scripts/baseline_groups.py"


rule baselines_compare:
    input:
        "results/train/{model}/aggregate.tsv",
    output:
        "results/baselines/{method}/{model}/comparison.tsv",
    log:
        "logs/baselines/{method}/{model}/baselines_compare.log",
    benchmark:
        "benchmarks/baselines/{method}/{model}/baselines_compare.tsv"
    wildcard_constraints:
        method="taskemb|surrogate",
    conda:
        "../../envs/stats.yaml"
    script:
        "../scripts/baselines_compare.py"


rule baselines_beat_stl:
    input:
        "results/train/{model}/aggregate.tsv",
    output:
        "results/baselines/{model}/beat_stl.tsv",
    log:
        "logs/baselines/{model}/baselines_beat_stl.log",
    benchmark:
        "benchmarks/baselines/{model}/baselines_beat_stl.tsv"
    conda:
        "../../envs/stats.yaml"
    script:
        "../scripts/baselines_beat_stl.py"
