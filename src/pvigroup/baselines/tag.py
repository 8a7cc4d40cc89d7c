"""TAG inter-task affinity (Fifty et al., NeurIPS 2021): lookahead updates during one MTL run.

One short MTL model (shared encoder, one head per task) is trained on all of a model key's tasks
by :func:`pvigroup.engine.train` (sampler ``every-task``: every optimizer step takes one batch of
every task). Every ``every`` steps, before the step's update, the engine's ``step_hook`` measures
the affinity of task ``i`` onto task ``j`` on those batches:

- θ_s' = θ_s − η ∇_{θ_s} L_i  (shared encoder parameters only, one plain SGD step, η =
  ``lookahead_lr``; the heads are unchanged);
- Z_{i→j} = 1 − L_j(θ_s', θ_j) / L_j(θ_s, θ_j), on task ``j``'s batch.

Z > 0: a step on ``i`` lowers ``j``'s loss. The recorded matrices are averaged (Ẑ), written with
rows = source ``i`` and columns = target ``j`` (diagonal = a task's own lookahead gain), and
symmetrised, (Ẑ + Ẑᵀ)/2, for :func:`pvigroup.baselines.grouping.baseline_groups`.

The lookahead never touches the model: θ_s' is a dictionary of new tensors passed to
:func:`torch.func.functional_call`, which runs the model's own forward with them in place of the
registered parameters. Losses are read in ``eval()`` mode (no dropout) and in float32, so the
ratio compares the same function at two parameter values and nothing else.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pvigroup import __version__
from pvigroup.baselines.grouping import write_matrix
from pvigroup.errors import PvigroupError
from pvigroup.io import write_json

log = logging.getLogger(__name__)

#: Prefix of the shared parameters in the engine's ``MultiTaskModel`` (``encoder.*``).
SHARED_PREFIX = "encoder."
#: Keys of a batch dictionary that are not model inputs.
TARGET_KEYS = ("labels", "weight")


# --------------------------------------------------------------------------- pure arithmetic
def record_steps(total_steps: int, every: int) -> list[int]:
    """The 0-based optimizer steps at which the affinity is recorded.

    Steps ``every − 1, 2·every − 1, …`` (after ``every − 1`` updates, then every ``every``); a run
    shorter than ``every`` steps records its last step, so every run records at least once.

    Parameters
    ----------
    total_steps
        Optimizer steps of the run (≥ 1).
    every
        Steps between records (≥ 1).
    """
    if total_steps < 1 or every < 1:
        raise ValueError(f"total_steps and every must be >= 1, got {total_steps} and {every}")
    steps = list(range(every - 1, total_steps, every))
    return steps or [total_steps - 1]


def affinity_from_losses(before: Sequence[float], after: np.ndarray) -> np.ndarray:
    """Lookahead affinity ``Z[i, j] = 1 − after[i, j] / before[j]``.

    Parameters
    ----------
    before
        ``L_j(θ_s, θ_j)`` per target task ``j`` (length K).
    after
        K × K; ``after[i, j] = L_j(θ_s − η ∇L_i, θ_j)``.

    Returns
    -------
    numpy.ndarray
        K × K, rows = source ``i``, columns = target ``j``; NaN in a column whose ``before`` loss
        is not positive (the ratio is undefined).
    """
    before = np.asarray(before, dtype=np.float64)
    after = np.asarray(after, dtype=np.float64)
    k = before.size
    if before.ndim != 1 or after.shape != (k, k):
        raise ValueError(f"before must have K entries and after be K x K, got shapes "
                         f"{before.shape} and {after.shape}")
    with np.errstate(divide="ignore", invalid="ignore"):
        z = 1.0 - after / before[None, :]
    z[:, ~(before > 0)] = np.nan
    return z


def mean_affinity(records: Sequence[np.ndarray]) -> np.ndarray:
    """Average of the recorded K × K matrices (Ẑ = mean_t Zᵗ), ignoring NaN entries."""
    if not len(records):
        raise ValueError("no affinity record to average")
    stack = np.stack([np.asarray(r, dtype=np.float64) for r in records])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN cell stays NaN
        return np.nanmean(stack, axis=0)


def symmetrise(affinity: pd.DataFrame) -> pd.DataFrame:
    """``(Ẑ + Ẑᵀ)/2`` with a NaN diagonal: the pair score the grouping rule reads.

    Where one direction is NaN the other is used (as for the surrogate affinity).
    """
    values = affinity.to_numpy(dtype=float)
    if values.shape[0] != values.shape[1]:
        raise ValueError(f"affinity must be square, got {values.shape}")
    both = np.stack([values, values.T])
    counts = np.sum(~np.isnan(both), axis=0)
    sym = np.where(counts > 0, np.nansum(both, axis=0) / np.maximum(counts, 1), np.nan)
    np.fill_diagonal(sym, np.nan)
    return pd.DataFrame(sym, index=affinity.index, columns=affinity.columns)


def lookahead_params(shared: Mapping[str, Any], grads: Mapping[str, Any], lr: float) -> dict:
    """One plain SGD step on the shared parameters: ``θ' = θ − lr · g`` (new tensors).

    A parameter without a gradient (``None``: unused by the loss) is kept as is.
    """
    return {name: (p if grads.get(name) is None else p - lr * grads[name])
            for name, p in shared.items()}


# --------------------------------------------------------------------------- the lookahead
def batch_loss(model, task: str, batch: Mapping[str, Any], params: Mapping[str, Any] | None = None):
    """Mean cross-entropy of ``task`` on ``batch`` (rows of weight 0 are filler and ignored).

    ``batch`` holds the model's keyword inputs plus ``labels`` (and optionally ``weight``); the
    model is called as ``model(task, **inputs)``. With ``params``, those tensors replace the
    model's parameters of the same names for this call only (:func:`torch.func.functional_call`).
    """
    import torch
    from torch.func import functional_call
    from torch.nn import functional as F

    inputs = {k: v for k, v in batch.items() if k not in TARGET_KEYS}
    if params is None:
        logits = model(task, **inputs)
    else:
        logits = functional_call(model, dict(params), args=(task,), kwargs=inputs)
    labels = batch["labels"]
    weight = batch.get("weight")
    if weight is None:
        weight = torch.ones(labels.shape[0], dtype=torch.float32, device=labels.device)
    rows = F.cross_entropy(logits.float(), labels, reduction="none") * weight
    return rows.sum() / weight.sum()


def shared_parameters(model, prefix: str = SHARED_PREFIX) -> dict:
    """The trainable parameters whose names start with ``prefix`` (the shared encoder)."""
    shared = {n: p for n, p in model.named_parameters() if n.startswith(prefix) and p.requires_grad}
    if not shared:
        raise PvigroupError(f"model has no trainable parameter named {prefix}*")
    return shared


def lookahead_affinity(model, batches: Mapping[str, Mapping[str, Any]], lr: float, *,
                       prefix: str = SHARED_PREFIX) -> np.ndarray:
    """One TAG record: ``Z[i, j]`` for every source ``i`` and target ``j`` on these batches.

    For each source ``i``: the gradient of ``L_i`` with respect to the shared parameters, one
    SGD step of size ``lr`` on a copy of them (:func:`lookahead_params`), then every target's
    loss on its own batch with the stepped copy (:func:`batch_loss` through
    :func:`torch.func.functional_call`). The model's parameters, gradients and mode are left as
    they were; dropout is off while the losses are read.

    Parameters
    ----------
    model
        Called as ``model(task, **inputs)``; the shared parameters are those named ``prefix*``.
    batches
        Task → batch (see :func:`batch_loss`); the order of the keys is the row/column order.
    lr
        Lookahead step size η.

    Returns
    -------
    numpy.ndarray
        K × K float64, rows = source, columns = target.
    """
    import torch

    names = list(batches)
    shared = shared_parameters(model, prefix)
    keys = list(shared)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            before = [float(batch_loss(model, t, batches[t])) for t in names]
        after = np.empty((len(names), len(names)), dtype=np.float64)
        for i, source in enumerate(names):
            loss = batch_loss(model, source, batches[source])
            grads = torch.autograd.grad(loss, [shared[k] for k in keys], allow_unused=True)
            with torch.no_grad():
                stepped = lookahead_params({k: shared[k].detach() for k in keys},
                                           dict(zip(keys, grads, strict=True)), lr)
                for j, target in enumerate(names):
                    after[i, j] = float(batch_loss(model, target, batches[target], stepped))
            del grads, stepped
    finally:
        model.train(was_training)
    return affinity_from_losses(before, after)


# --------------------------------------------------------------------------- the MTL run
@dataclass
class TagResult:
    """What :func:`run_tag` returns: the averaged matrix and how it was obtained."""

    tasks: list[str]
    affinity: pd.DataFrame
    records: list[dict] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)
    total_steps: int = 0
    steps_per_epoch: int = 0
    dev: dict[str, dict[str, float]] = field(default_factory=dict)


def _subsample(df: pd.DataFrame, n: int | None, seed: int) -> pd.DataFrame:
    if n is None or len(df) <= n:
        return df
    return df.sample(n=n, random_state=seed).sort_index().reset_index(drop=True)


def run_tag(pretrained: str, tasks: Sequence, *, hparams: Mapping[str, Any], lookahead_lr: float,
            every: int, seed: int, options=None) -> TagResult:
    """Train one short MTL model on ``tasks`` with the engine and record the lookahead affinity.

    The run is :func:`pvigroup.engine.train` with the ``every-task`` sampler: every optimizer
    step takes one batch of every task (each task's rows reshuffled per epoch, a shorter task
    cycling through its batches again), and an epoch has as many steps as the largest task has
    batches. Each task's loss weight is K (the number of tasks), so that the step's loss, which
    the engine averages over its K batches, is the sum of the tasks' mean losses (TAG's total
    loss). The dev sets are read out after the last epoch. At the steps of :func:`record_steps` the engine's ``step_hook`` records the affinity
    on the step's batches, before the step's forward pass and update. The trained model itself
    is discarded; a run stopped by SIGTERM starts over.

    Parameters
    ----------
    pretrained
        Encoder (hub id resolved to a local directory, or a path).
    tasks
        ``pvigroup.engine.TaskData`` of at least two tasks with distinct names.
    hparams
        ``epochs``, ``batch_size``, ``lr``, ``max_length`` (``warmup_ratio`` and
        ``weight_decay`` optional, default 0; ``max_grad_norm`` optional, default 1.0, 0 = off).
    lookahead_lr
        η of the lookahead SGD step.
    every
        Steps between records.
    seed
        Seeds the heads, dropout and the batch order.
    options
        ``pvigroup.engine.EngineOptions`` (device, precision, compilation, buckets, threads).
    """
    import tempfile

    from pvigroup.engine import EngineOptions, TrainParams, train

    options = options or EngineOptions()
    tasks = list(tasks)
    if len(tasks) < 2:
        raise PvigroupError(f"TAG needs at least two tasks, got {len(tasks)} "
                            f"({', '.join(t.name for t in tasks)})")
    if not lookahead_lr > 0 or every < 1:
        raise PvigroupError(f"baselines.tag: lookahead_lr must be > 0 and every >= 1, got "
                            f"{lookahead_lr!r} and {every!r}")
    k = len(tasks)
    # dev is read out once, after the last epoch: the only epoch "kept" (the model is discarded)
    last = (int(hparams["epochs"]),) if all(t.dev is not None and len(t.dev) for t in tasks) else None
    params = TrainParams(epochs=int(hparams["epochs"]), batch_size=int(hparams["batch_size"]),
                         lr=float(hparams["lr"]), max_length=int(hparams["max_length"]),
                         warmup_ratio=float(hparams.get("warmup_ratio", 0.0)),
                         weight_decay=float(hparams.get("weight_decay", 0.0)),
                         max_grad_norm=float(hparams.get("max_grad_norm", 1.0)), seed=int(seed),
                         sampler="every-task", grad_accum=k,
                         loss_weights={t.name: float(k) for t in tasks},
                         select_on_dev=last is not None, select_epochs=last)
    recorder = _Recorder(lookahead_lr, every)
    with tempfile.TemporaryDirectory(prefix="pvigroup-tag-") as tmp:
        result = train(pretrained, tasks, params, Path(tmp) / "model", options=options,
                       resume_dir=Path(tmp) / "resume", step_hook=recorder)
    names = [t.name for t in tasks]
    z_hat = mean_affinity([np.asarray(r["affinity"]) for r in recorder.records])
    affinity = pd.DataFrame(z_hat, index=names, columns=names)
    order = sorted(names)
    return TagResult(tasks=order, affinity=affinity.loc[order, order], records=recorder.records,
                     history=[{key: v for key, v in e.items() if key != "samples_per_s"}
                              for e in result.history],  # no timing: a reproducible sidecar
                     total_steps=recorder.total_steps,
                     steps_per_epoch=recorder.steps_per_epoch,
                     dev=result.history[-1]["dev"] if result.history else {})


class _Recorder:
    """The engine's ``step_hook`` of a TAG run: a lookahead record at the recorded steps."""

    def __init__(self, lookahead_lr: float, every: int):
        self.lookahead_lr, self.every = lookahead_lr, every
        self.records: list[dict] = []
        self.recorded: set[int] | None = None
        self.total_steps = self.steps_per_epoch = 0

    def __call__(self, view) -> None:
        if self.recorded is None:
            self.total_steps, self.steps_per_epoch = view.total_steps, view.steps_per_epoch
            self.recorded = set(record_steps(view.total_steps, self.every))
            log.info("TAG: %d tasks, %d steps/epoch = %d steps (one batch of every task per "
                     "step), %d affinity records (every %d steps, lookahead lr %g)",
                     len(view.batches), view.steps_per_epoch, view.total_steps,
                     len(self.recorded), self.every, self.lookahead_lr)
        if view.step not in self.recorded:
            return
        batches = {task: view.inputs(i) for i, (task, _) in enumerate(view.batches)}
        z = lookahead_affinity(view.model, batches, self.lookahead_lr)
        self.records.append({"step": view.step, "epoch": view.epoch + 1, "affinity": z.tolist()})


