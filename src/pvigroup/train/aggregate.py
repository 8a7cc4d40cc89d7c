"""Seed aggregation (mean ± t-interval) and the paired MTL − STL comparison of collected runs."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pvigroup.errors import PvigroupError
from pvigroup.io import read_json, write_tsv
from pvigroup.train.groups import group_sources
from pvigroup.train.settings import AGGREGATE_COLUMNS, COMPARISON_COLUMNS, SUMMARY_COLUMNS

log = logging.getLogger(__name__)


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
    from scipy import stats as sps  # here, not at the top: the Snakefile imports this module

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
    from scipy import stats as sps  # here, not at the top: the Snakefile imports this module

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
