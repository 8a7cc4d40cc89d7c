"""What a configured run will cost, before anything trains: jobs per stage and device-hours.

:func:`estimate` counts the jobs each rule will run for a validated config, the way the workflow
enumerates them (one g′, g and read-out per model and task, one test per pair and triple, one STL
run per task and seed, one LLM job per LLM and task, one TaskEmb job per task, one surrogate run
per sampled subset), and prices each job with the step-time model of :mod:`pvigroup.resources`:

    seconds = startup + runs × epochs × (⌈n_train / batch⌉ + ⌈n_eval / batch⌉ / 3) × step

where ``step`` is the device's seconds per optimizer step of the reference batch (32 sequences of
128 tokens), scaled by the job's batch size × max length. The MTL runs depend on the groups, which
exist only after the statistics: their count and hours are an upper bound (the groups of a source
are disjoint, so one source trains at most every task's rows once per seed).

Split sizes come from ``results/data/{task}/task.json`` once prepared, else from the paper's
Table 9 for the paper's task ids, else from ``max_rows`` or ``resources.default_rows``. Each row
of the result says where its numbers came from (:attr:`CostEstimate.assumptions`).

``pvigroup estimate [--configfile FILE]`` prints it; ``bench/`` and docs/performance.md say how
to measure a step time on your own hardware and set it under ``resources.models``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pvigroup import resources as res
from pvigroup.errors import PvigroupError
from pvigroup.workflow import model_tasks

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
    "pair_test": "stats",
    "triple_test": "stats",
    "train_stl": "stl",
    "train_mtl": "mtl",
    "prompt_llm": "llm",
    "taskemb_embed": "taskemb",
    "surrogate_run": "surrogate",
    "tag_affinity": "tag",
}


@dataclass(frozen=True)
class RuleCost:
    """The jobs of one rule and what they cost.

    Attributes
    ----------
    rule, stage : str
        Snakemake rule name and workflow stage.
    jobs : int
        Number of jobs; for ``train_mtl`` an upper bound (see ``exact``).
    exact : bool
        False when the count depends on groups not known before the statistics run.
    gpu : bool
        Whether the job asks for a GPU (``resources: gpu=1``).
    hours : float
        Estimated device-hours of all the jobs (GPU-hours for GPU rules, CPU-node hours else).
    """

    rule: str
    stage: str
    jobs: int
    exact: bool
    gpu: bool
    hours: float


@dataclass
class CostEstimate:
    """The estimate of one config: a row per rule, plus the assumptions behind the hours.

    Attributes
    ----------
    rules : list of RuleCost
    device : str
        ``gpu`` or ``cpu``: which step times price the training jobs.
    assumptions : list of str
        One line per number the hours rest on, with its source.
    """

    rules: list[RuleCost]
    device: str
    assumptions: list[str] = field(default_factory=list)

    def job_counts(self, *, exact_only: bool = True) -> dict[str, int]:
        """``{rule: jobs}`` for rules with at least one job (exact counts only by default)."""
        return {r.rule: r.jobs for r in self.rules if r.jobs and (r.exact or not exact_only)}

    def frame(self) -> pd.DataFrame:
        """One row per rule: stage, rule, jobs, exact, gpu, hours."""
        return pd.DataFrame([vars(r) for r in self.rules])

    def by_stage(self) -> pd.DataFrame:
        """GPU jobs and hours per stage (``jobs`` of MTL are an upper bound: ``exact`` False)."""
        df = self.frame()
        g = df.groupby("stage", sort=False)
        return pd.DataFrame({
            "jobs": g["jobs"].sum(),
            "gpu_jobs": g.apply(lambda d: int(d.loc[d["gpu"], "jobs"].sum()), include_groups=False),
            "hours": g["hours"].sum(),
            "exact": g["exact"].all(),
        }).reset_index()

    @property
    def gpu_hours(self) -> float:
        return float(sum(r.hours for r in self.rules if r.gpu))

    def to_text(self) -> str:
        """The printed report: a table per stage, totals, then the assumptions."""
        unit = "GPU-h" if self.device == "gpu" else "CPU-h"
        lines = [f"{'stage':<10} {'rule':<20} {'jobs':>7} {'GPU':>4} {unit:>9}"]
        for r in self.rules:
            if not r.jobs:
                continue
            jobs = f"{r.jobs}" if r.exact else f"<={r.jobs}"
            lines.append(f"{r.stage:<10} {r.rule:<20} {jobs:>7} {'yes' if r.gpu else '':>4} "
                         f"{r.hours:>9.2f}")
        lines.append("")
        for _, s in self.by_stage().iterrows():
            if not s["jobs"]:
                continue
            bound = "" if s["exact"] else " (upper bound: groups are known after the statistics)"
            kind = "GPU jobs" if self.device == "gpu" else "model jobs"
            lines.append(f"stage {s['stage']:<10} {int(s['gpu_jobs']):>5} {kind} "
                         f"{s['hours']:>9.2f} {unit}{bound}")
        exact = sum(r.hours for r in self.rules if r.gpu and r.exact)
        lines.append(f"total: {exact:.1f} {unit} before MTL, at most {self.gpu_hours:.1f} {unit} "
                     "with MTL")
        lines.append("")
        lines.append("assumptions:")
        lines += [f"  - {a}" for a in self.assumptions]
        return "\n".join(lines)


# --------------------------------------------------------------------------- sizes and prices
def _paper_sizes() -> dict[str, dict[str, int]]:
    from pvigroup.tables import paper_frame

    t9 = paper_frame(9)
    return {r.task: {"train": int(r.train), "dev": int(r.dev), "test": int(r.test)}
            for r in t9.itertuples()}


def split_sizes(config: Mapping[str, Any], data_dir: str | Path = "results/data"
                ) -> tuple[dict[str, dict[str, int]], dict[str, str]]:
    """``({task: {train, dev, test}}, {task: source of the sizes})`` for every configured task."""
    paper = _paper_sizes()
    sizes, sources = {}, {}
    for task in sorted(config["tasks"]):
        prepared = Path(data_dir) / task / "task.json"
        max_rows = {k: v for k, v in (config["tasks"][task].get("max_rows") or {}).items()
                    if k in ("train", "dev", "test") and v}
        if prepared.exists():
            sizes[task] = res.task_rows(task, config, data_dir)
            sources[task] = f"the prepared {Path(data_dir) / '<task>' / 'task.json'}"
        elif task in paper:
            sizes[task] = {s: min(n, max_rows.get(s) or n) for s, n in paper[task].items()}
            sources[task] = "paper Table 9" + (" capped by max_rows" if max_rows else "")
        else:
            sizes[task] = res.task_rows(task, config, data_dir)
            sources[task] = "max_rows" if max_rows else "resources.default_rows"
    return sizes, sources


def _train_seconds(cost: res.ModelCost, *, gpu: bool, n_train: int, n_eval: int, epochs: int,
                   batch_size: int, max_length: int, runs: int = 1) -> float:
    step = (cost.gpu_step_seconds if gpu else cost.cpu_step_seconds)
    step *= batch_size * max_length / res.REF_TOKENS
    steps = math.ceil(n_train / batch_size) + math.ceil(n_eval / batch_size) / 3
    return runs * epochs * steps * step


def _hp(config: Mapping[str, Any], kind: str, task: str | None = None) -> dict[str, int]:
    return res.train_hparams(config, kind, task)


# --------------------------------------------------------------------------- the estimate
def estimate(config: Mapping[str, Any], *, device: str = "gpu",
             data_dir: str | Path = "results/data") -> CostEstimate:
    """Jobs and device-hours per rule for a config validated against the workflow's schema.

    Parameters
    ----------
    config : mapping
        The config after ``pvigroup.config.validate_config`` (defaults filled).
    device : {"gpu", "cpu"}
        Price training jobs with the GPU or the CPU step times of :mod:`pvigroup.resources`.
    data_dir : path
        Where prepared tasks are looked up (their ``task.json`` gives the real split sizes).
    """
    if device not in ("gpu", "cpu"):
        raise PvigroupError(f"device must be gpu or cpu, got {device!r}")
    gpu = device == "gpu"
    settings = res.settings(config)
    startup = STARTUP_SECONDS[device]
    sizes, size_sources = split_sizes(config, data_dir)
    seeds = list(config["train"]["seeds"])
    sources = set(config["train"]["sources"])
    counts: dict[str, int] = dict.fromkeys(STAGES, 0)
    seconds: dict[str, float] = dict.fromkeys(STAGES, 0.0)
    mtl_bound = 0
    used_tasks: set[str] = set()
    assumptions = []

    def add(rule: str, n_jobs: int, secs: float) -> None:
        counts[rule] += n_jobs
        seconds[rule] += secs

    for model in sorted(config["models"]):
        tasks = model_tasks(config, model)
        used_tasks.update(tasks)
        cost = res.model_cost(model, config["models"][model], settings)
        step = cost.gpu_step_seconds if gpu else cost.cpu_step_seconds
        assumptions.append(f"model {model}: {step:g} s per step of 32 x 128 tokens on {device} "
                           f"({res.size_class(config['models'][model]['pretrained'])} size class"
                           " of pvigroup.resources.SIZES unless resources.models sets it)")
        n = len(tasks)
        for task in tasks:
            rows = sizes[task]
            hp = _hp(config, "finetune", task)
            fit = _train_seconds(cost, gpu=gpu, n_train=rows["train"], n_eval=rows["dev"],
                                 epochs=hp["epochs"], batch_size=hp["batch_size"],
                                 max_length=hp["max_length"])
            add("finetune_gprime", 1, startup + fit)
            if config["pvi"]["null_model"] == "finetune":
                # g reads the empty input: its batches are the shortest bucket
                short = min([hp["max_length"], *(config["engine"].get("buckets") or [16])])
                null = fit * short / hp["max_length"]
                add("finetune_null", 1, startup + null)
            else:
                add("fit_empirical_prior", 1, 0.0)
            readout = _train_seconds(cost, gpu=gpu, n_train=0, n_eval=2 * rows[config["pvi"]["split"]],
                                     epochs=1, batch_size=hp["batch_size"],
                                     max_length=hp["max_length"])
            add("compute_pvi", 1, startup + readout)
            n_rep = len(config["pvi"].get("variability_seeds") or [])
            if n_rep:  # seed replicates: g' (and g) retrained and read out once per extra seed
                add("finetune_gprime_seed", n_rep, n_rep * (startup + fit))
                if config["pvi"]["null_model"] == "finetune":
                    add("finetune_null_seed", n_rep, n_rep * (startup + null))
                add("compute_pvi_seed", n_rep, n_rep * (startup + readout))
            st = _hp(config, "stl")
            stl = _train_seconds(cost, gpu=gpu, n_train=rows["train"],
                                 n_eval=rows["dev"] + rows["test"], epochs=st["epochs"],
                                 batch_size=st["batch_size"], max_length=st["max_length"],
                                 runs=st["runs"])
            add("train_stl", len(seeds), len(seeds) * (startup + stl))
            if "taskemb" in _enabled(config):
                te = config["baselines"]["taskemb"]
                n_rows = rows[te["split"]]
                if te["max_examples"]:
                    n_rows = min(n_rows, te["max_examples"])
                length = te["max_length"] if te["source"] == "base" else hp["max_length"]
                emb = _train_seconds(cost, gpu=gpu, n_train=n_rows, n_eval=0, epochs=1,
                                     batch_size=te["batch_size"], max_length=length)
                add("taskemb_embed", 1, startup + emb)
        max_size = config["stats"]["max_group_size"]
        add("pair_test", math.comb(n, 2), 0.0)
        add("triple_test", sum(math.comb(n, k) for k in range(3, max_size + 1)), 0.0)
        # MTL: every source's groups are disjoint; bound = all rows once per source and seed
        n_sources = len(sources & {"pvi-similar", "pvi-dissimilar"}) + len(
            sources & set(_enabled(config)))
        mt = _hp(config, "mtl")
        all_rows = sum(sizes[t]["train"] for t in tasks)
        all_eval = sum(sizes[t]["dev"] + sizes[t]["test"] for t in tasks)
        per_source = _train_seconds(cost, gpu=gpu, n_train=max(all_rows, 1), n_eval=all_eval,
                                    epochs=mt["epochs"], batch_size=mt["batch_size"],
                                    max_length=mt["max_length"], runs=mt["runs"])
        n_groups = n_sources * (n // 2)
        mtl_seconds = n_sources * per_source
        cap = config["grouping"].get("max_dissimilar")
        if "pvi-dissimilar" in sources and cap is not None and cap < n // 2:
            # at most `cap` disjoint groups, each at most of the largest allowed size: bound
            # them by the largest tasks instead of all rows
            n_groups -= n // 2 - cap
            mtl_seconds -= per_source
            allowed = config["grouping"]["dissimilar_sizes"] or range(2, max_size + 1)
            k = cap * max([s for s in allowed if s <= max_size] or [2])
            big = sorted(tasks, key=lambda t: sizes[t]["train"], reverse=True)[:k]
            if cap:
                mtl_seconds += _train_seconds(
                    cost, gpu=gpu, n_train=sum(sizes[t]["train"] for t in big),
                    n_eval=sum(sizes[t]["dev"] + sizes[t]["test"] for t in big),
                    epochs=mt["epochs"], batch_size=mt["batch_size"],
                    max_length=mt["max_length"], runs=mt["runs"])
        if "manual" in sources:
            from pvigroup.workflow import manual_groups_for

            for g in manual_groups_for(config, model):
                n_groups += 1
                mtl_seconds += _train_seconds(
                    cost, gpu=gpu, n_train=sum(sizes[t]["train"] for t in g),
                    n_eval=sum(sizes[t]["dev"] + sizes[t]["test"] for t in g),
                    epochs=mt["epochs"], batch_size=mt["batch_size"],
                    max_length=mt["max_length"], runs=mt["runs"])
        mtl_bound += n_groups * len(seeds)
        seconds["train_mtl"] += len(seeds) * (n_groups * startup + mtl_seconds)
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
                add("surrogate_run", 1, startup + run)
        if "tag" in _enabled(config):
            # one MTL run over all the model's (capped) rows; the lookahead records come on top
            tg = config["baselines"]["tag"]
            cap = tg["max_train_rows"]
            t_rows = sum(min(sizes[t]["train"], cap or sizes[t]["train"]) for t in tasks)
            t_dev = sum(sizes[t]["dev"] for t in tasks)
            t = tg["train"]
            run = _train_seconds(cost, gpu=gpu, n_train=t_rows, n_eval=t_dev, epochs=t["epochs"],
                                 batch_size=t["batch_size"], max_length=t["max_length"])
            add("tag_affinity", 1, startup + run)
    counts["train_mtl"] = mtl_bound

    from pvigroup.llm.spec import llm_jobs, needs_gpu

    llm_cfg = config.get("llm") or {}
    llm_gpu = {name: bool(needs_gpu(spec)) for name, spec in (llm_cfg.get("models") or {}).items()}
    for _llm, task in llm_jobs(config):
        used_tasks.add(task)
        n_prompts = sizes[task]["test"]
        if llm_cfg.get("max_test_rows"):
            n_prompts = min(n_prompts, llm_cfg["max_test_rows"])
        n_prompts *= llm_cfg.get("shot_draws", 1)
        add("prompt_llm", 1, startup + n_prompts * settings["llm_seconds_per_prompt"])
    if counts["prompt_llm"]:
        assumptions.append(f"LLM: {settings['llm_seconds_per_prompt']:g} s per prompt "
                           "(resources.llm_seconds_per_prompt)")
    counts["prepare_task"] = len(used_tasks)

    assumptions.append(f"start-up per job: {startup:g} s on {device}")
    assumptions.append("every batch priced at the run's max_length (length buckets make tasks "
                       "of short texts cheaper than this)")
    by_source: dict[str, list[str]] = {}
    for task in sorted(used_tasks):
        by_source.setdefault(size_sources[task], []).append(task)
    for src, tasks in by_source.items():
        assumptions.append(f"split sizes from {src}: {', '.join(tasks)}")
    if mtl_bound:
        assumptions.append("train_mtl: upper bound, every source's groups disjoint and of size 2 "
                           "(count) and all rows trained once per source (hours)")

    llm_on_gpu = any(llm_gpu.values())
    rules = []
    for rule, stage in STAGES.items():
        is_gpu = rule in ("finetune_gprime", "finetune_null", "compute_pvi", "train_stl",
                          "finetune_gprime_seed", "finetune_null_seed", "compute_pvi_seed",
                          "train_mtl", "taskemb_embed", "surrogate_run", "tag_affinity") or (
            rule == "prompt_llm" and llm_on_gpu)
        rules.append(RuleCost(rule=rule, stage=stage, jobs=counts[rule],
                              exact=rule != "train_mtl", gpu=is_gpu,
                              hours=seconds[rule] / 3600))
    return CostEstimate(rules=rules, device=device, assumptions=assumptions)


def _enabled(config: Mapping[str, Any]) -> list[str]:
    from pvigroup.baselines import enabled_methods

    return enabled_methods(config)


def load_config(configfile: str | Path | None, repo: str | Path | None = None) -> dict[str, Any]:
    """Read and validate a config as the Snakefile does (the demo config when none is given)."""
    import yaml

    from pvigroup.config import validate_config

    repo = Path(repo) if repo else Path.cwd()
    path = Path(configfile) if configfile else repo / "config" / "config.yaml"
    if not path.exists():
        raise PvigroupError(f"{path}: config file not found")
    schema = repo / "workflow" / "schemas" / "config.schema.yaml"
    if not schema.exists():
        schema = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise PvigroupError(f"{path}: not valid YAML ({err})") from None
    validate_config(config, schema, where=str(path))
    return config
