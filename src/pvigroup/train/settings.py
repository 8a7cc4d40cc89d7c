"""Job settings and the hyper-parameter grid of STL/MTL training (the ``train:`` section)."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pvigroup.errors import PvigroupError

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
    max_grad_norm
        Clip the global gradient norm to this before each optimizer step (0 = off).
    head
        ``cnlp`` (the default: cnlp_transformers' head) or ``hf`` (see
        :mod:`pvigroup.engine.heads`).
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
    max_grad_norm: float = 1.0
    head: str = "cnlp"
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
