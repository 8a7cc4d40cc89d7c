"""The estimate itself: the jobs each rule will run for a config, and their device-hours."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pvigroup import resources as res
from pvigroup import workflow as wf
from pvigroup.calibration.use import calibrated_cost
from pvigroup.errors import PvigroupError
from pvigroup.estimate.pricing import (
    TaskProfile,
    finetune_seconds,
    grid_seconds,
    readout_seconds,
    top_groups_seconds,
)
from pvigroup.estimate.report import CostEstimate, RuleCost
from pvigroup.estimate.sizes import split_sizes, token_lengths

#: Seconds a job spends outside its training steps (imports, loading weights and data, saving).
#: CPU: measured on the demo (docs/performance.md); GPU: assumed, includes CUDA start-up and
#: the graph capture of the compiled buckets.
STARTUP_SECONDS = {"gpu": 60.0, "cpu": 10.0}

#: Stage of each rule, in the order the workflow runs them.
STAGES: dict[str, str] = {
    "prepare_task": "data",
    "finetune_gprime": "pvi",
    "finetune_null": "pvi",
    "fit_empirical_prior": "pvi",
    "compute_pvi": "pvi",
    "finetune_gprime_seed": "pvi-seeds",
    "finetune_null_seed": "pvi-seeds",
    "compute_pvi_seed": "pvi-seeds",
    "pair_tests": "stats",
    "group_tests": "stats",
    "train_stl": "stl",
    "train_mtl": "mtl",
    "prompt_llm": "llm",
    "taskemb_embed": "taskemb",
    "surrogate_run": "surrogate",
    "tag_affinity": "tag",
}
GPU_RULES = ("finetune_gprime", "finetune_null", "compute_pvi", "train_stl",
             "finetune_gprime_seed", "finetune_null_seed", "compute_pvi_seed", "train_mtl",
             "taskemb_embed", "surrogate_run", "tag_affinity")
#: Above this many candidate groups the MTL bound prices every group as the costliest possible.
MAX_CANDIDATES = 20000


def _train_seconds(cost: res.ModelCost, *, gpu: bool, n_train: int, n_eval: int, epochs: int,
                   batch_size: int, max_length: int, runs: int = 1) -> float:
    """The baselines' short runs: every batch at ``max_length``, an eval pass each epoch."""
    step = (cost.gpu_step_seconds if gpu else cost.cpu_step_seconds)
    step *= batch_size * max_length / res.REF_TOKENS
    steps = math.ceil(n_train / batch_size) + math.ceil(n_eval / batch_size) / 3
    return runs * epochs * steps * step


def _enabled(config: Mapping[str, Any]) -> list[str]:
    from pvigroup.baselines import enabled_methods

    return enabled_methods(config)


def refuse_what_the_workflow_refuses(config: Mapping[str, Any]) -> None:
    """The workflow's own parse-time checks (privacy of LLM tasks), with its messages."""
    from pvigroup.llm.spec import check_privacy

    check_privacy(config["tasks"], (config.get("llm") or {}).get("models") or {})


class _Jobs:
    def __init__(self) -> None:
        self.counts: dict[str, int] = dict.fromkeys(STAGES, 0)
        self.seconds: dict[str, float] = dict.fromkeys(STAGES, 0.0)
        self.exact: dict[str, bool] = dict.fromkeys(STAGES, True)

    def add(self, rule: str, n_jobs: int, secs: float, *, exact: bool = True) -> None:
        self.counts[rule] += n_jobs
        self.seconds[rule] += secs
        self.exact[rule] = self.exact[rule] and exact


def _train_settings(config: Mapping[str, Any], tasks: Sequence[str]):
    from pvigroup.train import TrainSettings, job_settings

    overrides = {t: config["tasks"][t].get("overrides") or {} for t in tasks}
    return TrainSettings.from_params(job_settings(config["train"], list(tasks), overrides))


