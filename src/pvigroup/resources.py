"""Cluster resources per rule: memory (MB) and wall time (minutes) from task and model size.

Rules declare ``mem_mb`` and ``runtime`` through the callables of :func:`rule_resources`, which
Snakemake evaluates once while building the DAG and again right before submitting a job (when
``results/data/{task}/task.json`` exists and gives the real split sizes). Every estimate is a
pure function of its arguments; the callables only gather those arguments from the config and
the task files.

Defaults fit the encoders the workflow uses (``roberta-large``; base-size BERT/RoBERTa such as
Bio+Clinical BERT; MiniLM for the demo). They can be tuned per model key in an optional config
section ``resources`` (see :data:`DEFAULTS` and ``docs/cluster.md``)::

    resources:
      safety: 1.5              # multiplies every time estimate
      models:
        roberta-large: {size: large, gpu_step_seconds: 0.2}

Estimates scale with the retry ``attempt`` (attempt 2 gets twice the memory and time), so a job
killed for exceeding its request succeeds on the retry the cluster profile allows.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from pvigroup.calibration.use import calibrated_cost
from pvigroup.errors import PvigroupError
from pvigroup.workflow import group_tasks

#: Reference batch for the step times: 32 sequences of 128 tokens.
REF_TOKENS = 32 * 128


@dataclass(frozen=True)
class ModelCost:
    """What one encoder costs to train.

    Attributes
    ----------
    params_m : float
        Parameters, in millions.
    hidden, layers : int
        Hidden size and number of layers (activation memory when training on the CPU).
    gpu_step_seconds : float
        Seconds per optimizer step of the reference batch (32 x 128 tokens) on one data-centre GPU.
    cpu_step_seconds : float
        The same on a CPU node (used when the job has no GPU).
    host_mem_mb : float, optional
        Measured host memory of a job of this model (a calibration file,
        :mod:`pvigroup.calibration`); replaces the computed process, weights and optimizer terms.
    """

    params_m: float
    hidden: int
    layers: int
    gpu_step_seconds: float
    cpu_step_seconds: float
    host_mem_mb: float | None = None


#: Encoder size classes. Step times are conservative (fp32, no compilation).
SIZES: dict[str, ModelCost] = {
    "large": ModelCost(
        params_m=355, hidden=1024, layers=24, gpu_step_seconds=0.25, cpu_step_seconds=60
    ),
    "base": ModelCost(
        params_m=125, hidden=768, layers=12, gpu_step_seconds=0.08, cpu_step_seconds=18
    ),
    "small": ModelCost(
        params_m=23, hidden=384, layers=6, gpu_step_seconds=0.03, cpu_step_seconds=4
    ),
}

#: Settings of the ``resources`` config section and their defaults.
DEFAULTS: dict[str, Any] = {
    "safety": 1.5,  # multiplies computed seconds
    "overhead_minutes": 5,  # start-up: imports, loading weights and data, saving
    "min_runtime": 10,  # minutes
    "runtime_step": 5,  # runtime is rounded up to a multiple of this (minutes)
    "base_mem_mb": 3000,  # python + torch + transformers + tokenizer
    "mem_step_mb": 1024,  # memory is rounded up to a multiple of this
    "default_rows": 10000,  # split size assumed before task.json exists (dry runs)
    "llm_seconds_per_prompt": 2.0,
    "llm_params_b": 8.0,  # billions of parameters of the LLM (host memory while loading)
    "models": {},  # model key -> {size: large|base|small, and/or any ModelCost field}
}

#: Resources of the CPU rules that run on the cluster: (mem_mb, runtime minutes) at attempt 1.
#: Rules listed in ``localrules`` (select_groups, manual_groups, tables, ...) need none.
CPU_RULES: dict[str, tuple[int, int]] = {
    "fetch_demo_corpus": (2000, 30),
    "make_twin_task": (2000, 10),
    "prepare_task": (4000, 30),
    "fit_empirical_prior": (2000, 10),
    "pair_tests": (2000, 10),  # every pair of a model in one job
    "group_tests": (4000, 30),  # every group of 3+ tasks of a model in one job
    "taskemb_similarity": (2000, 10),
    "surrogate_fit": (4000, 30),
    "collect_train": (2000, 10),
    "make_table": (2000, 10),
    "plot": (2000, 10),
}


def settings(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``resources`` section of ``config`` merged over :data:`DEFAULTS`.

    Raises
    ------
    PvigroupError
        An unknown key, or a value that is not a positive number.
    """
    section = dict((config or {}).get("resources") or {})
    unknown = sorted(set(section) - set(DEFAULTS))
    if unknown:
        raise PvigroupError(
            f"config key resources.{unknown[0]} is unknown; valid keys: {', '.join(sorted(DEFAULTS))}"
        )
    out = {**DEFAULTS, **section}
    for key, value in out.items():
        if key == "models":
            if not isinstance(value, Mapping):
                raise PvigroupError("config key resources.models must map model keys to settings")
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise PvigroupError(
                f"config key resources.{key} must be a positive number, got {value!r}"
            )
    return out


