"""The MTL gain of every trained group: MTL − STL per member task, paired by seed.

A task's gain in one seed is its MTL test score in the group's run with that seed minus its STL
test score in the STL run with the same seed. Over the seeds the mean gain gets the same
t-interval as the training tables (:func:`pvigroup.train.t_interval`: mean ± t(1 − (1 − level)/2,
n − 1) · s / √n). A group's gain in one seed is the mean of its tasks' gains in that seed, over
the seeds every task of the group has in both STL and MTL; its interval is the t-interval of
those per-seed means.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pvigroup.errors import PvigroupError
from pvigroup.train.aggregate import t_interval
from pvigroup.train.settings import SUMMARY_COLUMNS

#: The two scores compared: column of summary.tsv -> prefix of the gain columns.
METRICS = {"accuracy": "acc", "macro_f1": "f1"}
KEY = ("source", "group", "task")


def _gain_columns(prefix: str) -> list[str]:
    return [f"{prefix}_gain", f"{prefix}_gain_ci", f"{prefix}_gain_lo", f"{prefix}_gain_hi"]


TASK_COLUMNS = ("model", "source", "group", "size", "task", "n_seeds", "seeds",
                *(c for p in METRICS.values() for c in _gain_columns(p)))
GROUP_COLUMNS = ("model", "source", "group", "size", "tasks", "n_seeds", "seeds",
                 *(c for p in METRICS.values() for c in _gain_columns(p)))


@dataclass(frozen=True)
class GainResult:
    """The gains of one model's trained groups.

    Attributes
    ----------
    tasks : pandas.DataFrame
        One row per (source, group, task): ``TASK_COLUMNS``. ``*_gain`` is the mean MTL − STL
        difference over the paired seeds, ``*_gain_ci`` the t half-width (NaN with one seed),
        ``*_gain_lo``/``*_gain_hi`` the interval's bounds (NaN with one seed).
    groups : pandas.DataFrame
        One row per (source, group): ``GROUP_COLUMNS``, the group's mean gain over its tasks.
    per_seed : pandas.DataFrame
        The paired differences themselves: ``source, group, task, seed, acc_diff, f1_diff``.
    level : float
        Confidence level of the intervals.
    """

    tasks: pd.DataFrame
    groups: pd.DataFrame
    per_seed: pd.DataFrame
    level: float


def _interval(values: Sequence[float], level: float) -> tuple[float, float, float, float]:
    mean, half = t_interval(values, level)
    if half is None or not np.isfinite(half):
        return mean, np.nan, np.nan, np.nan
    return mean, half, mean - half, mean + half


def check_summary(summary: pd.DataFrame, where: str = "summary.tsv") -> None:
    """Raise ``PvigroupError`` naming the file and row when ``summary`` cannot be paired."""
    missing = [c for c in SUMMARY_COLUMNS if c not in summary.columns]
    if missing:
        raise PvigroupError(f"{where}: missing column(s) {', '.join(missing)} "
                            f"(expected {', '.join(SUMMARY_COLUMNS)})")
    for col in METRICS:
        bad = summary.index[~np.isfinite(pd.to_numeric(summary[col], errors="coerce"))]
        if len(bad):
            raise PvigroupError(f"{where}, line {int(bad[0]) + 2}: {col} is not a number "
                                f"({summary.loc[bad[0], col]!r})")
    kinds = set(summary["kind"]) - {"stl", "mtl"}
    if kinds:
        raise PvigroupError(f"{where}: kind must be stl or mtl, found {sorted(kinds)}")
    dup = summary.duplicated(["kind", "source", "group", "task", "seed"], keep="first")
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        r = summary.iloc[i]
        raise PvigroupError(f"{where}, line {i + 2}: run {r['kind']} {r['group']} task "
                            f"{r['task']} seed {r['seed']} is listed twice")


def paired_differences(summary: pd.DataFrame, where: str = "summary.tsv") -> pd.DataFrame:
    """MTL − STL per (source, group, task, seed), for the seeds with both runs of the task."""
    check_summary(summary, where)
    stl = (summary[summary["kind"] == "stl"]
           .set_index(["task", "seed"])[list(METRICS)].astype(float))
    mtl = summary[summary["kind"] == "mtl"]
    rows = []
    for r in mtl.itertuples(index=False):
        key = (r.task, int(r.seed))
        if key not in stl.index:
            continue
        s = stl.loc[key]
        rows.append({"source": r.source, "group": r.group, "task": r.task, "seed": int(r.seed),
                     **{f"{p}_diff": float(getattr(r, m)) - float(s[m])
                        for m, p in METRICS.items()}})
    cols = [*KEY, "seed", *(f"{p}_diff" for p in METRICS.values())]
    return pd.DataFrame(rows, columns=cols).sort_values([*KEY, "seed"], ignore_index=True)


def group_gains(summary: pd.DataFrame, *, model: str, level: float = 0.95,
                where: str = "summary.tsv") -> GainResult:
    """The gain of every task of every trained group and of every group (pure).

    Parameters
    ----------
    summary
        ``results/train/{model}/summary.tsv`` as read (``kind, source, group, task, seed,
        accuracy, macro_f1``); a group trained for several sources has one row set per source.
    model
        The model key, written in the ``model`` column.
    level
        Confidence level (``train.ci_level``).
    where
        The file name used in error messages.

    Returns
    -------
    GainResult
        A group task with no STL run of the same seed is left out (no pairing); a group whose
        tasks share no paired seed gets no group row.
    """
    diffs = paired_differences(summary, where)
    task_rows = []
    for (source, group, task), df in diffs.groupby(list(KEY), sort=True):
        row = {"model": model, "source": source, "group": group,
               "size": len(str(group).split("__")), "task": task, "n_seeds": len(df),
               "seeds": ",".join(map(str, df["seed"]))}
        for p in METRICS.values():
            row.update(zip(_gain_columns(p), _interval(df[f"{p}_diff"], level), strict=True))
        task_rows.append(row)
    group_rows = []
    for (source, group), df in diffs.groupby(["source", "group"], sort=True):
        members = str(group).split("__")
        wide = {p: df.pivot(index="seed", columns="task", values=f"{p}_diff")
                .reindex(columns=members) for p in METRICS.values()}
        complete = wide["acc"].dropna(axis=0, how="any").index
        if not len(complete):
            continue
        row = {"model": model, "source": source, "group": group, "size": len(members),
               "tasks": ",".join(members), "n_seeds": len(complete),
               "seeds": ",".join(map(str, complete))}
        for p, w in wide.items():
            per_seed = w.loc[complete].mean(axis=1).to_numpy()
            row.update(zip(_gain_columns(p), _interval(per_seed, level), strict=True))
        group_rows.append(row)
    return GainResult(pd.DataFrame(task_rows, columns=list(TASK_COLUMNS)),
                      pd.DataFrame(group_rows, columns=list(GROUP_COLUMNS)), diffs, level)
