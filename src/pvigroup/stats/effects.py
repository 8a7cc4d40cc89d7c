"""Effect sizes of pair and group tests: η², ω², Hedges' g, the t CI of a mean difference."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats as sps

from pvigroup.stats._base import _CI_LEVEL, _check_choice


def anova_effect_sizes(samples: Sequence[np.ndarray]) -> dict[str, float]:
    """η² and ω² from the one-way ANOVA sums of squares.

    Parameters
    ----------
    samples : sequence of 1-d arrays
        One array per group.

    Returns
    -------
    dict
        ``eta2 = SS_between / SS_total`` and
        ``omega2 = (SS_between - (k - 1) MS_within) / (SS_total + MS_within)``.
        ``omega2`` can be slightly negative when the groups differ less than chance predicts.
    """
    k = len(samples)
    allv = np.concatenate(samples)
    grand = allv.mean()
    ss_between = float(sum(s.size * (s.mean() - grand) ** 2 for s in samples))
    ss_within = float(sum(((s - s.mean()) ** 2).sum() for s in samples))
    ss_total = ss_between + ss_within
    ms_within = ss_within / (allv.size - k) if allv.size > k else math.nan
    if ss_total == 0:
        return {"eta2": math.nan, "omega2": math.nan}
    return {
        "eta2": ss_between / ss_total,
        "omega2": (ss_between - (k - 1) * ms_within) / (ss_total + ms_within),
    }


def hedges_g(a: np.ndarray, b: np.ndarray) -> float:
    """Hedges' g of ``a - b``: Cohen's d on the pooled SD times ``1 - 3 / (4 (n_a + n_b) - 9)``."""
    na, nb = a.size, b.size
    sp2 = ((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2)
    if sp2 == 0:
        return math.nan
    d = (a.mean() - b.mean()) / math.sqrt(sp2)
    return float(d * (1 - 3 / (4 * (na + nb) - 9)))


def mean_diff_ci(
    a: np.ndarray, b: np.ndarray, *, variance: str = "pooled", level: float = _CI_LEVEL
) -> tuple[float, float, float, float]:
    """Difference of means ``a - b`` with its t confidence interval.

    Parameters
    ----------
    a, b : 1-d arrays
    variance : {"pooled", "unequal", "paired"}
        ``pooled``: SE from the pooled variance, df ``n_a + n_b - 2`` (Student);
        ``unequal``: Welch SE, Welch-Satterthwaite df; ``paired``: ``a`` and ``b`` have equal
        size and the SE and df (``n - 1``) come from the differences ``a - b``.
    level : float
        Confidence level.

    Returns
    -------
    (diff, low, high, df)
    """
    _check_choice(variance, ("pooled", "unequal", "paired"), "variance")
    diff = float(a.mean() - b.mean())
    na, nb = a.size, b.size
    va, vb = a.var(ddof=1), b.var(ddof=1)
    if variance == "pooled":
        df = na + nb - 2
        sp2 = ((na - 1) * va + (nb - 1) * vb) / df
        se = math.sqrt(sp2 * (1 / na + 1 / nb))
    elif variance == "unequal":
        qa, qb = va / na, vb / nb
        se = math.sqrt(qa + qb)
        df = (qa + qb) ** 2 / (qa**2 / (na - 1) + qb**2 / (nb - 1)) if se > 0 else math.nan
    else:
        if na != nb:
            raise ValueError(f"paired samples must have equal size, got {na} and {nb}")
        d = a - b
        df = na - 1
        se = float(d.std(ddof=1)) / math.sqrt(na)
    q = float(sps.t.ppf(0.5 + level / 2, df)) if np.isfinite(df) else math.nan
    return diff, diff - q * se, diff + q * se, float(df)