def size_class(pretrained: str) -> str:
    """Guess the size class (``large``, ``base`` or ``small``) from a hub id, directory or ``py:`` spec.

    The last two path components are read (a local model is often ``<name>/model``): ``large`` ->
    large; ``mini``, ``tiny``, ``small``, ``distil`` -> small; otherwise base.
    """
    name = "/".join(Path(str(pretrained).rstrip("/")).parts[-2:]).lower()
    if "large" in name:
        return "large"
    if any(word in name for word in ("mini", "tiny", "small", "distil")):
        return "small"
    return "base"


def model_cost(model_key: str, model_cfg: Mapping[str, Any], res: Mapping[str, Any]) -> ModelCost:
    """The cost figures of model ``model_key``: its size class, then per-field overrides.

    Parameters
    ----------
    model_key : str
        Key under ``models`` in the config.
    model_cfg : mapping
        That model's config (``pretrained`` is used to guess the size class).
    res : mapping
        Output of :func:`settings`.
    """
    override = dict(res["models"].get(model_key) or {})
    size = override.pop("size", None) or size_class(model_cfg.get("pretrained", model_key))
    if size not in SIZES:
        raise PvigroupError(
            f"config key resources.models.{model_key}.size must be one of {', '.join(SIZES)}, got {size!r}"
        )
    valid = {f.name for f in fields(ModelCost)}
    bad = sorted(set(override) - valid)
    if bad:
        raise PvigroupError(
            f"config key resources.models.{model_key}.{bad[0]} is unknown; valid keys: size, "
            + ", ".join(sorted(valid))
        )
    return replace(SIZES[size], **override)


def _round_up(value: float, step: float) -> int:
    return int(math.ceil(value / step) * step)


def train_mem_mb(
    cost: ModelCost,
    *,
    n_rows: int,
    batch_size: int,
    max_length: int,
    gpu: bool = True,
    attempt: int = 1,
    res: Mapping[str, Any] = DEFAULTS,
) -> int:
    """Host memory (MB) for training or reading out one encoder.

    Base process memory, plus twice the fp32 weights (state dict and model while loading or
    checkpointing), plus the tokenised data (ids and mask, int64), plus on a CPU node the optimizer
    state (AdamW: two more copies) and the activations kept for the backward pass. Multiplied by
    ``attempt`` and rounded up to ``mem_step_mb``.
    """
    _check_positive(n_rows=n_rows, batch_size=batch_size, max_length=max_length, attempt=attempt)
    data_mb = n_rows * max_length * 16 / 1e6
    if cost.host_mem_mb:  # measured (calibration): the process as it ran, plus this job's data
        return _round_up((cost.host_mem_mb + data_mb) * attempt, res["mem_step_mb"])
    weights_mb = cost.params_m * 4  # fp32: 4 bytes per parameter, params in millions
    mb = res["base_mem_mb"] + 2 * weights_mb + data_mb
    if not gpu:
        # ~12 fp32 activations of hidden width per token and layer survive until backward
        activations_mb = batch_size * max_length * cost.hidden * cost.layers * 4 * 12 / 1e6
        mb += 3 * weights_mb + activations_mb
    return _round_up(mb * attempt, res["mem_step_mb"])