def _bound_seconds(group_cost, tasks: Sequence[str], sizes: Sequence[int], k: int, *,
                   disjoint: bool, startup: float, alone) -> float:
    """At most what ``k`` groups of ``sizes`` among ``tasks`` cost (each with its start-up).

    The ``k`` costliest candidates when they can be listed, else ``k`` times the costliest
    conceivable group; for disjoint groups also at most every task once (``alone``: a task's
    share of an MTL run with every grid point trained) plus ``k`` start-ups.
    """
    if k <= 0:
        return 0.0
    sizes = sorted({s for s in sizes if 2 <= s <= len(tasks)})
    if not sizes:
        return 0.0
    n_cand = sum(math.comb(len(tasks), s) for s in sizes)
    if n_cand <= MAX_CANDIDATES:
        costs = [group_cost(g) for s in sizes for g in itertools.combinations(tasks, s)]
        bound = k * startup + top_groups_seconds(costs, k)
    else:
        top = sorted(tasks, key=alone, reverse=True)[:max(sizes)]
        bound = k * (startup + sum(alone(t) for t in top))
    if disjoint:
        bound = min(bound, k * startup + sum(alone(t) for t in tasks))
    return bound


def _pvi_bounds(config: Mapping[str, Any], n_tasks: int) -> dict[str, int]:
    from pvigroup.groups import selection_bound

    return selection_bound(n_tasks, config["grouping"],
                           max_group_size=int(config["stats"]["max_group_size"]))


