"""Resource callables of the workflow's rules: split sizes, training hyperparameters, estimates.

:func:`rule_resources` gathers the arguments of the estimates of :mod:`pvigroup.resources.jobs`
from the config, the task files and the calibration files, as Snakemake callables.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pvigroup.calibration.use import calibrated_cost
from pvigroup.errors import PvigroupError
from pvigroup.resources.costs import ModelCost, model_cost, settings
from pvigroup.resources.jobs import llm_mem_mb, llm_runtime_min, train_mem_mb, train_runtime_min
from pvigroup.workflow import group_tasks


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