def tag_affinity(data_dirs: Sequence[str | Path], out_affinity: str | Path,
                 out_symmetric: str | Path, out_json: str | Path, *, model: str, pretrained: str,
                 hparams: Mapping[str, Any], lookahead_lr: float, every: int,
                 max_train_rows: int | None, seed: int,
                 engine: Mapping[str, Any]) -> pd.DataFrame:
    """The ``tag_affinity`` rule: one TAG run over a model key's tasks; write the matrices.

    Parameters
    ----------
    data_dirs
        Prepared task directories (``results/data/{task}``) of every task of ``model``.
    out_affinity
        Ẑ (task × task TSV, :func:`pvigroup.baselines.grouping.write_matrix` layout): row =
        source ``i``, column = target ``j``, diagonal included.
    out_symmetric
        (Ẑ + Ẑᵀ)/2 with a NaN diagonal, read by the ``baseline_groups`` checkpoint.
    out_json
        Sidecar: settings, seed(s), steps, every record's matrix, train losses, dev scores.
    model, pretrained
        Model key and its ``pretrained`` spec.
    hparams
        Short MTL run: ``epochs``, ``batch_size``, ``lr``, ``max_length``.
    lookahead_lr, every, seed
        See :func:`run_tag`.
    max_train_rows
        Seeded subsample of each task's train split (None = all rows).
    engine
        The validated ``engine:`` config section.

    Returns
    -------
    pandas.DataFrame
        Ẑ.
    """
    from pvigroup.config import engine_options, resolve_pretrained
    from pvigroup.pvi import load_task

    tasks = [load_task(d) for d in data_dirs]
    tasks = [type(t)(name=t.name, labels=t.labels,
                     train=_subsample(t.train, max_train_rows, int(seed)), dev=t.dev)
             for t in tasks]
    result = run_tag(resolve_pretrained(pretrained), tasks, hparams=hparams,
                     lookahead_lr=lookahead_lr, every=every, seed=seed,
                     options=engine_options(engine))
    bad = [f"({i}, {j})" for i in result.tasks for j in result.tasks
           if not math.isfinite(result.affinity.loc[i, j])]
    if bad:
        log.warning("TAG: no finite affinity for %s (a target's loss was zero)", ", ".join(bad))
    write_matrix(result.affinity, out_affinity)
    write_matrix(symmetrise(result.affinity), out_symmetric)
    write_json({"model": model, "method": "tag", "tasks": result.tasks,
                "record_order": [t.name for t in tasks], "pretrained": pretrained,
                "settings": {"train": dict(hparams), "lookahead_lr": lookahead_lr,
                             "every": every, "max_train_rows": max_train_rows, "seed": seed},
                "seeds": [int(seed)],
                "n_train": {t.name: len(t.train) for t in tasks},
                "total_steps": result.total_steps, "steps_per_epoch": result.steps_per_epoch,
                "steps_recorded": [r["step"] for r in result.records],
                "records": result.records,
                "history": result.history, "dev": result.dev, "pvigroup": __version__},
               out_json)
    log.info("TAG: affinity of %d tasks from %d records written to %s", len(result.tasks),
             len(result.records), out_affinity)
    return result.affinity


__all__ = [
    "TagResult",
    "affinity_from_losses",
    "batch_loss",
    "lookahead_affinity",
    "lookahead_params",
    "mean_affinity",
    "record_steps",
    "run_tag",
    "shared_parameters",
    "symmetrise",
    "tag_affinity",
]
