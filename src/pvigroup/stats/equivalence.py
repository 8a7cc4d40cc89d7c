"""Equivalence tests: TOST of a pair, intersection-union TOST of a group."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from statsmodels.stats.weightstats import ttost_ind

from pvigroup.errors import PvigroupError
from pvigroup.stats._base import (
    TOST_VARIANCES,
    TestResult,
    _as_sample,
    _check_choice,
    _constant_ok,
    _describe,
)
from pvigroup.stats.effects import anova_effect_sizes, hedges_g, mean_diff_ci
from pvigroup.workflow import group_id


def tost(
    a: np.ndarray,
    b: np.ndarray,
    margin: float,
    *,
    variance: str = "pooled",
    names: tuple[str, str] = ("a", "b"),
) -> TestResult:
    """Two one-sided tests (TOST) of equivalence of mean PVI within ``±margin`` bits.

    Wraps ``statsmodels.stats.weightstats.ttost_ind(a, b, -margin, margin, usevar=...)``.
    H0: ``|mean_a - mean_b| >= margin``; the p-value is the larger of the two one-sided
    p-values, and the tasks are declared equivalent when it is below alpha (equivalently, the
    ``1 - 2 alpha`` CI of the difference lies inside ``(-margin, margin)``).

    Parameters
    ----------
    a, b : 1-d arrays
        Per-instance PVI (bits).
    margin : float
        Equivalence margin in bits, > 0.
    variance : {"pooled", "unequal"}
        Student or Welch standard error and df.
    names : (str, str)
        Task names for the result and error messages.

    Returns
    -------
    TestResult
        ``test="tost"``; ``statistic``, ``pvalue`` and ``df`` of the deciding one-sided test;
        ``options`` holds ``margin``, ``variance`` and both one-sided tests (``lower``: H0
        diff <= -margin, ``upper``: H0 diff >= margin).
    """
    _check_choice(variance, TOST_VARIANCES, "TOST variance")
    if not (isinstance(margin, int | float) and margin > 0 and math.isfinite(margin)):
        raise ValueError(f"TOST margin must be a positive number of bits, got {margin!r}")
    a = _as_sample(a, names[0])
    b = _as_sample(b, names[1])
    if a.var() == 0 and b.var() == 0:
        raise PvigroupError(
            f"{names[0]} vs {names[1]}: both PVI samples have zero variance, so the TOST t "
            "statistics are undefined"
        )
    with _constant_ok([a, b]):
        p, (t1, p1, df1), (t2, p2, df2) = ttost_ind(a, b, -margin, margin, usevar=variance)
    lower = {"statistic": float(t1), "pvalue": float(p1), "df": float(df1)}
    upper = {"statistic": float(t2), "pvalue": float(p2), "df": float(df2)}
    decide = lower if lower["pvalue"] >= upper["pvalue"] else upper
    diff, lo, hi, _ = mean_diff_ci(a, b, variance=variance)
    n, mean, sd = _describe({names[0]: a, names[1]: b})
    return TestResult(
        tasks=tuple(names),
        test="tost",
        statistic=decide["statistic"],
        pvalue=float(p),
        df=decide["df"],
        n=n,
        mean=mean,
        sd=sd,
        effect={
            "mean_diff": diff,
            "mean_diff_ci": [lo, hi],
            "hedges_g": hedges_g(a, b),
            **anova_effect_sizes([a, b]),
        },
        options={"margin": float(margin), "variance": variance, "lower": lower, "upper": upper},
    )


def tost_group(
    samples: Mapping[str, np.ndarray], margin: float, *, variance: str = "pooled"
) -> dict[str, Any]:
    """TOST for every pair of a group, combined by the intersection-union rule.

    The group is equivalent when every pair is; the p-value of that intersection-union test is
    the largest pairwise TOST p-value (no multiplicity correction needed, Berger 1982).

    Returns
    -------
    dict
        ``{"pvalue", "margin", "variance", "pairs": {pair id: {"pvalue", "statistic",
        "mean_diff"}}}``.
    """
    names = sorted(samples)
    pairs: dict[str, dict[str, float]] = {}
    for x, y in itertools.combinations(names, 2):
        r = tost(samples[x], samples[y], margin, variance=variance, names=(x, y))
        pairs[group_id((x, y))] = {
            "pvalue": r.pvalue,
            "statistic": r.statistic,
            "mean_diff": r.effect["mean_diff"],
        }
    return {
        "pvalue": max(p["pvalue"] for p in pairs.values()),
        "margin": float(margin),
        "variance": variance,
        "pairs": pairs,
    }