def train_runtime_min(
    cost: ModelCost,
    *,
    n_train: int,
    n_eval: int,
    epochs: int,
    batch_size: int,
    max_length: int,
    runs: int = 1,
    gpu: bool = True,
    attempt: int = 1,
    res: Mapping[str, Any] = DEFAULTS,
) -> int:
    """Wall time (minutes) for ``runs`` trainings of ``epochs`` epochs with an evaluation per epoch.

    A step's time scales with its token count relative to the reference batch (32 x 128); an
    evaluation pass costs a third of a training pass over the same rows. The seconds are
    multiplied by ``safety``, the start-up ``overhead_minutes`` is added, the total is multiplied
    by ``attempt``, floored at ``min_runtime`` and rounded up to ``runtime_step``.
    """
    _check_positive(
        n_train=n_train,
        epochs=epochs,
        batch_size=batch_size,
        max_length=max_length,
        runs=runs,
        attempt=attempt,
    )
    if n_eval < 0:
        raise PvigroupError(f"n_eval must be >= 0, got {n_eval}")
    step_s = cost.gpu_step_seconds if gpu else cost.cpu_step_seconds
    step_s *= batch_size * max_length / REF_TOKENS
    steps = math.ceil(n_train / batch_size) + math.ceil(n_eval / batch_size) / 3
    seconds = runs * epochs * steps * step_s * res["safety"]
    minutes = (res["overhead_minutes"] + seconds / 60) * attempt
    return _round_up(max(minutes, res["min_runtime"]), res["runtime_step"])


def llm_mem_mb(*, attempt: int = 1, res: Mapping[str, Any] = DEFAULTS) -> int:
    """Host memory (MB) for loading a local LLM (bf16, 2 bytes per parameter) and prompting it."""
    _check_positive(attempt=attempt)
    mb = res["base_mem_mb"] + res["llm_params_b"] * 2000
    return _round_up(mb * attempt, res["mem_step_mb"])


def llm_runtime_min(*, n_prompts: int, attempt: int = 1, res: Mapping[str, Any] = DEFAULTS) -> int:
    """Wall time (minutes) for ``n_prompts`` few-shot prompts."""
    _check_positive(n_prompts=n_prompts, attempt=attempt)
    seconds = n_prompts * res["llm_seconds_per_prompt"] * res["safety"]
    minutes = (res["overhead_minutes"] + seconds / 60) * attempt
    return _round_up(max(minutes, res["min_runtime"]), res["runtime_step"])


def gpu_job(config: Mapping[str, Any]) -> dict[str, int]:
    """``{"gpu", "threads"}`` of the rules that train or read out a model.

    On GPUs (``engine.device`` auto or cuda) each job asks for one GPU and two cores (tokenising,
    data loading); the workstation profile's ``gpu=1`` then runs them one at a time. With
    ``engine.device: cpu`` they ask for no GPU and one core each, so a CPU-only machine runs as
    many side by side as ``--cores`` allows (two one-thread jobs on two cores finish sooner than
    one two-thread job after another: start-up, tokenising and saving are single-threaded).
    ``engine.threads`` > 0 sets the cores per job in both cases.
    """
    engine = config.get("engine") or {}
    threads = int(engine.get("threads") or 0)
    if engine.get("device", "auto") == "cpu":
        return {"gpu": 0, "threads": threads or 1}
    return {"gpu": 1, "threads": threads or 2}


def cpu_rule(rule: str, attempt: int = 1) -> dict[str, int]:
    """``{"mem_mb", "runtime"}`` of a small CPU rule (see :data:`CPU_RULES`), scaled by attempt."""
    if rule not in CPU_RULES:
        raise PvigroupError(
            f"no resource defaults for rule {rule!r}; known: {', '.join(CPU_RULES)}"
        )
    _check_positive(attempt=attempt)
    mem, runtime = CPU_RULES[rule]
    return {"mem_mb": mem * attempt, "runtime": runtime * attempt}


