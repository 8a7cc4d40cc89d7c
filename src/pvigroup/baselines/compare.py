"""Baseline groupings against the PVI groupings and against STL (Tables 11-14).

Both functions read ``results/train/{model}/aggregate.tsv`` (one row per kind, source, group and
task: seed mean and 95 % t-interval half-width of accuracy and macro-F1).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from pvigroup.errors import PvigroupError
from pvigroup.io import read_tsv, write_tsv

log = logging.getLogger(__name__)

AGGREGATE_COLUMNS = ["kind", "source", "group", "task", "n_seeds", "acc_mean", "acc_ci",
                     "f1_mean", "f1_ci"]
COMPARISON_COLUMNS = ["group", "task", "ours_acc", "ours_acc_ci", "ours_f1", "ours_f1_ci",
                      "base_acc", "base_acc_ci", "base_f1", "base_f1_ci", "ours_group",
                      "ours_kind"]
BEAT_STL_COLUMNS = ["source", "n_groups", "n_rows", "acc_wins", "f1_wins", "acc_win_rate",
                    "f1_win_rate", "acc_clear_wins", "f1_clear_wins", "group_acc_wins",
                    "group_f1_wins", "mean_acc_gain", "mean_f1_gain"]


def read_aggregate(path: str | Path) -> pd.DataFrame:
    """Read ``aggregate.tsv`` and check its columns."""
    df = read_tsv(path)
    missing = [c for c in AGGREGATE_COLUMNS if c not in df.columns]
    if missing:
        raise PvigroupError(f"{path}: missing column(s) {missing}")
    for c in ("kind", "source", "group", "task"):
        df[c] = df[c].astype(str)
    for c in ("acc_mean", "acc_ci", "f1_mean", "f1_ci"):
        df[c] = df[c].astype(float)
    return df


def best_ours(agg: pd.DataFrame, task: str, ours: str = "pvi-similar") -> pd.Series | None:
    """Our result for ``task``: its best MTL row among the PVI groups, else its STL row.

    "Best" is the highest mean accuracy (then macro-F1, then group id). A task no PVI group
    contains is trained alone by our method, so its STL result is ours. None when neither
    exists.
    """
    rows = agg[(agg["kind"] == "mtl") & (agg["source"] == ours) & (agg["task"] == task)]
    if rows.empty:
        rows = agg[(agg["kind"] == "stl") & (agg["task"] == task)]
    if rows.empty:
        return None
    rows = rows.assign(_neg_acc=-rows["acc_mean"], _neg_f1=-rows["f1_mean"])
    return rows.sort_values(["_neg_acc", "_neg_f1", "group"]).iloc[0]


def compare_with_pvi(aggregate_tsv: str | Path, method: str, out_tsv: str | Path, *,
                     ours: str = "pvi-similar") -> pd.DataFrame:
    """One row per (baseline group, member task): our result next to the baseline's.

    Parameters
    ----------
    aggregate_tsv
        ``results/train/{model}/aggregate.tsv``.
    method
        The baseline source (``taskemb``, ``surrogate``): its MTL rows are the ``base_*`` columns.
    out_tsv
        ``results/baselines/{method}/{model}/comparison.tsv`` with columns ``group, task,
        ours_acc, ours_acc_ci, ours_f1, ours_f1_ci, base_acc, base_acc_ci, base_f1,
        base_f1_ci`` and, for traceability, ``ours_group`` and ``ours_kind`` (mtl or stl).
    ours
        Source of our groups (default ``pvi-similar``); see :func:`best_ours`.

    Returns
    -------
    pandas.DataFrame
        The rows written (header only when the aggregate has no MTL row of ``method``: the
        method's groups were not trained, e.g. it is missing from ``train.sources``).
    """
    agg = read_aggregate(aggregate_tsv)
    base = agg[(agg["kind"] == "mtl") & (agg["source"] == method)]
    base = base.sort_values(["group", "task"])
    if base.empty:
        log.warning("%s: no MTL result of source %r (is %r in train.sources, and did it form "
                    "any group?); writing an empty comparison", aggregate_tsv, method, method)
    rows = []
    for r in base.itertuples():
        mine = best_ours(agg, r.task, ours)
        rows.append({
            "group": r.group, "task": r.task,
            "ours_acc": mine["acc_mean"] if mine is not None else np.nan,
            "ours_acc_ci": mine["acc_ci"] if mine is not None else np.nan,
            "ours_f1": mine["f1_mean"] if mine is not None else np.nan,
            "ours_f1_ci": mine["f1_ci"] if mine is not None else np.nan,
            "base_acc": r.acc_mean, "base_acc_ci": r.acc_ci,
            "base_f1": r.f1_mean, "base_f1_ci": r.f1_ci,
            "ours_group": mine["group"] if mine is not None else "",
            "ours_kind": mine["kind"] if mine is not None else "",
        })
    out = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    write_tsv(out, out_tsv)
    if len(out):
        better = int((out["ours_acc"] > out["base_acc"]).sum())
        log.info("%s vs %s: ours has the higher accuracy on %d of %d task rows", ours, method,
                 better, len(out))
    return out


def beat_stl(aggregate_tsv: str | Path, out_tsv: str | Path) -> pd.DataFrame:
    """How often each source's MTL groups beat STL, per task row and per group.

    A task row wins when its MTL mean exceeds the task's STL mean; it wins clearly when the
    intervals do not overlap (MTL mean − CI > STL mean + CI). A group wins when the mean gain
    over its members is positive. Written with one row per source (``pvi-similar``,
    ``pvi-dissimilar``, ``manual``, ``taskemb``, ``surrogate``, ... whatever was trained).
    """
    agg = read_aggregate(aggregate_tsv)
    stl = agg[agg["kind"] == "stl"].drop_duplicates("task").set_index("task")
    mtl = agg[agg["kind"] == "mtl"]
    no_stl = sorted(set(mtl["task"]) - set(stl.index))
    if no_stl:
        log.warning("%s: no STL result for task(s) %s; their MTL rows are left out",
                    aggregate_tsv, no_stl)
    mtl = mtl[mtl["task"].isin(stl.index)]
    rows = []
    for source, df in mtl.groupby("source", sort=True):
        s = stl.loc[df["task"]]
        acc_gain = df["acc_mean"].to_numpy() - s["acc_mean"].to_numpy()
        f1_gain = df["f1_mean"].to_numpy() - s["f1_mean"].to_numpy()
        acc_clear = (df["acc_mean"].to_numpy() - np.nan_to_num(df["acc_ci"].to_numpy())
                     > s["acc_mean"].to_numpy() + np.nan_to_num(s["acc_ci"].to_numpy()))
        f1_clear = (df["f1_mean"].to_numpy() - np.nan_to_num(df["f1_ci"].to_numpy())
                    > s["f1_mean"].to_numpy() + np.nan_to_num(s["f1_ci"].to_numpy()))
        per_group = pd.DataFrame({"group": df["group"].to_numpy(), "acc": acc_gain,
                                  "f1": f1_gain}).groupby("group").mean()
        n = len(df)
        rows.append({
            "source": source, "n_groups": int(df["group"].nunique()), "n_rows": n,
            "acc_wins": int((acc_gain > 0).sum()), "f1_wins": int((f1_gain > 0).sum()),
            "acc_win_rate": float((acc_gain > 0).mean()), "f1_win_rate": float((f1_gain > 0).mean()),
            "acc_clear_wins": int(acc_clear.sum()), "f1_clear_wins": int(f1_clear.sum()),
            "group_acc_wins": int((per_group["acc"] > 0).sum()),
            "group_f1_wins": int((per_group["f1"] > 0).sum()),
            "mean_acc_gain": float(acc_gain.mean()), "mean_f1_gain": float(f1_gain.mean()),
        })
    out = pd.DataFrame(rows, columns=BEAT_STL_COLUMNS)
    write_tsv(out, out_tsv)
    return out
