# Module-level settings and input/param functions of baselines.smk.
from pvigroup import baselines as bl

BASELINE_METHODS = bl.enabled_methods(config)
if "surrogate" in BASELINE_METHODS:
    # the budget, before anything trains (one line per model)
    SURROGATE_SUBSETS = {m: bl.surrogate_subsets(config, m) for m in MODELS}
    for _m, _subsets in SURROGATE_SUBSETS.items():
        _runs = len(_subsets) * len(config["baselines"]["surrogate"]["seeds"])
        logger.info(f"pvigroup: surrogate baseline for {_m}: {len(_subsets)} subsets, {_runs} runs")
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
        split: [f"results/data/{t}/{split}.parquet" for t in tasks] for split in ("train", "dev")
    } | {"info": [f"results/data/{t}/task.json" for t in tasks]}


def surrogate_runs(wildcards):
    return [
        f"results/baselines/surrogate/{wildcards.model}/runs/{s}.json"
        for s in SURROGATE_SUBSETS[wildcards.model]
    ]


def tag_input(wildcards):
    """Train and dev splits and task.json of every task of the model (one TAG run over all)."""
    tasks = wf.model_tasks(config, wildcards.model)
    return {
        split: [f"results/data/{t}/{split}.parquet" for t in tasks] for split in ("train", "dev")
    } | {"info": [f"results/data/{t}/task.json" for t in tasks]}


def baseline_matrix(wildcards):
    return bl.matrix_file(wildcards.method, wildcards.model)


def baseline_group_params(wildcards):
    return bl.group_settings(config, wildcards.method)


def model_task_list(wildcards):
    return wf.model_tasks(config, wildcards.model)
