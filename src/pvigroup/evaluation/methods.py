"""Grouping methods side by side: per source, how many groups were trained, their mean gain with
a t-interval over groups, how many gained, and what computing the grouping cost.

The cost of each grouping comes from :mod:`pvigroup.evaluation.cost`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pvigroup.evaluation.cost import Cost
from pvigroup.evaluation.gain import METRICS, _interval

log = logging.getLogger(__name__)

#: Sources in the order the tables list them (pvigroup.train.SOURCES).
SOURCE_ORDER = ("pvi-similar", "pvi-dissimilar", "manual", "taskemb", "surrogate", "tag")


def _method_columns(prefix: str) -> list[str]:
    return [f"{prefix}_gain", f"{prefix}_gain_ci", f"{prefix}_gain_lo", f"{prefix}_gain_hi",
            f"{prefix}_share_positive", f"{prefix}_share_ci_above_0",
            f"{prefix}_share_ci_below_0"]


METHOD_COLUMNS = ("model", "source", "n_groups", "n_groups_with_ci",
                  *(c for p in METRICS.values() for c in _method_columns(p)),
                  "cost_jobs", "cost_jobs_measured", "cost_job_seconds", "cost_gpu_hours_est",
                  "cost_note")


@dataclass(frozen=True)
class MethodsResult:
    """One row per grouping source of one model (``table``, ``METHOD_COLUMNS``).

    ``*_gain`` is the mean over the source's groups of the group mean gains, ``*_gain_ci`` the
    t half-width over groups (NaN with one group); ``*_share_positive`` the share of groups with
    a mean gain > 0, ``*_share_ci_above_0`` / ``*_share_ci_below_0`` the share whose seed
    interval lies entirely above / below 0 (a group with one seed has no interval and counts as
    not excluding 0; ``n_groups_with_ci`` says how many have one).
    """

    table: pd.DataFrame
    level: float


def compare_methods(groups: pd.DataFrame, *, model: str, sources: Sequence[str],
                    costs: Mapping[str, Cost] | None = None,
                    level: float = 0.95) -> MethodsResult:
    """Summarise the group gains (``groups.tsv`` rows) per source (pure).

    Every source in ``sources`` gets a row, one with no trained group ``n_groups = 0`` and empty
    gains; a source of ``groups`` not in ``sources`` is added after them.
    """
    costs = costs or {}
    order = [s for s in SOURCE_ORDER if s in sources] + [s for s in sources
                                                         if s not in SOURCE_ORDER]
    order += sorted(set(groups["source"]) - set(order))
    rows = []
    for source in order:
        df = groups[groups["source"] == source]
        row: dict[str, Any] = {"model": model, "source": source, "n_groups": len(df),
                               "n_groups_with_ci": int(df["acc_gain_ci"].notna().sum())}
        for p in METRICS.values():
            if len(df):
                mean, half, lo, hi = _interval(df[f"{p}_gain"], level)
                gains = df[f"{p}_gain"].to_numpy(float)
                shares = (float(np.mean(gains > 0)),
                          float(np.mean(df[f"{p}_gain_lo"].to_numpy(float) > 0)),
                          float(np.mean(df[f"{p}_gain_hi"].to_numpy(float) < 0)))
            else:
                mean = half = lo = hi = np.nan
                shares = (np.nan, np.nan, np.nan)
            row.update(zip(_method_columns(p), (mean, half, lo, hi, *shares), strict=True))
        cost = costs.get(source)
        row.update({"cost_jobs": cost.jobs if cost else np.nan,
                    "cost_jobs_measured": cost.measured if cost else np.nan,
                    "cost_job_seconds": cost.job_seconds if cost else np.nan,
                    "cost_gpu_hours_est": cost.gpu_hours if cost else np.nan,
                    "cost_note": cost.note if cost else "cost not known for this source"})
        rows.append(row)
    table = pd.DataFrame(rows, columns=list(METHOD_COLUMNS))
    for c in ("n_groups", "n_groups_with_ci"):
        table[c] = table[c].astype("int64")
    return MethodsResult(table, level)
