"""Single-task (STL) and multi-task (MTL) training of accepted groups, and their evaluation.

One STL run trains one task; one MTL run trains every task of a group with hard parameter sharing
(one encoder, one head per task, each batch from a single task) through :mod:`pvigroup.engine`.
Both search the same grid of learning rate x max length x epochs, select on dev macro-F1 (the mean
over the group's tasks for MTL) and are then scored once on each task's test split.

Seed aggregation reports mean ± t(0.975, n−1)·s/√n over seeds (t = 2.776 for 5 seeds, the paper's
interval); the MTL − STL comparison pairs runs by seed.

Only light modules are imported at the top, so the Snakefile can import the target helpers without
loading torch; the engine is imported inside the training functions.
"""

from __future__ import annotations

import itertools
import logging
import math
import shutil
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from pvigroup import __version__
from pvigroup.errors import PvigroupError
from pvigroup.io import read_json, read_parquet, read_tsv, write_json, write_parquet, write_tsv
from pvigroup.workflow import NAME_RE, SEP, group_id

log = logging.getLogger(__name__)

GROUP_COLUMNS = ("group", "tasks", "size", "source", "test", "statistic", "pvalue", "score")
SOURCES = ("pvi-similar", "pvi-dissimilar", "manual", "taskemb", "surrogate", "tag")
EPOCH_SEARCH = ("select", "runs")
SAMPLERS = ("proportional", "temperature", "uniform")
SUMMARY_COLUMNS = ("kind", "source", "group", "task", "seed", "accuracy", "macro_f1")
AGGREGATE_COLUMNS = ("kind", "source", "group", "task", "n_seeds", "acc_mean", "acc_ci",
                     "f1_mean", "f1_ci")
COMPARISON_COLUMNS = ("source", "group", "task", "n_seeds", "seeds",
                      "stl_acc_mean", "mtl_acc_mean", "acc_diff", "acc_diff_ci", "acc_pvalue",
                      "stl_f1_mean", "mtl_f1_mean", "f1_diff", "f1_diff_ci", "f1_pvalue")
# train: keys that are not hyper-parameters of one job (they choose which jobs exist)
# (``enabled`` switches the whole stage on or off)
_NOT_JOB_KEYS = ("enabled", "seeds", "sources", "ci_level", "loss_weights")


# --------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class TrainSettings:
    """The hyper-parameters of one STL or MTL job (a slice of the ``train:`` config section).

    Parameters
    ----------
    epochs, lr, max_length
        The grid. Every ``lr`` x ``max_length`` combination is trained; ``epochs`` is searched as
        set by ``epoch_search``.
    epoch_search
        ``"select"``: one run of ``max(epochs)`` epochs per grid point, keeping the epoch with the
        best dev score among the values of ``epochs`` only (grid {5..10}: epochs 1-4 are never
        kept; cheap; the LR schedule spans ``max(epochs)``).
        ``"runs"``: one run per value of ``epochs``, each keeping its last epoch (the literal
        grid; each run has its own LR schedule).
    batch_size, grad_accum, warmup_ratio, weight_decay
        Passed to the engine unchanged (the paper: batch 32, accumulation 2).
    sampler, temperature
        How MTL batches are drawn across tasks (ignored by STL).
    loss_weights
        Per-task loss weights for MTL (a task not listed weighs 1).
    """

    epochs: tuple[int, ...] = (5, 6, 7, 8, 9, 10)
    lr: tuple[float, ...] = (1e-5, 2e-5)
    max_length: tuple[int, ...] = (128, 512)
    epoch_search: str = "select"
    batch_size: int = 32
    grad_accum: int = 2
    warmup_ratio: float = 0.0
    weight_decay: float = 0.0
    sampler: str = "proportional"
    temperature: float = 2.0
    loss_weights: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key in ("epochs", "lr", "max_length"):
            values = getattr(self, key)
            if not values:
                raise PvigroupError(f"train.grid.{key}: the grid needs at least one value")
        if self.epoch_search not in EPOCH_SEARCH:
            raise PvigroupError(f"train.epoch_search: {self.epoch_search!r} is not one of "
                                f"{', '.join(EPOCH_SEARCH)}")
        if self.sampler not in SAMPLERS:
            raise PvigroupError(f"train.sampler: {self.sampler!r} is not one of "
                                f"{', '.join(SAMPLERS)}")

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> TrainSettings:
        """Settings from a job's ``params.train`` (the output of :func:`job_settings`)."""
        p = dict(params)
        grid = p.pop("grid", {}) or {}
        known = {f for f in cls.__dataclass_fields__} - {"epochs", "lr", "max_length"}
        unknown = sorted(set(p) - known)
        if unknown:
            raise PvigroupError(f"train: unknown key(s) {', '.join(unknown)}")
        kwargs: dict[str, Any] = {k: v for k, v in p.items() if k in known}
        for key, cast in (("epochs", int), ("lr", float), ("max_length", int)):
            if key in grid:
                values = grid[key]
                values = values if isinstance(values, list | tuple) else [values]
                kwargs[key] = tuple(cast(v) for v in values)
        if "loss_weights" in kwargs:
            kwargs["loss_weights"] = {str(k): float(v)
                                      for k, v in (kwargs["loss_weights"] or {}).items()}
        return cls(**kwargs)


