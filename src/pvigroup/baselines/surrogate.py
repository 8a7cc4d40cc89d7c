"""Surrogate-model task affinities (Li, Nguyen and Zhang, TMLR 2023).

1. Sample ``m`` task subsets (seeded; sizes drawn uniformly from ``sizes``).
2. Train a short MTL run on each subset through the engine and record every member's dev
   performance (:func:`run_subset`, one Snakemake job per subset).
3. For each target task ``i``, regress its performance on the 0/1 membership of the other tasks
   over the subsets that contain ``i`` (:func:`fit_coefficients`): ``θ_ij`` is how much having
   ``j`` in the group moves ``i``'s dev score.
4. Affinity ``A = (Θ + Θᵀ)/2`` (:func:`surrogate_fit`), then greedy disjoint pairs and triples
   by mean affinity (:func:`pvigroup.baselines.grouping.baseline_groups`).

Details (see docs/baselines.md): performance is standardised per target (mean, sd + 1e-3, as in
the authors' grouping notebook) so that targets on different scales weigh equally after
symmetrisation; with a loss metric the sign is flipped so higher is better. Coefficients are
centred per target, because with fixed-size subsets the membership columns sum to a constant and
are identified only up to a common shift (the intercept absorbs it); centring makes them unique
and keeps only the comparison that grouping needs: which partners help ``i`` more than others.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import math
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pvigroup import __version__
from pvigroup.baselines.grouping import write_matrix
from pvigroup.errors import PvigroupError
from pvigroup.io import read_json, write_json
from pvigroup.workflow import group_id

log = logging.getLogger(__name__)

METRICS = ("accuracy", "macro_f1", "loss")
ESTIMATORS = ("ols", "ridge", "average")


# --------------------------------------------------------------------------- sampling
def n_candidate_subsets(n_tasks: int, sizes: Sequence[int]) -> int:
    """How many distinct subsets of ``n_tasks`` tasks have a size in ``sizes``."""
    return sum(math.comb(n_tasks, k) for k in set(sizes) if 2 <= k <= n_tasks)


def sample_subsets(tasks: Sequence[str], n_subsets: int, sizes: Sequence[int], seed: int, *,
                   max_runs: int | None = None) -> list[str]:
    """Draw distinct task subsets, deterministically from ``seed`` and the task list.

    Each draw picks a size uniformly from ``sizes`` (those that fit), then a subset of that size
    uniformly among those not drawn yet (Li et al. sample uniformly and skip duplicates; drawing
    among the remaining ones gives exactly ``n_subsets`` distinct subsets). When ``n_subsets``
    reaches the number of candidates, every candidate is returned.

    The subsets of one size are taken in the order of a seeded hash of their ids (a uniformly
    random order that does not depend on which other tasks exist), so adding a task keeps an
    earlier subset unless a new subset holding the new task ranks before it: only those runs
    change, instead of a fresh draw of all of them.

    Parameters
    ----------
    tasks
        Task ids (order and duplicates do not matter).
    n_subsets
        Number of subsets wanted (m).
    sizes
        Allowed subset sizes (each ≥ 2).
    seed
        Seed of the draw.
    max_runs
        Budget cap: at most this many subsets are returned (None = no cap).

    Returns
    -------
    list of str
        Subset ids (group ids, ``a__b__c``), sorted.
    """
    names = sorted(set(tasks))
    if any(k < 2 for k in sizes):
        raise PvigroupError(f"baselines.surrogate.sizes: sizes must be at least 2, got {sizes}")
    usable = sorted(k for k in set(sizes) if k <= len(names))
    if not usable:
        raise PvigroupError(f"baselines.surrogate.sizes: no size in {list(sizes)} fits "
                            f"{len(names)} task(s) ({', '.join(names)})")
    want = n_subsets if max_runs is None else min(n_subsets, max_runs)
    if max_runs is not None and n_subsets > max_runs:
        log.warning("surrogate: %d subsets requested, capped at max_runs=%d", n_subsets, max_runs)
    remaining = {k: [group_id(c) for c in itertools.combinations(names, k)] for k in usable}
    total = sum(len(v) for v in remaining.values())
    if want >= total:
        return sorted(g for v in remaining.values() for g in v)
    for k in usable:  # popped from the end: lowest hash first
        remaining[k].sort(key=lambda g: _rank(seed, g), reverse=True)
    rng = np.random.default_rng(seed)
    chosen: list[str] = []
    while len(chosen) < want:
        open_sizes = [k for k in usable if remaining[k]]
        k = open_sizes[int(rng.integers(len(open_sizes)))]
        chosen.append(remaining[k].pop())
    return sorted(chosen)


def _rank(seed: int, subset: str) -> bytes:
    """A seeded pseudo-random rank of a subset id, independent of the other candidates."""
    return hashlib.sha256(f"{int(seed)}\0{subset}".encode()).digest()


def surrogate_plan(tasks: Sequence[str], cfg: Mapping[str, Any]) -> list[str]:
    """Subset ids for the validated ``baselines.surrogate`` section, with the budget logged."""
    subsets = sample_subsets(tasks, cfg["n_subsets"], cfg["sizes"], cfg["seed"],
                             max_runs=cfg["max_runs"])
    runs = len(subsets) * len(cfg["seeds"])
    log.info("surrogate: %d task subsets x %d seed(s) = %d short MTL runs over %d tasks",
             len(subsets), len(cfg["seeds"]), runs, len(set(tasks)))
    return subsets


# --------------------------------------------------------------------------- training runs
def _dev_scores(logprobs: np.ndarray, labels: np.ndarray, n_labels: int) -> dict[str, float]:
    from pvigroup.metrics import macro_f1

    pred = logprobs.argmax(axis=1)
    nll = -logprobs[np.arange(labels.size), labels]
    return {"accuracy": float(np.mean(pred == labels)),
            "macro_f1": macro_f1(labels, pred, n_labels),
            "loss": float(np.mean(nll))}


def _subsample(df: pd.DataFrame, n: int | None, seed: int) -> pd.DataFrame:
    if n is None or len(df) <= n:
        return df
    return df.sample(n=n, random_state=seed).sort_index().reset_index(drop=True)


def run_subset(data_dirs: Sequence[str | Path], out_json: str | Path, *, subset: str, model: str,
               pretrained: str, hparams: Mapping[str, Any], seeds: Sequence[int],
               max_train_rows: int | None, engine: Mapping[str, Any]) -> dict[str, Any]:
    """Train one short MTL run per seed on a task subset; write each member's dev scores.

    Parameters
    ----------
    data_dirs
        Prepared task directories (``results/data/{task}``) of the subset's members.
    out_json
        Output: ``{"subset", "tasks", "model", "seeds", "dev": {task: {metric: mean over
        seeds}}, "per_seed": [...]}``.
    subset
        The subset id (its members joined by ``__``); must match ``data_dirs``.
    model, pretrained
        Model key and its ``pretrained`` spec.
    hparams
        Engine training parameters (epochs, batch_size, lr, max_length, ...).
    seeds
        One run per seed; scores are averaged over seeds.
    max_train_rows
        Seeded subsample of each member's train split (None = all rows).
    engine
        The validated ``engine:`` config section.
    """
    from pvigroup.config import engine_options, resolve_pretrained
    from pvigroup.engine import TrainParams, predict_logprobs, train
    from pvigroup.pvi import load_task

    tasks = [load_task(d) for d in data_dirs]
    names = [t.name for t in tasks]
    if group_id(names) != subset:
        raise PvigroupError(f"{out_json}: subset {subset!r} does not match its data "
                            f"directories ({', '.join(map(str, data_dirs))})")
    for t in tasks:
        if t.dev is None or len(t.dev) == 0:
            raise PvigroupError(f"results/data/{t.name}/dev.parquet: empty dev split; the "
                                "surrogate needs dev scores")
    out_json = Path(out_json)
    options = engine_options(engine)
    per_seed = []
    for seed in seeds:
        params = TrainParams(**{**dict(hparams), "seed": int(seed)}, select_on_dev=False)
        run_tasks = [type(t)(name=t.name, labels=t.labels,
                             train=_subsample(t.train, max_train_rows, int(seed)), dev=t.dev)
                     for t in tasks]
        log.info("surrogate run %s seed %d: %s", subset, seed, params)
        out_json.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=out_json.parent, prefix=f".{subset}.") as tmp:
            model_dir = Path(tmp) / "model"
            train(resolve_pretrained(pretrained), run_tasks, params, model_dir, options=options)
            scores = {}
            for t in tasks:
                logp = predict_logprobs(model_dir, t.name, t.dev, null_input=False,
                                        options=options)
                labels = t.dev["label"].to_numpy(dtype=np.int64)
                scores[t.name] = _dev_scores(np.asarray(logp), labels, len(t.labels))
        per_seed.append({"seed": int(seed), "dev": scores})
    dev = {name: {m: float(np.mean([r["dev"][name][m] for r in per_seed])) for m in METRICS}
           for name in names}
    result = {"subset": subset, "tasks": sorted(names), "model": model, "seeds": list(seeds),
              "hparams": dict(hparams), "max_train_rows": max_train_rows, "dev": dev,
              "per_seed": per_seed, "pvigroup": __version__}
    write_json(result, out_json)
    return result


# --------------------------------------------------------------------------- fitting
def performance_table(run_jsons: Sequence[str | Path]) -> pd.DataFrame:
    """Long table ``subset, task, accuracy, macro_f1, loss`` from :func:`run_subset` outputs."""
    rows = []
    for path in run_jsons:
        run = read_json(path)
        for key in ("subset", "tasks", "dev"):
            if key not in run:
                raise PvigroupError(f"{path}: missing key {key!r}")
        for task in run["tasks"]:
            if task not in run["dev"]:
                raise PvigroupError(f"{path}: no dev scores for member {task!r}")
            rows.append({"subset": run["subset"], "task": task,
                         **{m: float(run["dev"][task][m]) for m in METRICS}})
    return pd.DataFrame(rows, columns=["subset", "task", *METRICS])


def _ridge(X: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    """Ridge with an unpenalised intercept; returns the slope coefficients."""
    Xc = X - X.mean(axis=0)
    yc = y - y.mean()
    return np.linalg.solve(Xc.T @ Xc + alpha * np.eye(X.shape[1]), Xc.T @ yc)


def _ols(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """OLS slopes (statsmodels, with intercept); minimum-norm when the design is rank-deficient.

    Fixed-size subsets make the membership columns sum to a constant, so the design has rank
    one less than its width; the slopes are then unique up to a common shift, which the
    per-target centring in :func:`fit_coefficients` removes.
    """
    import warnings

    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import SingularMatrixWarning

    design = np.column_stack([np.ones(len(y)), X])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularMatrixWarning)
        fit = sm.OLS(y, design).fit(method="pinv")
    deficiency = design.shape[1] - int(np.linalg.matrix_rank(design))
    fixed_size = np.ptp(X.sum(axis=1)) == 0
    if deficiency > 1 or (deficiency == 1 and not fixed_size):
        rank = design.shape[1] - deficiency
        log.warning("surrogate: OLS design has rank %d for %d columns; some coefficients are "
                    "not identified even after centring", rank, design.shape[1])
    return np.asarray(fit.params[1:], dtype=float)


def fit_coefficients(perf: pd.DataFrame, tasks: Sequence[str], *, metric: str = "accuracy",
                     estimator: str = "ols", ridge_alpha: float = 1e-2) -> pd.DataFrame:
    """Per-target surrogate coefficients ``Θ[i, j]``: effect of ``j``'s presence on ``i``.

    Parameters
    ----------
    perf
        Long table with columns ``subset``, ``task`` and ``metric`` (see
        :func:`performance_table`); ``subset`` ids list the members joined by ``__``.
    tasks
        All task ids (rows and columns of the result).
    metric
        ``accuracy``, ``macro_f1`` or ``loss`` (negated, so higher is better).
    estimator
        ``ols`` (statsmodels, with intercept), ``ridge`` (unpenalised intercept, ``ridge_alpha``)
        or ``average`` (mean standardised score over the subsets containing ``j``, the authors'
        averaging estimator).
    ridge_alpha
        Ridge penalty.

    Returns
    -------
    pandas.DataFrame
        Task × task; row = target ``i``, column = partner ``j``. Centred per row over the
        partners that could be estimated; NaN where ``j`` never (or always) joined ``i`` and on
        the diagonal.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    names = sorted(set(tasks))
    theta = pd.DataFrame(np.nan, index=names, columns=names, dtype=float)
    for target in names:
        rows = perf[perf["task"] == target]
        if rows.empty:
            log.warning("surrogate: task %s is in no sampled subset; no coefficients", target)
            continue
        y = rows[metric].to_numpy(dtype=float)
        if metric == "loss":
            y = -y
        y = (y - y.mean()) / (y.std() + 1e-3)
        members = [set(s.split("__")) for s in rows["subset"]]
        others = [t for t in names if t != target]
        X = np.array([[t in m for t in others] for m in members], dtype=float)
        seen = X.any(axis=0) & ~X.all(axis=0)
        for t, ok in zip(others, seen, strict=True):
            if not ok:
                log.warning("surrogate: partner %s is %s with %s in the sampled subsets; its "
                            "effect cannot be estimated", t,
                            "never" if not X[:, others.index(t)].any() else "always", target)
        cols = [t for t, ok in zip(others, seen, strict=True) if ok]
        if not cols:
            continue
        Xs = X[:, seen]
        if estimator == "average":
            coef = np.array([y[Xs[:, c] == 1].mean() for c in range(Xs.shape[1])])
        elif estimator == "ridge":
            coef = _ridge(Xs, y, ridge_alpha)
        else:
            if len(y) < Xs.shape[1] + 1:
                log.warning("surrogate: %d observations for %d coefficients of target %s; "
                            "the OLS fit is under-determined (minimum-norm solution)",
                            len(y), Xs.shape[1] + 1, target)
            coef = _ols(Xs, y)
        coef = coef - coef.mean()
        theta.loc[target, cols] = coef
    return theta


