"""Pair and group tests of PVI location: Student, Welch, paired t; ANOVA, Alexander-Govern, Kruskal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import stats as sps

from pvigroup.errors import PvigroupError
from pvigroup.stats._base import (
    GROUP_METHODS,
    PAIR_METHODS,
    TestResult,
    _as_sample,
    _check_choice,
    _constant_ok,
    _describe,
)
from pvigroup.stats.effects import anova_effect_sizes, hedges_g, mean_diff_ci


def paired_subsample(a: np.ndarray, b: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Both samples subsampled without replacement to ``min(n_a, n_b)``, seeded.

    The pairing is arbitrary (instances of different tasks are not matched); it makes the paired
    test runnable on samples of different sizes. Same inputs and seed give the same subsamples.
    """
    m = min(a.size, b.size)
    rng = np.random.default_rng(seed)
    ia = rng.permutation(a.size)[:m]
    ib = rng.permutation(b.size)[:m]
    return a[ia], b[ib]


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------
def pair_test(
    a: np.ndarray,
    b: np.ndarray,
    *,
    names: tuple[str, str] = ("a", "b"),
    method: str = "student",
    seed: int = 42,
) -> TestResult:
    """Two-sample t test of the mean PVI of two tasks.

    Parameters
    ----------
    a, b : 1-d arrays
        Per-instance PVI of the two tasks (bits).
    names : (str, str)
        Task names, used in the result and in error messages.
    method : {"student", "welch", "paired"}
        ``student``: ``scipy.stats.ttest_ind(equal_var=True)``; ``welch``: ``equal_var=False``;
        ``paired``: ``scipy.stats.ttest_rel`` on seeded equal-size subsamples (both drawn without
        replacement to ``min(n_a, n_b)``; size and seed recorded in ``options``).
    seed : int
        Seed of the ``paired`` subsample (ignored otherwise).

    Returns
    -------
    TestResult
        ``effect`` holds ``mean_diff`` (a - b, bits), its 95 % CI under the test's variance
        assumption, Hedges' g, η² and ω².

    Raises
    ------
    ValueError
        Unknown ``method``.
    PvigroupError
        Fewer than 2 values, NaN/inf values, or zero variance that leaves t undefined.
    """
    _check_choice(method, PAIR_METHODS, "pair test method")
    if len(names) != 2 or names[0] == names[1]:
        raise ValueError(f"names must be two distinct task names, got {names!r}")
    a = _as_sample(a, names[0])
    b = _as_sample(b, names[1])
    options: dict[str, Any] = {}
    if method == "paired":
        options = {"n_full": {names[0]: int(a.size), names[1]: int(b.size)}, "seed": seed}
        a, b = paired_subsample(a, b, seed)
        options["subsample"] = int(a.size)
        if np.all(a - b == (a - b)[0]):
            raise PvigroupError(
                f"{names[0]} vs {names[1]}: the paired differences have zero variance, "
                "so the paired t statistic is undefined"
            )
    elif a.var() == 0 and b.var() == 0:
        raise PvigroupError(
            f"{names[0]} vs {names[1]}: both PVI samples have zero variance "
            f"(constant {a[0]:g} and {b[0]:g}), so the t statistic is undefined"
        )
    with _constant_ok([a, b, a - b] if method == "paired" else [a, b]):
        if method == "paired":
            res = sps.ttest_rel(a, b)
            variance = "paired"
        else:
            res = sps.ttest_ind(a, b, equal_var=method == "student")
            variance = "pooled" if method == "student" else "unequal"
    diff, lo, hi, _ = mean_diff_ci(a, b, variance=variance)
    n, mean, sd = _describe({names[0]: a, names[1]: b})
    effect = {
        "mean_diff": diff,
        "mean_diff_ci": [lo, hi],
        "hedges_g": hedges_g(a, b),
        **anova_effect_sizes([a, b]),
    }
    return TestResult(
        tasks=tuple(names),
        test=method,
        statistic=float(res.statistic),
        pvalue=float(res.pvalue),
        df=float(res.df),
        n=n,
        mean=mean,
        sd=sd,
        effect=effect,
        options=options,
    )


def group_test(samples: Mapping[str, np.ndarray], *, method: str = "anova") -> TestResult:
    """One test of equal PVI location across two or more tasks.

    Parameters
    ----------
    samples : mapping task -> 1-d array
        Per-instance PVI of each task.
    method : {"anova", "alexander-govern", "kruskal"}
        ``anova``: ``scipy.stats.f_oneway`` (equal variances, F(k-1, N-k));
        ``alexander-govern``: ``scipy.stats.alexandergovern`` (unequal variances, chi²(k-1));
        ``kruskal``: ``scipy.stats.kruskal`` (ranks, chi²(k-1)).

    Returns
    -------
    TestResult
        ``effect`` holds η² and ω² from the ANOVA sums of squares, whatever the method.

    Raises
    ------
    ValueError
        Unknown ``method`` or fewer than 2 samples.
    PvigroupError
        Fewer than 2 values or NaN/inf values in a sample, or zero variance that leaves the
        statistic undefined (every sample for ANOVA, any sample for Alexander-Govern, all values
        identical for Kruskal-Wallis).
    """
    _check_choice(method, GROUP_METHODS, "group test method")
    if len(samples) < 2:
        raise ValueError(f"a group test needs at least 2 samples, got {len(samples)}")
    data = {name: _as_sample(x, name) for name, x in samples.items()}
    arrays = list(data.values())
    names = list(data)
    label = " vs ".join(names)
    zero = [name for name, x in data.items() if x.var() == 0]
    k = len(arrays)
    if method == "anova":
        if len(zero) == k:
            raise PvigroupError(
                f"{label}: every PVI sample has zero variance, so the F statistic is undefined"
            )
        with _constant_ok(arrays):
            res = sps.f_oneway(*arrays)
        df: float | tuple[float, ...] = (float(k - 1), float(sum(x.size for x in arrays) - k))
    elif method == "alexander-govern":
        if zero:
            raise PvigroupError(
                f"{label}: PVI of {', '.join(zero)} has zero variance, so the "
                "Alexander-Govern statistic (weights 1/SE²) is undefined; use anova or kruskal"
            )
        res = sps.alexandergovern(*arrays)
        df = float(k - 1)
    else:
        if np.all(np.concatenate(arrays) == arrays[0][0]):
            raise PvigroupError(
                f"{label}: all PVI values are identical, so the Kruskal-Wallis H is undefined"
            )
        with _constant_ok(arrays):
            res = sps.kruskal(*arrays)
        df = float(k - 1)
    n, mean, sd = _describe(data)
    return TestResult(
        tasks=tuple(names),
        test=method,
        statistic=float(res.statistic),
        pvalue=float(res.pvalue),
        df=df,
        n=n,
        mean=mean,
        sd=sd,
        effect=anova_effect_sizes(arrays),
        options={},
    )
