# Input and param functions of the train stage (train.smk); the logic is in pvigroup.train.
from pvigroup import baselines as bl
from pvigroup import train as tr


def train_stl_params(wildcards):
    """This task's slice of train: (its overrides; no seeds, no other task's settings)."""
    task = wildcards.task
    return tr.job_settings(
        config["train"], [task], {task: config["tasks"][task].get("overrides") or {}}
    )


def train_mtl_params(wildcards):
    """This group's slice of train: (its tasks' loss weights only)."""
    return tr.job_settings(config["train"], wf.group_tasks(wildcards.group))


def train_model_params(wildcards):
    """The model's pretrained spec and family only (not its task list)."""
    spec = config["models"][wildcards.model]
    return {"pretrained": spec["pretrained"], "family": spec.get("family", "")}


def mtl_data(wildcards):
    """The prepared splits and task.json of every task of the group."""
    tasks = wf.group_tasks(wildcards.group)
    return {
        split: [f"results/data/{t}/{split}.parquet" for t in tasks]
        for split in ("train", "dev", "test")
    } | {"info": [f"results/data/{t}/task.json" for t in tasks]}


def train_group_files(wildcards):
    """Group files (checkpoint outputs) whose groups get MTL runs: train.sources, baselines on."""
    sources = config["train"]["sources"]
    files = []
    if {"pvi-similar", "pvi-dissimilar"} & set(sources):
        out = checkpoints.select_groups.get(model=wildcards.model).output
        files += [out.similar] if "pvi-similar" in sources else []
        files += [out.dissimilar] if "pvi-dissimilar" in sources else []
    for method in bl.enabled_methods(config):
        if method in sources:
            out = checkpoints.baseline_groups.get(method=method, model=wildcards.model)
            files.append(out.output[0])
    return files


def collect_train_input(wildcards):
    model, seeds = wildcards.model, config["train"]["seeds"]
    group_files = train_group_files(wildcards)
    manual = []
    if "manual" in config["train"]["sources"]:
        manual = wf.manual_groups_for(config, model)
        group_files = group_files + [f"results/groups/{model}/manual.tsv"]
    return {
        "stl": tr.stl_targets(wf.model_tasks(config, model), model, seeds),
        "mtl": tr.mtl_targets(
            [f for f in group_files if not f.endswith("manual.tsv")],
            model,
            seeds,
            groups=manual,
            known_tasks=TASKS,
            models=config["models"],
        ),
        "groups": group_files,
    }


def train_targets(wildcards):
    """The collected tables, and the STL runs (known before the checkpoint, so they can start
    while the statistics run); none with train.enabled: false."""
    if not config["train"]["enabled"]:
        return []
    seeds = config["train"]["seeds"]
    return [
        f"results/train/{m}/{name}.tsv"
        for m in MODELS
        for name in ("summary", "aggregate", "mtl_vs_stl")
    ] + [p for m in MODELS for p in tr.stl_targets(wf.model_tasks(config, m), m, seeds)]


EXTRA_TARGETS.append(train_targets)