def _mtl(config, model, tasks, profiles, step, buckets, startup, jobs: _Jobs, workdir: Path,
         notes: list[str]) -> None:
    """MTL of the model's groups: exact for groups known now, at most the bound for the rest."""
    from pvigroup.train import mtl_targets

    sources = config["train"]["sources"]
    seeds = config["train"]["seeds"]
    grouping = config["grouping"]
    max_size = int(config["stats"]["max_group_size"])
    files = {"pvi-similar": f"results/groups/{model}/similar.tsv",
             "pvi-dissimilar": f"results/groups/{model}/dissimilar.tsv"}
    files |= {m: f"results/baselines/{m}/{model}/groups.tsv" for m in _enabled(config)}
    pending = [s for s in sources if s in files]
    known = [s for s in pending if (workdir / files[s]).exists()]
    unknown = [s for s in pending if s not in known]
    manual = wf.manual_groups_for(config, model) if "manual" in sources else []
    targets = mtl_targets([workdir / files[s] for s in known], model, seeds, groups=manual,
                          known_tasks=list(config["tasks"]), models=config["models"])
    group_ids = sorted({p.split("/")[4] for p in targets})

    # the grid of an MTL job is the same for every group of the model (only loss weights differ)
    settings = _train_settings(config, tasks)

    def cost(group) -> float:
        return grid_seconds(step, [profiles[t] for t in group], settings, buckets).seconds

    for gid in group_ids:
        jobs.add("train_mtl", len(seeds), len(seeds) * (startup + cost(wf.group_tasks(gid))),
                 exact=not unknown)
    if not unknown:
        return
    # a task's share of an MTL run with every grid point trained (an upper bound per task)
    alone_cache: dict[str, float] = {}

    def alone(t: str) -> float:
        if t not in alone_cache:
            alone_cache[t] = grid_seconds(step, [profiles[t]], settings, buckets,
                                          every_point=True).seconds
        return alone_cache[t]

    n = len(tasks)
    pvi = _pvi_bounds(config, n)
    for source in unknown:
        if source == "pvi-similar":
            k, sizes = int(pvi["similar"]), range(2, max_size + 1)
            disjoint = grouping.get("select") == "cover"
        elif source == "pvi-dissimilar":
            k = int(pvi["dissimilar"])
            disjoint = grouping.get("control") == "cover"
            sizes = (grouping.get("dissimilar_sizes") or range(2, max_size + 1)) if disjoint else [2]
            sizes = [s for s in sizes if s <= max_size]
        else:  # a baseline's greedy disjoint choice (per-size: disjoint within a size)
            section = config["baselines"][source]
            sizes = list(section["group_sizes"])
            cap = section["max_groups"]
            if section["size_priority"] == "per-size":
                for s in sizes:
                    ks = min(n // s, cap or n)
                    secs = _bound_seconds(cost, tasks, [s], ks, disjoint=True, startup=startup,
                                          alone=alone)
                    jobs.add("train_mtl", ks * len(seeds), len(seeds) * secs, exact=False)
                notes.append(f"train_mtl of {model}, {source}: at most {cap or 'n // size'} "
                             "disjoint groups per size")
                continue
            k, disjoint = min(n // min(sizes), cap or n), True
        secs = _bound_seconds(cost, tasks, sizes, k, disjoint=disjoint, startup=startup,
                              alone=alone)
        jobs.add("train_mtl", k * len(seeds), len(seeds) * secs, exact=False)
        how = ("pvigroup.groups.selection_bound" if source.startswith("pvi-")
               else f"baselines.{source}.group_sizes and max_groups")
        notes.append(f"train_mtl of {model}, {source}: at most {k} group(s) per seed "
                     f"({'disjoint' if disjoint else 'overlapping'}, of "
                     f"{', '.join(map(str, sorted(set(sizes))))} tasks; count from {how}), "
                     "priced as the costliest candidates")


def estimate(config: Mapping[str, Any], *, device: str = "gpu",
             data_dir: str | Path | None = None, workdir: str | Path = ".") -> CostEstimate:
    """Jobs and device-hours per rule for a config validated against the workflow's schema.

    Parameters
    ----------
    config : mapping
        The config after ``pvigroup.config.validate_config`` (defaults filled).
    device : {"gpu", "cpu"}
        Price training jobs with the GPU or the CPU step times of :mod:`pvigroup.resources`.
    data_dir : path
        Where prepared tasks are looked up (default ``{workdir}/results/data``): their
        ``task.json`` gives the split sizes, their parquet files the token lengths.
    workdir : path
        The workflow's working directory: local task files and, once the statistics ran, the
        group files (then MTL is counted exactly) are read relative to it.

    Raises
    ------
    PvigroupError
        What the workflow itself refuses at start-up (a private task listed for a non-local
        LLM), with the workflow's message; a bad ``device``.
    """
    from pvigroup.config import task_hparams

    if device not in ("gpu", "cpu"):
        raise PvigroupError(f"device must be gpu or cpu, got {device!r}")
    refuse_what_the_workflow_refuses(config)
    workdir = Path(workdir)
    data_dir = Path(data_dir) if data_dir is not None else workdir / "results" / "data"
    gpu = device == "gpu"
    settings = res.settings(config)
    startup = STARTUP_SECONDS[device]
    sizes, size_sources = split_sizes(config, data_dir, workdir)
    buckets = list(config["engine"]["buckets"])
    train_on = bool(config["train"]["enabled"])
    seeds = list(config["train"]["seeds"])
    finetune_null = config["pvi"]["null_model"] == "finetune"
    n_rep = len(config["pvi"].get("variability_seeds") or [])
    jobs = _Jobs()
    used_tasks: set[str] = set()
    assumptions: list[str] = []
    notes: list[str] = []
    length_sources: dict[str, list[str]] = {}
    stl_same = stl_runs = 0

    for model in sorted(config["models"]):
        tasks = wf.model_tasks(config, model)
        used_tasks.update(tasks)
        spec = config["models"][model]
        cost = res.model_cost(model, spec, settings)
        cost, source = calibrated_cost(cost, model, config, gpu=gpu, workdir=workdir)
        step = cost.gpu_step_seconds if gpu else cost.cpu_step_seconds
        # "measured on ...", "default of the size class (...)" or "resources.models... in the config"
        source = source.replace("default of the size class",
                                f"default of the {res.size_class(spec['pretrained'])} size class")
        assumptions.append(f"model {model}: {step:.4g} s per step of 32 x 128 tokens on "
                           f"{device}, {source}")
        profiles = {}
        for task in tasks:
            lengths, how = token_lengths(task, spec["pretrained"], data_dir)
            profiles[task] = TaskProfile(task, sizes[task], lengths)
            length_sources.setdefault(how if lengths is not None else "", []).append(
                f"{model}/{task}")
        for task in tasks:
            prof = profiles[task]
            hp = task_hparams(config, task, "pvi")
            fit = startup + finetune_seconds(step, prof, hp, buckets)
            null = startup + finetune_seconds(step, prof, hp, buckets, null=True)
            readout = startup + readout_seconds(step, prof, hp, config["pvi"]["split"], buckets,
                                                null_model=finetune_null)
            jobs.add("finetune_gprime", 1, fit)
            if finetune_null:
                jobs.add("finetune_null", 1, null)
            else:
                jobs.add("fit_empirical_prior", 1, 0.0)
            jobs.add("compute_pvi", 1, readout)
            if n_rep:  # seed replicates: g' (and g) retrained and read out once per extra seed
                jobs.add("finetune_gprime_seed", n_rep, n_rep * fit)
                if finetune_null:
                    jobs.add("finetune_null_seed", n_rep, n_rep * null)
                jobs.add("compute_pvi_seed", n_rep, n_rep * readout)
            if train_on:
                grid = grid_seconds(step, [prof], _train_settings(config, [task]), buckets)
                jobs.add("train_stl", len(seeds), len(seeds) * (startup + grid.seconds))
                stl_runs += grid.runs * len(seeds)
                stl_same += grid.same * len(seeds)
            if "taskemb" in _enabled(config):
                te = config["baselines"]["taskemb"]
                n_rows = sizes[task][te["split"]]
                if te["max_examples"]:
                    n_rows = min(n_rows, te["max_examples"])
                length = te["max_length"] if te["source"] == "base" else hp["max_length"]
                emb = _train_seconds(cost, gpu=gpu, n_train=n_rows, n_eval=0, epochs=1,
                                     batch_size=te["batch_size"], max_length=length)
                jobs.add("taskemb_embed", 1, startup + emb)
        # every pair test of the model in one job, every group test in another
        jobs.add("pair_tests", 1, 0.0)
        jobs.add("group_tests", int(wf.has_group_tests(config, model)), 0.0)
        if train_on:
            _mtl(config, model, tasks, profiles, step, buckets, startup, jobs, workdir, notes)
        if "surrogate" in _enabled(config):
            from pvigroup.baselines import surrogate_subsets

            sg = config["baselines"]["surrogate"]
            for subset in surrogate_subsets(config, model):
                members = subset.split("__")
                cap = sg["max_train_rows"]
                s_rows = sum(min(sizes[t]["train"], cap or sizes[t]["train"]) for t in members)
                s_dev = sum(sizes[t]["dev"] for t in members)
                t = sg["train"]
                run = _train_seconds(cost, gpu=gpu, n_train=s_rows, n_eval=s_dev,
                                     epochs=t["epochs"], batch_size=t["batch_size"],
                                     max_length=t["max_length"], runs=len(sg["seeds"]))
                jobs.add("surrogate_run", 1, startup + run)
        if "tag" in _enabled(config):
            # one MTL run over all the model's (capped) rows; the lookahead records come on top
            tg = config["baselines"]["tag"]
            cap = tg["max_train_rows"]
            t_rows = sum(min(sizes[t]["train"], cap or sizes[t]["train"]) for t in tasks)
            t_dev = sum(sizes[t]["dev"] for t in tasks)
            t = tg["train"]
            run = _train_seconds(cost, gpu=gpu, n_train=t_rows, n_eval=t_dev, epochs=t["epochs"],
                                 batch_size=t["batch_size"], max_length=t["max_length"])
            jobs.add("tag_affinity", 1, startup + run)

    from pvigroup.llm.spec import llm_jobs, needs_gpu

    llm_cfg = config.get("llm") or {}
    llm_on_gpu = any(needs_gpu(spec) for spec in (llm_cfg.get("models") or {}).values())
    for _llm, task in llm_jobs(config):
        used_tasks.add(task)
        n_prompts = sizes[task]["test"]
        if llm_cfg.get("max_test_rows"):
            n_prompts = min(n_prompts, llm_cfg["max_test_rows"])
        n_prompts *= llm_cfg.get("shot_draws", 1)
        jobs.add("prompt_llm", 1, startup + n_prompts * settings["llm_seconds_per_prompt"])
    if jobs.counts["prompt_llm"]:
        assumptions.append(f"LLM: {settings['llm_seconds_per_prompt']:g} s per prompt "
                           "(resources.llm_seconds_per_prompt)")
    jobs.counts["prepare_task"] = len(used_tasks)

    assumptions.append(f"start-up per job: {startup:g} s on {device}")
    assumptions.append("each batch priced at its length bucket (engine.buckets) from the rows' "
                       "token lengths; a read-out pass costs a third of a training pass")
    if any(jobs.counts[r] for r in ("taskemb_embed", "surrogate_run", "tag_affinity")):
        assumptions.append("baseline jobs (TaskEmb, surrogate, TAG): every batch at their "
                           "max_length, an eval pass per epoch")
    for how, where in length_sources.items():
        assumptions.append(f"token lengths from {how}: {', '.join(where)}" if how else
                           "token lengths unknown (not prepared), every row priced at its run's "
                           f"max_length: {', '.join(where)}")
    if not train_on:
        assumptions.append("train.enabled is false: no STL or MTL runs")
    elif stl_runs or stl_same:
        assumptions.append(f"train_stl: {stl_runs} grid runs trained; dev read out only at the "
                           "epochs the grid may keep, test once per job" + (
                               f"; {stl_same} runs of a larger max_length that truncates nothing "
                               "are the same run as a smaller one (priced at 0)" if stl_same
                               else ""))
    by_source: dict[str, list[str]] = {}
    for task in sorted(used_tasks):
        by_source.setdefault(size_sources[task], []).append(task)
    for src, names in by_source.items():
        assumptions.append(f"split sizes from {src}: {', '.join(names)}")
    assumptions += notes

    rules = []
    for rule, stage in STAGES.items():
        is_gpu = rule in GPU_RULES or (rule == "prompt_llm" and llm_on_gpu)
        rules.append(RuleCost(rule=rule, stage=stage, jobs=jobs.counts[rule],
                              exact=jobs.exact[rule], gpu=is_gpu,
                              hours=jobs.seconds[rule] / 3600))
    return CostEstimate(rules=rules, device=device, assumptions=assumptions)


def load_config(
    configfile: str | Path | Sequence[str | Path] | None, repo: str | Path | None = None
) -> dict[str, Any]:
    """Read, merge and validate config files as the Snakefile does (the demo config when none).

    Several files are merged in order exactly as ``snakemake --configfile A B`` merges them
    (:func:`pvigroup.configfiles.load_configfiles`).
    """
    from pvigroup.config import validate_config
    from pvigroup.configfiles import load_configfiles

    repo = Path(repo) if repo else Path.cwd()
    if configfile is None:
        paths = [repo / "config" / "config.yaml"]
    elif isinstance(configfile, (str, Path)):
        paths = [Path(configfile)]
    else:
        paths = [Path(p) for p in configfile]
    schema = repo / "workflow" / "schemas" / "config.schema.yaml"
    if not schema.exists():
        schema = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "config.schema.yaml"
    config = load_configfiles(paths)
    validate_config(config, schema, where=", ".join(map(str, paths)))
    return config