def job_settings(train_cfg: Mapping[str, Any], tasks: Sequence[str],
                 overrides: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The slice of the ``train:`` section one job needs, as a plain dict for ``params:``.

    Drops the keys that choose which jobs exist (``enabled``, ``seeds``, ``sources``,
    ``ci_level``) and keeps only the group's own ``loss_weights``, so that adding a task or a seed
    changes no other job's params (params are a rerun trigger). For one task (STL), the task's
    ``overrides`` (``epochs``, ``lr``, ``max_length``, ``batch_size``) replace the corresponding
    grid axis or setting.

    Parameters
    ----------
    train_cfg
        The validated ``train:`` config section.
    tasks
        The job's task ids (one for STL).
    overrides
        ``{task: tasks.<task>.overrides}``; only used for a single task.
    """
    out = {k: v for k, v in train_cfg.items() if k not in _NOT_JOB_KEYS}
    out["grid"] = {k: list(v) for k, v in (train_cfg.get("grid") or {}).items()}
    weights = train_cfg.get("loss_weights") or {}
    if len(tasks) > 1:
        out["loss_weights"] = {t: float(weights[t]) for t in sorted(tasks) if t in weights}
    if len(tasks) == 1 and overrides:
        ov = dict(overrides.get(tasks[0]) or {})
        for key in ("epochs", "lr", "max_length"):
            if key in ov:
                out["grid"][key] = [ov[key]]
        if "batch_size" in ov:
            out["batch_size"] = ov["batch_size"]
    return out


@dataclass(frozen=True)
class GridPoint:
    """One training run of the grid.

    ``epochs`` is the run's length; ``select`` says whether the engine keeps the epoch with the
    best dev score among ``allowed_epochs`` (the grid's epoch values) or the last epoch.
    """

    lr: float
    max_length: int
    epochs: int
    select: bool
    allowed_epochs: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not self.allowed_epochs:  # the last epoch, or (select) any epoch of the run
            allowed = range(1, self.epochs + 1) if self.select else (self.epochs,)
            object.__setattr__(self, "allowed_epochs", tuple(allowed))
        bad = [e for e in self.allowed_epochs if not 1 <= e <= self.epochs]
        if bad or (not self.select and self.allowed_epochs != (self.epochs,)):
            raise PvigroupError(f"grid point: epochs {list(self.allowed_epochs)} cannot be kept "
                                f"from a run of {self.epochs} epochs")


def grid_points(settings: TrainSettings) -> list[GridPoint]:
    """The runs the grid asks for, in a fixed order (lr, then max_length, then epochs).

    With ``epoch_search="select"`` there is one run of ``max(epochs)`` epochs per
    (lr, max_length), keeping its best dev epoch among the grid's epoch values (grid [5, 6, 7]:
    a run of 7 epochs that may keep epoch 5, 6 or 7, never 1-4); with ``"runs"`` one run per grid
    epoch value, keeping its last epoch.
    """
    epochs = tuple(sorted(set(settings.epochs)))
    out = []
    for lr, max_length in itertools.product(sorted(set(settings.lr)),
                                            sorted(set(settings.max_length))):
        if settings.epoch_search == "select":
            out.append(GridPoint(lr, max_length, epochs[-1], True, epochs))
        else:
            out.extend(GridPoint(lr, max_length, e, False) for e in epochs)
    return out


def same_run_lengths(longest: int, max_lengths: Sequence[int]) -> dict[int, int]:
    """Each grid ``max_length`` -> the ``max_length`` whose run it is identical to.

    ``longest`` is the token count of a task's longest row (train, dev and test, special tokens
    included, as the engine encodes it). A grid value that truncates nothing (``>= longest``)
    trains exactly what the smallest such value trains (same rows, buckets, batches and seed), so
    it maps to that value; a value that truncates maps to itself.

    >>> same_run_lengths(90, [128, 512])
    {128: 128, 512: 128}
    >>> same_run_lengths(200, [128, 256, 512])
    {128: 128, 256: 256, 512: 256}
    """
    if int(longest) < 0:
        raise PvigroupError(f"same_run_lengths: longest row length {longest} is negative")
    values = sorted({int(v) for v in max_lengths})
    if not values or values[0] < 1:
        raise PvigroupError(f"same_run_lengths: max_lengths {list(max_lengths)} must be "
                            "positive and non-empty")
    fitting = [v for v in values if v >= int(longest)]
    first_fit = fitting[0] if fitting else None
    return {v: (first_fit if first_fit is not None and v >= first_fit else v) for v in values}


def select_best(scores: Sequence[float | None]) -> int:
    """Index of the highest dev score; ties go to the first (the cheaper / earlier point).

    ``None`` or NaN scores (a run that could not be scored) are never selected.
    """
    arr = np.asarray([np.nan if s is None else s for s in scores], dtype=np.float64)
    if arr.size == 0 or np.all(np.isnan(arr)):
        raise PvigroupError("grid search: no grid point has a dev score")
    best = np.nanmax(arr)
    return int(np.flatnonzero(arr == best)[0])


# --------------------------------------------------------------------------- groups
def read_groups(path: str | Path) -> pd.DataFrame:
    """Read a group file (similar.tsv, dissimilar.tsv, manual.tsv, baselines' groups.tsv).

    Checks the layout of docs/architecture.md: the columns are present, ``group`` is the id of
    ``tasks`` and ``size`` their number. Raises ``PvigroupError`` naming the file and row.
    """
    path = Path(path)
    df = read_tsv(path)
    missing = [c for c in ("group", "tasks", "size", "source") if c not in df.columns]
    if missing:
        raise PvigroupError(f"{path}: missing column(s) {', '.join(missing)} "
                            f"(expected {', '.join(GROUP_COLUMNS)})")
    for i, row in enumerate(df.itertuples(index=False), start=2):
        tasks = [t.strip() for t in str(row.tasks).split(",") if t.strip()]
        bad = [t for t in tasks if not NAME_RE.match(t)]
        if bad:
            raise PvigroupError(f"{path}, line {i}: task name(s) {bad} are not valid ids")
        if group_id(tasks) != row.group or len(set(tasks)) != len(tasks):
            raise PvigroupError(f"{path}, line {i}: group {row.group!r} does not match its "
                                f"tasks {row.tasks!r} (expected {group_id(tasks)!r})")
        if int(row.size) != len(tasks):
            raise PvigroupError(f"{path}, line {i}: size {row.size} but {len(tasks)} tasks")
    return df


def check_group(tasks: Sequence[str], *, model: str, where: str,
                known_tasks: Collection[str] | None = None,
                models: Mapping[str, Mapping[str, Any]] | None = None) -> None:
    """Raise ``PvigroupError`` unless every task of a group can be trained with ``model``.

    Parameters
    ----------
    tasks
        The group's task ids.
    model
        The model key the group is trained with.
    where
        Where the group comes from (file and line), for the message.
    known_tasks
        The configured task ids (``None``: not checked).
    models
        The ``models:`` config section (``None``: not checked). A task must be one of
        ``models.<model>.tasks`` (or that list is null); otherwise the message names the model
        family the task belongs to, since a group shares one encoder.
    """
    if known_tasks is not None:
        unknown = [t for t in tasks if t not in known_tasks]
        if unknown:
            raise PvigroupError(f"{where}: group {group_id(tasks)!r} names unknown task(s) "
                                f"{', '.join(unknown)}; known tasks: "
                                f"{', '.join(sorted(known_tasks))}")
    if models is not None:
        if model not in models:
            raise PvigroupError(f"{where}: unknown model {model!r}; models: "
                                f"{', '.join(sorted(models))}")
        served = models[model].get("tasks")
        family = models[model].get("family") or model
        for t in tasks:
            if served and t not in served:
                owners = [m for m, spec in sorted(models.items())
                          if not spec.get("tasks") or t in spec["tasks"]]
                fams = sorted({models[m].get("family") or m for m in owners})
                raise PvigroupError(
                    f"{where}: task {t!r} of group {group_id(tasks)!r} belongs to model family "
                    f"{', '.join(fams) or '(none)'} (models {', '.join(owners) or 'none'}), "
                    f"not to {family!r} (models.{model}.tasks); all tasks of a group must share "
                    f"the group's model family")


def group_sources(group_files: Iterable[str | Path], *, model: str | None = None,
                  known_tasks: Collection[str] | None = None,
                  models: Mapping[str, Mapping[str, Any]] | None = None
                  ) -> dict[str, list[str]]:
    """Map each MTL group id (two tasks or more) in ``group_files`` to its sorted sources.

    A group of one task is skipped with a warning (it is an STL run). Groups are checked with
    :func:`check_group` when ``model`` is given.
    """
    out: dict[str, set[str]] = {}
    for path in group_files:
        df = read_groups(path)
        for i, row in enumerate(df.itertuples(index=False), start=2):
            tasks = str(row.tasks).split(",")
            if len(tasks) < 2:
                log.warning("%s, line %d: group %s has one task; it is covered by STL", path, i,
                            row.group)
                continue
            if model is not None:
                check_group(tasks, model=model, where=f"{path}, line {i}",
                            known_tasks=known_tasks, models=models)
            out.setdefault(str(row.group), set()).add(str(row.source))
    return {g: sorted(s) for g, s in sorted(out.items())}


def mtl_targets(group_files: Iterable[str | Path], model: str, seeds: Sequence[int], *,
                groups: Iterable[Sequence[str]] = (),
                known_tasks: Collection[str] | None = None,
                models: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
    """The MTL ``metrics.json`` paths for every group in ``group_files``, every seed.

    A group listed in several files (e.g. similar and a baseline) is trained once. Paths are
    ``results/train/{model}/mtl/{group}/seed{seed}/metrics.json``, sorted by group then seed.

    Parameters
    ----------
    group_files
        Group TSVs in the layout of docs/architecture.md.
    model
        The model key.
    seeds
        The configured seeds (one seed is allowed; it gets no confidence interval).
    groups
        Further groups as task lists (e.g. ``grouping.manual`` from the config, known before any
        file exists).
    known_tasks, models
        When given, each group is checked with :func:`check_group`.
    """
    seeds = _check_seeds(seeds)
    found = set(group_sources(group_files, model=model, known_tasks=known_tasks, models=models))
    for i, tasks in enumerate(groups):
        tasks = list(tasks)
        if len(set(tasks)) < 2:
            log.warning("group %s has one task; it is covered by STL", tasks)
            continue
        check_group(tasks, model=model, where=f"group {i} of the listed groups",
                    known_tasks=known_tasks, models=models)
        found.add(group_id(tasks))
    return [f"results/train/{model}/mtl/{g}/seed{s}/metrics.json"
            for g in sorted(found) for s in seeds]


def stl_targets(tasks: Iterable[str], model: str, seeds: Sequence[int]) -> list[str]:
    """The STL ``metrics.json`` paths of every task and seed."""
    seeds = _check_seeds(seeds)
    return [f"results/train/{model}/stl/{t}/seed{s}/metrics.json"
            for t in sorted(set(tasks)) for s in seeds]


def _check_seeds(seeds: Sequence[int]) -> list[int]:
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise PvigroupError("train.seeds: at least one seed is needed")
    if len(set(seeds)) != len(seeds):
        raise PvigroupError(f"train.seeds: a seed is listed twice: {seeds}")
    return seeds


# --------------------------------------------------------------------------- training
def _load_split(task_json: Path, split: str) -> pd.DataFrame:
    df = read_parquet(task_json.parent / f"{split}.parquet")
    missing = [c for c in ("id", "text", "label") if c not in df.columns]
    if missing:
        raise PvigroupError(f"{task_json.parent / f'{split}.parquet'}: missing column(s) "
                            f"{', '.join(missing)}")
    if "text_pair" not in df.columns:
        df["text_pair"] = None
    return df


def _load_tasks(task_jsons: Sequence[str | Path], expected: Sequence[str]):
    """(info, TaskData, test frame) for each task.json, in ``expected`` order."""
    from pvigroup.engine import TaskData

    found = {}
    for path in map(Path, task_jsons):
        info = read_json(path)
        found[info["task"]] = (path, info)
    missing = [t for t in expected if t not in found]
    if missing:
        raise PvigroupError(f"no task.json for task(s) {', '.join(missing)} among "
                            f"{', '.join(map(str, task_jsons))}")
    out = []
    for name in expected:
        path, info = found[name]
        labels = list(info["labels"])
        train_df, dev_df = _load_split(path, "train"), _load_split(path, "dev")
        if dev_df.empty:
            raise PvigroupError(f"{path.parent / 'dev.parquet'}: no rows; model selection "
                                "needs a dev split")
        test_df = _load_split(path, "test")
        out.append((info, TaskData(name, labels, train_df, dev_df), test_df))
    return out


def _engine_params(settings: TrainSettings, point: GridPoint, seed: int, tasks: Sequence[str]):
    from pvigroup.engine import TrainParams

    weights = None
    if len(tasks) > 1:
        weights = {t: float(settings.loss_weights.get(t, 1.0)) for t in tasks}
    params = TrainParams(
        epochs=int(point.epochs), batch_size=int(settings.batch_size), lr=float(point.lr),
        max_length=int(point.max_length), grad_accum=int(settings.grad_accum),
        warmup_ratio=float(settings.warmup_ratio), weight_decay=float(settings.weight_decay),
        seed=int(seed), sampler=settings.sampler, temperature=float(settings.temperature),
        loss_weights=weights, select_on_dev=point.select,
        select_epochs=tuple(int(e) for e in point.allowed_epochs) if point.select else None,
    )
    params.check()
    return params


def _run_dev_score(result, point: GridPoint) -> tuple[int, float | None]:
    """(kept epoch, its mean dev macro-F1) of one engine run of ``point``.

    With ``select_on_dev`` the engine keeps its best dev epoch among ``point.allowed_epochs``,
    otherwise the last one; either way ``best_epoch``/``dev_score`` describe the weights it
    saved. Raises ``PvigroupError`` if the engine kept an epoch the grid does not allow.
    """
    epoch, score = int(result.best_epoch), result.dev_score
    if epoch not in point.allowed_epochs:
        raise PvigroupError(f"{result.out_dir}: the engine kept epoch {epoch}, not one of the "
                            f"grid's epochs {list(point.allowed_epochs)}")
    return epoch, None if score is None else float(score)


def search_grid(pretrained: str, tasks: Sequence[Any], settings: TrainSettings, seed: int,
                out_model: str | Path, *, options: Any) -> tuple[GridPoint, list[dict]]:
    """Train every grid point, keep the model with the best dev score in ``out_model``.

    Parameters
    ----------
    pretrained
        A directory or hub id ``from_pretrained`` accepts (already resolved).
    tasks
        The engine's ``TaskData`` of each task (one for STL); each needs a dev split.
    settings
        The job's settings.
    seed
        Seeds initialisation, dropout and batch order.
    out_model
        Where the selected model is left (engine format); the others are deleted.
    options
        ``EngineOptions``.

    Returns
    -------
    (GridPoint, list of dict)
        The selected point (``epochs`` = the epoch kept) and one record per run:
        ``lr, max_length, epochs`` (run length), ``allowed_epochs`` (those it could keep),
        ``epoch`` (kept), ``dev_score``, ``history``.
    """
    from pvigroup.engine import train

    out_model = Path(out_model)
    scratch = out_model.with_name(out_model.name + ".grid")
    shutil.rmtree(scratch, ignore_errors=True)
    if out_model.exists():
        shutil.rmtree(out_model)
    names = [t.name for t in tasks]
    records: list[dict] = []
    best_i: int | None = None
    for i, point in enumerate(grid_points(settings)):
        params = _engine_params(settings, point, seed, names)
        run_dir = scratch / f"run{i}"
        log.info("grid point %d: lr=%g max_length=%d epochs=%d (%s) for %s, seed %d", i,
                 point.lr, point.max_length, point.epochs,
                 f"best dev epoch of {list(point.allowed_epochs)}" if point.select
                 else "last epoch", ", ".join(names), seed)
        result = train(pretrained, list(tasks), params, run_dir, options=options)
        epoch, score = _run_dev_score(result, point)
        records.append({"lr": point.lr, "max_length": point.max_length, "epochs": point.epochs,
                        "allowed_epochs": list(point.allowed_epochs), "epoch": epoch,
                        "dev_score": score, "history": result.history})
        log.info("grid point %d: dev score %s at epoch %d", i, score, epoch)
        j = select_best([r["dev_score"] for r in records])
        if j == i:  # new best: keep this model, drop the previous best
            if out_model.exists():
                shutil.rmtree(out_model)
            shutil.move(str(run_dir), str(out_model))
            best_i = i
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
    shutil.rmtree(scratch, ignore_errors=True)
    assert best_i is not None  # select_best raised if no run had a score
    best = records[best_i]
    chosen = GridPoint(best["lr"], best["max_length"], best["epoch"], False)
    return chosen, records


def evaluate_model(model_dir: str | Path, tests: Mapping[str, pd.DataFrame],
                   labels: Mapping[str, Sequence[str]], *, options: Any
                   ) -> tuple[dict[str, dict], pd.DataFrame]:
    """Score a trained model on each task's test split.

    Returns ``{task: {accuracy, macro_f1, per_class_f1, n}}`` and the per-instance predictions
    (``id, task, label, pred, correct``), tasks in the order of ``tests``.
    """
    from pvigroup.engine import evaluate, load_model

    model = load_model(model_dir, tasks=list(tests), options=options)
    metrics: dict[str, dict] = {}
    frames = []
    for task, df in tests.items():
        res = evaluate(model, task, df, options=options)
        preds = np.asarray(res["preds"], dtype=np.int64)
        per_class = res.get("per_class_f1") or {}
        if not isinstance(per_class, Mapping):  # a list in label order
            per_class = dict(zip(map(str, labels[task]), per_class, strict=True))
        metrics[task] = {"accuracy": float(res["accuracy"]), "macro_f1": float(res["macro_f1"]),
                         "per_class_f1": {str(k): float(v) for k, v in per_class.items()},
                         "n": int(res.get("n", len(df)))}
        gold = df["label"].to_numpy(dtype=np.int64)
        frames.append(pd.DataFrame({"id": df["id"].astype(str).to_numpy(), "task": task,
                                    "label": gold, "pred": preds, "correct": gold == preds}))
        log.info("%s test: accuracy %.4f, macro-F1 %.4f (n=%d)", task,
                 metrics[task]["accuracy"], metrics[task]["macro_f1"], metrics[task]["n"])
    predictions = pd.concat(frames, ignore_index=True)
    predictions["task"] = predictions["task"].astype(str)
    return metrics, predictions


def train_group(task_jsons: Sequence[str | Path], out_metrics: str | Path,
                out_predictions: str | Path, out_model: str | Path, *, kind: str, group: str,
                model: str, seed: int, pretrained: str, train: Mapping[str, Any],
                engine: Mapping[str, Any] | None = None) -> dict:
    """Train one STL task or one MTL group for one seed, select on dev, score on test.

    Parameters
    ----------
    task_jsons
        ``results/data/{task}/task.json`` of each task; the splits are read beside them.
    out_metrics, out_predictions, out_model
        ``metrics.json``, ``predictions.parquet`` and the model directory (engine format: shared
        encoder plus one head per task, each reloadable alone).
    kind
        ``"stl"`` (one task) or ``"mtl"`` (two tasks or more).
    group
        The task id (STL) or group id (MTL).
    model
        The model key (for paths and provenance).
    seed
        The run's seed.
    pretrained
        The model spec (hub id, directory or ``py:module.function``).
    train
        The job's ``train`` params (see :func:`job_settings`).
    engine
        The ``engine:`` config section.

    Returns
    -------
    dict
        The metrics written to ``out_metrics``.
    """
    from pvigroup.config import engine_options, resolve_pretrained

    if kind not in ("stl", "mtl"):
        raise PvigroupError(f"kind must be 'stl' or 'mtl', got {kind!r}")
    names = group.split(SEP)
    if group_id(names) != group:
        raise PvigroupError(f"group {group!r} is not a sorted group id")
    if kind == "stl" and len(names) != 1:
        raise PvigroupError(f"STL trains one task, got group {group!r}")
    if kind == "mtl" and len(names) < 2:
        raise PvigroupError(f"MTL needs a group of two tasks or more, got {group!r}")
    settings = TrainSettings.from_params(train)
    options = engine_options(engine or {})
    loaded = _load_tasks(task_jsons, names)
    task_data = [td for _, td, _ in loaded]
    tests = {info["task"]: test for info, _, test in loaded}
    labels = {info["task"]: list(info["labels"]) for info, _, _ in loaded}

    chosen, records = search_grid(resolve_pretrained(pretrained), task_data, settings, seed,
                                  out_model, options=options)
    test_metrics, predictions = evaluate_model(out_model, tests, labels, options=options)
    dev_score = max(r["dev_score"] for r in records if r["dev_score"] is not None)
    metrics = {
        "kind": kind, "group": group, "tasks": names, "model": model, "seed": int(seed),
        "selected": {"epochs": chosen.epochs, "lr": chosen.lr, "max_length": chosen.max_length},
        "epoch_selection": {"search": settings.epoch_search,
                            "allowed": sorted(set(settings.epochs)), "selected": chosen.epochs},
        "grid": records, "dev_score": float(dev_score), "test": test_metrics,
        "settings": {**asdict(settings), "loss_weights": dict(settings.loss_weights)},
        "pretrained": pretrained, "pvigroup": __version__,
        "data": {info["task"]: info.get("fingerprint") for info, _, _ in loaded},
    }
    write_json(metrics, out_metrics)
    write_parquet(predictions, out_predictions,
                  {"kind": kind, "group": group, "model": model, "seed": int(seed),
                   "split": "test", "selected": metrics["selected"]})
    log.info("%s %s seed %d: selected %s (dev %.4f)", kind.upper(), group, seed,
             metrics["selected"], dev_score)
    return metrics


def train_stl(task_json: str | Path, out_metrics: str | Path, out_predictions: str | Path,
              out_model: str | Path, *, task: str, **kwargs: Any) -> dict:
    """One task, one seed: :func:`train_group` with ``kind="stl"``."""
    return train_group([task_json], out_metrics, out_predictions, out_model, kind="stl",
                       group=task, **kwargs)


def train_mtl(task_jsons: Sequence[str | Path], out_metrics: str | Path,
              out_predictions: str | Path, out_model: str | Path, *, group: str,
              **kwargs: Any) -> dict:
    """One group, one seed, hard parameter sharing: :func:`train_group` with ``kind="mtl"``."""
    return train_group(task_jsons, out_metrics, out_predictions, out_model, kind="mtl",
                       group=group, **kwargs)


# --------------------------------------------------------------------------- aggregation
def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float | None]:
    """Mean and the half-width t(1 − (1 − level)/2, n − 1) · s / √n of ``values``.

    ``s`` is the sample standard deviation (ddof = 1); for 5 values at 95 % the quantile is
    2.776, the paper's. With one value the half-width is ``None`` (no interval).
    """
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        raise ValueError("t_interval needs at least one value")
    mean = float(x.mean())
    if x.size == 1:
        return mean, None
    q = float(sps.t.ppf(1 - (1 - level) / 2, x.size - 1))
    return mean, q * float(x.std(ddof=1)) / math.sqrt(x.size)


def summary_rows(metrics: Iterable[Mapping[str, Any]],
                 sources: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """One row per (kind, source, group, task, seed) from metrics.json contents.

    STL rows get ``source = "stl"`` and ``group = task``; an MTL group gets one row set per
    source it comes from (``sources``: group id → sources, from :func:`group_sources`).
    """
    rows = []
    for m in metrics:
        srcs = ["stl"] if m["kind"] == "stl" else list(sources.get(m["group"], ["unlisted"]))
        for src in srcs:
            for task, t in m["test"].items():
                rows.append({"kind": m["kind"], "source": src, "group": m["group"],
                             "task": task, "seed": int(m["seed"]),
                             "accuracy": float(t["accuracy"]), "macro_f1": float(t["macro_f1"])})
    df = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    df["seed"] = df["seed"].astype("int64")
    return df.sort_values(["kind", "source", "group", "task", "seed"],
                          ignore_index=True)


def aggregate_seeds(summary: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Mean and t-interval half-width over seeds per (kind, source, group, task).

    ``acc_ci``/``f1_ci`` are NaN (written as empty) when there is one seed.
    """
    rows = []
    for key, df in summary.groupby(["kind", "source", "group", "task"], sort=True):
        acc, acc_ci = t_interval(df["accuracy"], level)
        f1, f1_ci = t_interval(df["macro_f1"], level)
        rows.append(dict(zip(("kind", "source", "group", "task"), key, strict=True),
                         n_seeds=len(df), acc_mean=acc,
                         acc_ci=np.nan if acc_ci is None else acc_ci, f1_mean=f1,
                         f1_ci=np.nan if f1_ci is None else f1_ci))
    return pd.DataFrame(rows, columns=list(AGGREGATE_COLUMNS))


def compare_mtl_stl(summary: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Paired (by seed) MTL − STL difference per (source, group, task).

    Only seeds with both an STL and an MTL run are paired (``seeds`` lists them). The interval is
    the paired t-interval of the per-seed differences and the p-value that of the paired t-test
    (``scipy.stats.ttest_rel``); both are NaN with one seed.
    """
    stl = summary[summary["kind"] == "stl"].set_index(["task", "seed"])
    rows = []
    mtl = summary[summary["kind"] == "mtl"]
    for (source, group, task), df in mtl.groupby(["source", "group", "task"], sort=True):
        paired = []
        for seed, acc, f1 in zip(df["seed"], df["accuracy"], df["macro_f1"], strict=True):
            if (task, seed) in stl.index:
                s = stl.loc[(task, seed)]
                paired.append((int(seed), float(s["accuracy"]), acc, float(s["macro_f1"]), f1))
        if not paired:
            log.warning("MTL %s task %s has no STL run with the same seed; not compared",
                        group, task)
            continue
        seeds, sa, ma, sf, mf = map(np.asarray, zip(*sorted(paired), strict=True))
        row = {"source": source, "group": group, "task": task, "n_seeds": len(seeds),
               "seeds": ",".join(map(str, seeds))}
        for name, s_vals, m_vals in (("acc", sa, ma), ("f1", sf, mf)):
            diff, ci = t_interval(m_vals - s_vals, level)
            pvalue = np.nan
            if len(seeds) > 1:
                with np.errstate(invalid="ignore", divide="ignore"):
                    pvalue = float(sps.ttest_rel(m_vals, s_vals).pvalue)
            row.update({f"stl_{name}_mean": float(s_vals.mean()),
                        f"mtl_{name}_mean": float(m_vals.mean()), f"{name}_diff": diff,
                        f"{name}_diff_ci": np.nan if ci is None else ci,
                        f"{name}_pvalue": pvalue})
        rows.append(row)
    return pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))


def collect_train(metrics_files: Iterable[str | Path], group_files: Iterable[str | Path],
                  out_summary: str | Path, out_aggregate: str | Path,
                  out_comparison: str | Path, *, model: str, level: float = 0.95
                  ) -> pd.DataFrame:
    """Collect every metrics.json of ``model`` into summary, aggregate and MTL-vs-STL tables.

    Parameters
    ----------
    metrics_files
        STL and MTL ``metrics.json`` paths.
    group_files
        The group TSVs the MTL groups came from (for the ``source`` column).
    out_summary, out_aggregate, out_comparison
        ``summary.tsv``, ``aggregate.tsv`` and ``mtl_vs_stl.tsv``.
    model
        The model key; every metrics file must belong to it.
    level
        Confidence level of the intervals.

    Returns
    -------
    pandas.DataFrame
        The aggregate table.
    """
    metrics = []
    for path in metrics_files:
        m = read_json(path)
        for key in ("kind", "group", "seed", "test", "model"):
            if key not in m:
                raise PvigroupError(f"{path}: missing key {key!r}")
        if m["model"] != model:
            raise PvigroupError(f"{path}: model {m['model']!r}, expected {model!r}")
        metrics.append(m)
    sources = group_sources(group_files)
    summary = summary_rows(metrics, sources)
    aggregate = aggregate_seeds(summary, level)
    single = aggregate.loc[aggregate["n_seeds"] < 2]
    if len(single):
        log.warning("%d result(s) have one seed: reported with n_seeds=1 and no interval",
                    len(single))
    write_tsv(summary, out_summary)
    write_tsv(aggregate, out_aggregate)
    write_tsv(compare_mtl_stl(summary, level), out_comparison)
    log.info("collected %d runs (%d STL, %d MTL) for model %s", len(metrics),
             sum(m["kind"] == "stl" for m in metrics), sum(m["kind"] == "mtl" for m in metrics),
             model)
    return aggregate


__all__ = ["GridPoint", "TrainSettings", "aggregate_seeds", "check_group", "collect_train",
           "compare_mtl_stl", "evaluate_model", "grid_points", "group_sources", "job_settings",
           "mtl_targets", "read_groups", "search_grid", "select_best", "stl_targets",
           "summary_rows", "t_interval", "train_group", "train_mtl", "train_stl"]