def cpu_rule_resources(rule: str) -> dict[str, Callable[..., int]]:
    """``{"mem_mb": f, "runtime": f}`` for a CPU rule: :func:`cpu_rule` as Snakemake callables."""
    cpu_rule(rule)  # fail at parse time on an unknown rule

    def mem(wildcards: Any, attempt: int = 1) -> int:
        return cpu_rule(rule, attempt)["mem_mb"]

    def runtime(wildcards: Any, attempt: int = 1) -> int:
        return cpu_rule(rule, attempt)["runtime"]

    return {"mem_mb": mem, "runtime": runtime}


def task_rows(
    task: str, config: Mapping[str, Any], data_dir: str | Path = "results/data"
) -> dict[str, int]:
    """Split sizes of ``task``: from ``{data_dir}/{task}/task.json`` once it exists, else estimated.

    Before the data are prepared, each split is the task's ``max_rows`` for it when set, else
    ``resources.default_rows``. Snakemake evaluates resources again right before it submits a job,
    when the file exists.
    """
    path = Path(data_dir) / task / "task.json"
    if path.exists():
        try:
            n = json.loads(path.read_text())["n"]
            return {split: int(n.get(split) or 0) for split in ("train", "dev", "test")}
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as err:
            raise PvigroupError(f"{path}: no readable split sizes under 'n' ({err})") from None
    if task not in config.get("tasks", {}):
        raise PvigroupError(f"task {task!r} is not in config key tasks")
    default = settings(config)["default_rows"]
    max_rows = config["tasks"][task].get("max_rows") or {}
    return {split: int(max_rows.get(split) or default) for split in ("train", "dev", "test")}


def train_hparams(config: Mapping[str, Any], kind: str, task: str | None = None) -> dict[str, int]:
    """Epochs, batch size, max length and number of runs of one training job.

    ``kind="finetune"`` (g' and g): ``pvi.train`` with the task's ``overrides``. ``kind="stl"`` or
    ``"mtl"``: ``runs`` is the number of lr x max_length points of ``train.grid`` (lists; a scalar
    counts as one value) and ``max_length`` the largest; ``epochs`` is what one point trains:
    ``max(epochs)`` with ``epoch_search: select`` (one run, best dev epoch kept), the sum of the
    distinct values with ``runs`` (one run per value). Missing keys fall back to ``pvi.train``.
    """
    base = {"epochs": 10, "batch_size": 32, "max_length": 128}
    base.update({k: v for k, v in (config.get("pvi", {}).get("train") or {}).items() if k in base})
    if kind == "finetune":
        if task is not None:
            overrides = config.get("tasks", {}).get(task, {}).get("overrides") or {}
            base.update({k: v for k, v in overrides.items() if k in base})
        return {**base, "runs": 1}
    if kind not in ("stl", "mtl"):
        raise PvigroupError(f"unknown training kind {kind!r}; valid: finetune, stl, mtl")
    train = config.get("train") or {}
    grid = train.get("grid") or {}
    if not isinstance(grid, Mapping):
        raise PvigroupError("config key train.grid must map hyperparameter names to value lists")
    runs = 1
    out = dict(base)
    for key, values in grid.items():
        values = list(values) if isinstance(values, list | tuple) else [values]
        if not values:
            raise PvigroupError(f"config key train.grid.{key} is an empty list")
        if key == "epochs":
            # select: one run of max(epochs), best dev epoch kept; runs: one run per value
            select = train.get("epoch_search", "select") == "select"
            out["epochs"] = max(int(v) for v in values) if select else sum(
                int(v) for v in set(values))
            continue
        runs *= len(set(values))
        if key == "max_length":
            out[key] = max(int(v) for v in values)
    if "batch_size" in train:
        out["batch_size"] = int(train["batch_size"])
    return {**out, "runs": runs}