def affinity_matrix(theta: pd.DataFrame) -> pd.DataFrame:
    """Symmetrised affinity ``(Θ + Θᵀ)/2``; where one direction is unknown, the other is used."""
    values = theta.to_numpy(dtype=float)
    both = np.stack([values, values.T])
    with np.errstate(invalid="ignore"):
        counts = np.sum(~np.isnan(both), axis=0)
        sym = np.where(counts > 0, np.nansum(both, axis=0) / np.maximum(counts, 1), np.nan)
    np.fill_diagonal(sym, np.nan)
    return pd.DataFrame(sym, index=theta.index, columns=theta.columns)


def surrogate_fit(run_jsons: Sequence[str | Path], out_affinity: str | Path,
                  out_coefficients: str | Path, *, tasks: Sequence[str], metric: str = "accuracy",
                  estimator: str = "ols", ridge_alpha: float = 1e-2) -> pd.DataFrame:
    """Fit the surrogate on all subset runs; write the coefficients and the affinity matrix.

    Parameters
    ----------
    run_jsons
        Outputs of :func:`run_subset`.
    out_affinity
        Symmetrised affinity (task × task TSV), read by
        :func:`pvigroup.baselines.grouping.baseline_groups`.
    out_coefficients
        Per-target coefficients Θ (row = target, column = partner).
    tasks
        The model's tasks.
    metric, estimator, ridge_alpha
        See :func:`fit_coefficients`.

    Returns
    -------
    pandas.DataFrame
        The affinity matrix.
    """
    perf = performance_table(run_jsons)
    missing = sorted(set(perf["task"]) - set(tasks))
    if missing:
        raise PvigroupError(f"surrogate runs name task(s) {missing} not used by this model")
    theta = fit_coefficients(perf, tasks, metric=metric, estimator=estimator,
                             ridge_alpha=ridge_alpha)
    affinity = affinity_matrix(theta)
    write_matrix(theta, out_coefficients)
    write_matrix(affinity, out_affinity)
    log.info("surrogate: %s fit on %d runs of %d tasks (%s)", estimator,
             perf["subset"].nunique(), len(set(tasks)), metric)
    return affinity


__all__ = [
    "affinity_matrix",
    "fit_coefficients",
    "n_candidate_subsets",
    "performance_table",
    "run_subset",
    "sample_subsets",
    "surrogate_fit",
    "surrogate_plan",
]