def rule_resources(
    kind: str, config: Mapping[str, Any], data_dir: str | Path = "results/data",
    workdir: str | Path = ".",
) -> dict[str, Callable[..., int]]:
    """``{"mem_mb": f, "runtime": f}``: resource callables for a rule of the given kind.

    ``kind`` is ``finetune`` (g' and g: wildcards ``model``, ``task``), ``readout`` (compute_pvi:
    two models read out on the PVI split, ``model``, ``task``), ``stl`` (``model``, ``task``),
    ``mtl`` (``model``, ``group``) or ``llm`` (``task``). Use in a rule as::

        resources:
            gpu=1,
            **res.rule_resources("finetune", config),

    The callables take ``(wildcards, attempt)`` as Snakemake passes them. A job whose node has no
    GPU is estimated with CPU step times when the config sets ``engine.device: cpu``. A
    calibration file of the model (``{workdir}/results/calibration/{model}.json``, see
    :mod:`pvigroup.calibration`) measured on the same device kind replaces the size-class step
    time and the memory estimate.
    """
    if kind not in ("finetune", "readout", "stl", "mtl", "llm"):
        raise PvigroupError(f"unknown rule kind {kind!r}; valid: finetune, readout, stl, mtl, llm")
    res = settings(config)
    gpu = (config.get("engine") or {}).get("device", "auto") != "cpu"

    def tasks_of(wildcards: Any) -> list[str]:
        if kind == "mtl":
            return group_tasks(wildcards.group)
        return [wildcards.task]

    def figures(wildcards: Any) -> tuple[ModelCost, dict[str, int], int, int]:
        model = wildcards.model
        if model not in config.get("models", {}):
            raise PvigroupError(f"model {model!r} is not in config key models")
        cost = model_cost(model, config["models"][model], res)
        cost, _ = calibrated_cost(cost, model, config, gpu=gpu, workdir=workdir)
        tasks = tasks_of(wildcards)
        train_kind = "finetune" if kind in ("finetune", "readout") else kind
        hp = train_hparams(config, train_kind, tasks[0] if train_kind == "finetune" else None)
        rows = [task_rows(t, config, data_dir) for t in tasks]
        n_train = sum(r["train"] for r in rows)
        # dev is read out after every epoch; STL/MTL also predict the test split once per run
        n_eval = sum(r["dev"] + (0 if kind == "finetune" else r["test"]) for r in rows)
        return cost, hp, n_train, n_eval

    if kind == "llm":

        def llm_mem(wildcards: Any, attempt: int = 1) -> int:
            return llm_mem_mb(attempt=attempt, res=res)

        def llm_time(wildcards: Any, attempt: int = 1) -> int:
            n = task_rows(wildcards.task, config, data_dir)["test"]
            return llm_runtime_min(n_prompts=max(n, 1), attempt=attempt, res=res)

        return {"mem_mb": llm_mem, "runtime": llm_time}

    def mem(wildcards: Any, attempt: int = 1) -> int:
        cost, hp, n_train, n_eval = figures(wildcards)
        return train_mem_mb(
            cost,
            n_rows=max(n_train + n_eval, 1),
            batch_size=hp["batch_size"],
            max_length=hp["max_length"],
            gpu=gpu,
            attempt=attempt,
            res=res,
        )

    def runtime(wildcards: Any, attempt: int = 1) -> int:
        cost, hp, n_train, n_eval = figures(wildcards)
        if kind == "readout":
            # g' and g over every split (train for the prior, the PVI split): forward passes only
            return train_runtime_min(
                cost,
                n_train=1,
                n_eval=2 * 3 * max(n_train + n_eval, 1),
                epochs=1,
                batch_size=hp["batch_size"],
                max_length=hp["max_length"],
                gpu=gpu,
                attempt=attempt,
                res=res,
            )
        return train_runtime_min(
            cost,
            n_train=max(n_train, 1),
            n_eval=n_eval,
            epochs=hp["epochs"],
            batch_size=hp["batch_size"],
            max_length=hp["max_length"],
            runs=hp["runs"],
            gpu=gpu,
            attempt=attempt,
            res=res,
        )

    return {"mem_mb": mem, "runtime": runtime}


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise PvigroupError(f"{name} must be >= 1, got {value}")
