"""Statistics on PVI distributions: pair and group tests, effect sizes, TOST, bootstrap, sensitivity.

Two layers, as in ``statsmodels.stats.oneway``: pure functions on arrays (``pair_test``,
``group_test``, ``tost``, ``bootstrap_mean_ci``, ``bootstrap_diff_ci``, ``sensitivity``,
``vinfo_summary``) that return explicit result objects or frames, and file-level functions for
the workflow (``run_test`` writes one test JSON, ``collect_tests`` writes ``pairs.tsv`` /
``triples.tsv``, ``run_vinfo`` writes ``vinfo.tsv``, ``run_sensitivity`` writes
``sensitivity.tsv`` and ``sensitivity_summary.tsv``). Options are strings; an unknown option raises ``ValueError`` listing the valid
ones. Problems in the data (too few values, NaN or infinite PVI, zero variance where a statistic
is undefined) raise :class:`pvigroup.errors.PvigroupError` naming the sample or file.

See ``docs/statistics.md`` for what each test computes and why.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
import warnings
import zlib
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import ttost_ind

from pvigroup import __version__
from pvigroup.errors import PvigroupError
from pvigroup.groups import select_groups
from pvigroup.io import fingerprint_file, read_json, read_parquet, write_json, write_tsv
from pvigroup.workflow import NAME_RE, group_id

log = logging.getLogger(__name__)

PAIR_METHODS = ("student", "welch", "paired")
GROUP_METHODS = ("anova", "alexander-govern", "kruskal")
TOST_VARIANCES = ("pooled", "unequal")
CORRECTIONS = ("none", "bonferroni", "holm", "sidak", "fdr_bh", "fdr_by")

#: Columns of ``pairs.tsv`` / ``triples.tsv`` (TOST and ``pvalue_adj`` columns are appended when
#: present, see :func:`collect_tests`).
TEST_COLUMNS = (
    "group",
    "tasks",
    "size",
    "model",
    "test",
    "statistic",
    "pvalue",
    "df",
    "df2",
    "n_total",
    "mean_diff",
    "mean_diff_lo",
    "mean_diff_hi",
    "mean_diff_boot_lo",
    "mean_diff_boot_hi",
    "hedges_g",
    "eta2",
    "omega2",
)
TOST_COLUMNS = ("tost_pvalue", "tost_margin", "tost_variance")

_CI_LEVEL = 0.95
_CHUNK = 4_000_000  # bootstrap draws held in memory at once


def _check_choice(value: str, choices: Sequence[str], what: str) -> None:
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; valid: {', '.join(choices)}")


# --------------------------------------------------------------------------------------------
# Result object
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TestResult:
    """The outcome of one pair or group test.

    Attributes
    ----------
    tasks : tuple of str
        Task names in the order the samples were given (``mean_diff`` is first minus second).
    test : str
        ``student``, ``welch``, ``paired``, ``anova``, ``alexander-govern``, ``kruskal`` or
        ``tost``.
    statistic, pvalue : float
        Test statistic (t, F, A or H) and its p-value. For ``tost`` the statistic and p-value of
        the one-sided test with the larger p-value (the one that decides).
    df : float, tuple of float or None
        Degrees of freedom: t tests one value, ANOVA ``(k - 1, N - k)``, Alexander-Govern and
        Kruskal-Wallis ``k - 1`` (chi-squared reference).
    n, mean, sd : dict
        Size, mean and sample SD (ddof=1) of each sample the test used (for ``paired`` the
        equal-size subsamples; the full sizes are in ``options["n_full"]``).
    effect : dict
        Pairs: ``mean_diff`` (bits, first minus second), ``mean_diff_ci`` (95 %, same variance
        assumption as the test), ``hedges_g``; every result also has ``eta2`` and ``omega2``
        from the one-way ANOVA sums of squares.
    options : dict
        The options that produced the result (subsample size and seed, margin, ...).
    """

    __test__ = False  # not a pytest test class despite its name

    tasks: tuple[str, ...]
    test: str
    statistic: float
    pvalue: float
    df: float | tuple[float, ...] | None
    n: dict[str, int]
    mean: dict[str, float]
    sd: dict[str, float]
    effect: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def group(self) -> str:
        """The group id: sorted task names joined by ``__``."""
        return group_id(self.tasks)

    def to_dict(self) -> dict[str, Any]:
        """The JSON layout of ``docs/architecture.md`` (without ``model``, added by ``run_test``)."""
        df = list(self.df) if isinstance(self.df, tuple) else self.df
        return {
            "tasks": list(self.tasks),
            "group": self.group,
            "test": self.test,
            "statistic": float(self.statistic),
            "pvalue": float(self.pvalue),
            "df": df,
            "n": dict(self.n),
            "mean": dict(self.mean),
            "sd": dict(self.sd),
            "effect": dict(self.effect),
            "options": dict(self.options),
        }


# --------------------------------------------------------------------------------------------
# Checks and small pure helpers
# --------------------------------------------------------------------------------------------
def _as_sample(x: Any, name: str) -> np.ndarray:
    """A 1-d float array with at least 2 finite values, or a PvigroupError naming ``name``."""
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 1:
        raise PvigroupError(f"{name}: PVI must be a 1-d array, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise PvigroupError(
            f"{name}: {int(bad.sum())} NaN/infinite PVI value(s), first at row {first} "
            f"({arr[first]}); PVI must be finite (check the model's log-probabilities)"
        )
    if arr.size < 2:
        raise PvigroupError(f"{name}: {arr.size} PVI value(s); a test needs at least 2 per task")
    return arr


@contextmanager
def _constant_ok(arrays: Sequence[np.ndarray]):
    """Silence scipy's "precision loss" warning when a sample is exactly constant.

    The statistics are well defined with one constant sample (the checks above catch the
    undefined cases); scipy cannot tell an exactly constant sample from a nearly constant one.
    """
    with warnings.catch_warnings():
        if any(x.var() == 0 for x in arrays):
            warnings.filterwarnings("ignore", message="Precision loss", category=RuntimeWarning)
        yield


def _describe(samples: Mapping[str, np.ndarray]) -> tuple[dict, dict, dict]:
    n = {k: int(v.size) for k, v in samples.items()}
    mean = {k: float(v.mean()) for k, v in samples.items()}
    sd = {k: float(v.std(ddof=1)) for k, v in samples.items()}
    return n, mean, sd


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


def _stable_seed(*parts: int | str) -> np.random.SeedSequence:
    """A seed sequence from ints and names (names hashed with crc32, stable across runs)."""
    ints = [p if isinstance(p, int) else zlib.crc32(p.encode()) for p in parts]
    return np.random.SeedSequence(ints)


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


# --------------------------------------------------------------------------------------------
# Bootstrap
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BootstrapCI:
    """A percentile bootstrap confidence interval.

    Attributes
    ----------
    estimate : float
        The statistic on the original data (mean, or difference of means).
    low, high : float
        Percentile interval bounds (NaN when ``resamples`` is 0).
    level, resamples, seed :
        The options used.
    """

    estimate: float
    low: float
    high: float
    level: float
    resamples: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimate": self.estimate,
            "ci": [self.low, self.high],
            "level": self.level,
            "resamples": self.resamples,
            "seed": self.seed,
            "method": "percentile",
        }


def _boot_means(x: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Means of ``resamples`` with-replacement resamples of ``x``, drawn in bounded chunks."""
    out = np.empty(resamples)
    per = max(1, _CHUNK // x.size)
    for start in range(0, resamples, per):
        stop = min(resamples, start + per)
        idx = rng.integers(0, x.size, size=(stop - start, x.size))
        out[start:stop] = x[idx].mean(axis=1)
    return out


def _check_boot(resamples: int, level: float) -> None:
    if not isinstance(resamples, int | np.integer) or resamples < 0:
        raise ValueError(f"resamples must be an integer >= 0, got {resamples!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")


def _percentile(stats: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1 - level) / 2
    lo, hi = np.quantile(stats, [tail, 1 - tail])
    return float(lo), float(hi)


def bootstrap_mean_ci(
    x: np.ndarray, resamples: int = 2000, seed: int = 42, level: float = 0.95, *, name: str = "x"
) -> BootstrapCI:
    """Percentile bootstrap CI of the mean of ``x``.

    Parameters
    ----------
    x : 1-d array
    resamples : int
        Number of resamples (0 returns NaN bounds).
    seed : int
        Seed of the ``numpy.random.default_rng`` Generator; same inputs and seed, same interval.
    level : float
        Confidence level in (0, 1).
    name : str
        Sample name for error messages.
    """
    _check_boot(resamples, level)
    x = _as_sample(x, name)
    est = float(x.mean())
    if resamples == 0:
        return BootstrapCI(est, math.nan, math.nan, level, 0, seed)
    lo, hi = _percentile(_boot_means(x, resamples, np.random.default_rng(seed)), level)
    return BootstrapCI(est, lo, hi, level, int(resamples), seed)


def bootstrap_diff_ci(
    a: np.ndarray,
    b: np.ndarray,
    resamples: int = 2000,
    seed: int = 42,
    level: float = 0.95,
    *,
    names: tuple[str, str] = ("a", "b"),
) -> BootstrapCI:
    """Percentile bootstrap CI of ``mean(a) - mean(b)``, each sample resampled independently."""
    _check_boot(resamples, level)
    a = _as_sample(a, names[0])
    b = _as_sample(b, names[1])
    est = float(a.mean() - b.mean())
    if resamples == 0:
        return BootstrapCI(est, math.nan, math.nan, level, 0, seed)
    rng = np.random.default_rng(seed)
    diffs = _boot_means(a, resamples, rng) - _boot_means(b, resamples, rng)
    lo, hi = _percentile(diffs, level)
    return BootstrapCI(est, lo, hi, level, int(resamples), seed)


def vinfo_summary(
    pvi_by_task: Mapping[str, np.ndarray],
    resamples: int = 2000,
    seed: int = 42,
    level: float = 0.95,
) -> pd.DataFrame:
    """Per-task V-information estimate (mean PVI) with a percentile bootstrap CI.

    Each task is resampled with its own generator seeded from ``(seed, task name)``, so adding a
    task does not change another task's interval.

    Returns
    -------
    DataFrame
        Columns ``task, n, mean_pvi, sd_pvi, ci_low, ci_high, level, resamples``, sorted by task.
    """
    rows = []
    for task in sorted(pvi_by_task):
        x = _as_sample(pvi_by_task[task], task)
        task_seed = int(_stable_seed(seed, task).generate_state(1)[0])
        ci = bootstrap_mean_ci(x, resamples, task_seed, level, name=task)
        rows.append(
            {
                "task": task,
                "n": int(x.size),
                "mean_pvi": ci.estimate,
                "sd_pvi": float(x.std(ddof=1)),
                "ci_low": ci.low,
                "ci_high": ci.high,
                "level": level,
                "resamples": int(resamples),
            }
        )
    return pd.DataFrame(
        rows,
        columns=["task", "n", "mean_pvi", "sd_pvi", "ci_low", "ci_high", "level", "resamples"],
    )


SEED_COLUMNS = ["n_seeds", "seeds", "seed_means", "seed_sd", "seed_ci_low", "seed_ci_high",
                "combined_ci_low", "combined_ci_high"]


def seed_variability(
    replicates: Mapping[int, np.ndarray],
    resamples: int = 2000,
    seed: int = 42,
    level: float = 0.95,
    *,
    name: str = "task",
) -> dict[str, Any]:
    """Spread of one task's V-information (mean PVI) over training seeds of g′ and g.

    Parameters
    ----------
    replicates : mapping seed -> 1-d array
        The task's PVI values from each training seed (the main run included), all over the same
        held-out instances in the same order (position i is one instance in every array).
    resamples, seed, level
        Bootstrap settings of the combined interval (0 resamples: NaN bounds).

    Returns
    -------
    dict
        ``n_seeds``; ``seeds`` and ``seed_means`` (comma-separated, by seed); ``seed_sd`` (sample
        sd of the per-seed means, training noise alone); ``seed_ci_low/high``: t-interval of the
        mean over seeds, mean ± t(1-(1-level)/2, S-1)·sd/√S (NaN for one seed);
        ``combined_ci_low/high``: percentile bootstrap of the mean over seeds and instances that
        covers training noise *and* instance sampling. Seeds and instances are crossed (every
        seed scores the same instances), so each resample draws the instances once, shared by
        all seeds, and S seeds with replacement, and averages PVI over both.
    """
    _check_boot(resamples, level)
    if not replicates:
        raise PvigroupError(f"{name}: no seed replicates")
    seeds = sorted(int(k) for k in replicates)
    xs = [_as_sample(replicates[k], f"{name} seed {k}") for k in seeds]
    if len({x.size for x in xs}) != 1:
        sizes = ", ".join(f"seed {k}: {x.size}" for k, x in zip(seeds, xs, strict=True))
        raise PvigroupError(f"{name}: seed replicates cover different instances ({sizes})")
    mat = np.stack(xs)  # (S, n)
    means = mat.mean(axis=1)
    n_seeds, n = mat.shape
    sd = float(means.std(ddof=1)) if n_seeds > 1 else math.nan
    if n_seeds > 1:
        half = float(sps.t.ppf(1 - (1 - level) / 2, n_seeds - 1)) * sd / math.sqrt(n_seeds)
        lo, hi = float(means.mean() - half), float(means.mean() + half)
    else:
        lo = hi = math.nan
    if resamples:
        rng = np.random.default_rng(_stable_seed(int(seed), name, "seeds"))
        per_seed = np.empty((n_seeds, resamples))  # mean of each seed on resampled instances
        per = max(1, _CHUNK // (n * n_seeds))
        for begin in range(0, resamples, per):
            stop = min(resamples, begin + per)
            idx = rng.integers(0, n, size=(stop - begin, n))
            per_seed[:, begin:stop] = mat[:, idx].mean(axis=2)
        picks = rng.integers(0, n_seeds, size=(resamples, n_seeds))
        combined = per_seed[picks, np.arange(resamples)[:, None]].mean(axis=1)
        c_lo, c_hi = _percentile(combined, level)
    else:
        c_lo = c_hi = math.nan
    return {
        "n_seeds": n_seeds,
        "seeds": ",".join(map(str, seeds)),
        "seed_means": ",".join(f"{m:.6g}" for m in means),
        "seed_sd": sd,
        "seed_ci_low": lo,
        "seed_ci_high": hi,
        "combined_ci_low": c_lo,
        "combined_ci_high": c_hi,
    }


# --------------------------------------------------------------------------------------------
# Sensitivity to sample size
# --------------------------------------------------------------------------------------------
def sensitivity_sizes(n_by_task: Mapping[str, int], sizes: Sequence[int]) -> list[int]:
    """Common per-task sample sizes of the sensitivity analysis.

    The rule: the smallest task's n (the largest size every task can supply without
    replacement) plus each configured size that is <= that n, distinct, ascending. Configured
    sizes larger than the smallest task are dropped (logged).
    """
    if not n_by_task:
        raise ValueError("no tasks")
    n_min = min(n_by_task.values())
    bad = [s for s in sizes if int(s) < 2]
    if bad:
        raise ValueError(f"sensitivity sizes must be >= 2, got {bad}")
    dropped = sorted({int(s) for s in sizes if s > n_min})
    if dropped:
        log.info("sensitivity: sizes %s exceed the smallest task's n=%d, skipped", dropped, n_min)
    return sorted({n_min, *(int(s) for s in sizes if s <= n_min)})


SENSITIVITY_COLUMNS = (
    "n_per_task",
    "group",
    "tasks",
    "size",
    "test",
    "statistic",
    "pvalue",
    "accepted",
    "selected",
)
SUMMARY_COLUMNS = (
    "n_per_task",
    "pairs_tested",
    "pairs_accepted",
    "triples_tested",
    "triples_accepted",
    "n_selected",
    "selected_groups",
    "same_as_largest",
)


def sensitivity(
    pvi_by_task: Mapping[str, np.ndarray],
    sizes: Sequence[int],
    *,
    alpha: float = 0.01,
    method: str = "student",
    group_method: str = "anova",
    seed: int = 42,
    max_group_size: int = 3,
    rule: str = "paper",
    size_priority: str = "larger",
    test: str = "significance",
    tost_margin: float | None = None,
    tost_variance: str = "pooled",
    correction: str = "none",
) -> pd.DataFrame:
    """Rerun the tests and the grouping on equal-size subsamples of every task.

    For each common size ``m`` of :func:`sensitivity_sizes`, each task's PVI is subsampled
    without replacement to ``m`` (generator seeded from ``(seed, m, task name)``), every group of
    2 to ``max_group_size`` tasks is tested (pairs with ``method``, larger groups with
    ``group_method``), and :func:`pvigroup.groups.select_groups` picks the similar groups with
    the same acceptance rule, tie-break and size priority as the workflow.

    Parameters
    ----------
    pvi_by_task : mapping task -> 1-d array
        Per-instance PVI of each task (at least 2 tasks).
    sizes : sequence of int
        Configured common sizes (``stats.sensitivity_sizes``).
    alpha, rule, size_priority :
        As in :func:`pvigroup.groups.select_groups`.
    method, group_method : str
        Pair and group test (``stats.pair_test``, ``stats.group_test``).
    seed : int
        Seed of the subsamples (and of the ``paired`` test's pairing).
    max_group_size : int
        Largest group tested.
    test : {"significance", "tost"}
        The grouping's acceptance rule (``grouping.test``); ``tost`` needs ``tost_margin`` and
        adds a ``tost_pvalue`` column (a group's is the largest of its pairs', as
        :func:`tost_group`).
    tost_margin : float or None
        Equivalence margin in bits.
    tost_variance : {"pooled", "unequal"}
    correction : str
        Multiple-comparison correction (:data:`CORRECTIONS`), applied at each size to the pairs
        and to the larger groups separately, as ``pairs.tsv`` and ``triples.tsv`` are; adds
        ``pvalue_adj``, which then decides acceptance under ``significance``.

    Returns
    -------
    DataFrame
        One row per (size, group): :data:`SENSITIVITY_COLUMNS` (``accepted``: the group passes
        the acceptance rule; ``selected``: kept by the greedy grouping), then ``tost_pvalue``
        and ``pvalue_adj`` when used; sorted by ``n_per_task``, ``size``, ``group``.

    Raises
    ------
    ValueError
        Unknown option, fewer than 2 tasks, or ``test="tost"`` without a margin.
    """
    _check_choice(method, PAIR_METHODS, "pair test method")
    _check_choice(group_method, GROUP_METHODS, "group test method")
    _check_choice(test, ("significance", "tost"), "grouping test")
    _check_choice(correction, CORRECTIONS, "correction")
    if test == "tost" and tost_margin is None:
        raise ValueError("grouping test 'tost' needs a tost_margin")
    data = {t: _as_sample(x, t) for t, x in pvi_by_task.items()}
    if len(data) < 2:
        raise ValueError(f"sensitivity needs at least 2 tasks, got {len(data)}")
    tasks = sorted(data)
    cols = list(SENSITIVITY_COLUMNS)
    if test == "tost":
        cols.append("tost_pvalue")
    if correction != "none":
        cols.append("pvalue_adj")
    frames = []
    for m in sensitivity_sizes({t: x.size for t, x in data.items()}, sizes):
        sub = {
            t: data[t][
                np.random.default_rng(_stable_seed(seed, m, t)).permutation(data[t].size)[:m]
            ]
            for t in tasks
        }
        pair_tost: dict[str, float] = {}
        if test == "tost":
            for x, y in itertools.combinations(tasks, 2):
                r = tost(sub[x], sub[y], tost_margin, variance=tost_variance, names=(x, y))
                pair_tost[group_id((x, y))] = r.pvalue
        table = []
        for k in range(2, min(max_group_size, len(tasks)) + 1):
            for combo in itertools.combinations(tasks, k):
                if k == 2:
                    r = pair_test(
                        sub[combo[0]], sub[combo[1]], names=combo, method=method, seed=seed
                    )
                else:
                    r = group_test({t: sub[t] for t in combo}, method=group_method)
                row = {
                    "n_per_task": m,
                    "group": r.group,
                    "tasks": ",".join(combo),
                    "size": k,
                    "test": r.test,
                    "statistic": r.statistic,
                    "pvalue": r.pvalue,
                }
                if test == "tost":
                    row["tost_pvalue"] = max(
                        pair_tost[group_id(pr)] for pr in itertools.combinations(combo, 2)
                    )
                table.append(row)
        tests = pd.DataFrame(table)
        if correction != "none":
            tests["pvalue_adj"] = np.nan
            for is_pair in (True, False):
                rows = (tests["size"] == 2) == is_pair
                if rows.any():
                    tests.loc[rows, "pvalue_adj"] = multipletests(
                        tests.loc[rows, "pvalue"].to_numpy(), method=correction
                    )[1]
        similar, _ = select_groups(
            tests,
            alpha=alpha,
            rule=rule,
            test=test,
            size_priority=size_priority,
            where=f"sensitivity tests at n={m}",
        )
        if test == "tost":
            tests["accepted"] = tests["tost_pvalue"] < alpha
        else:
            p = tests["pvalue_adj"] if correction != "none" else tests["pvalue"]
            tests["accepted"] = p > alpha
        tests["selected"] = tests["group"].isin(set(similar["group"]))
        frames.append(tests[cols])
    out = pd.concat(frames, ignore_index=True)
    out["accepted"] = out["accepted"].astype(bool)
    out["selected"] = out["selected"].astype(bool)
    return out.sort_values(["n_per_task", "size", "group"], kind="stable").reset_index(drop=True)


def sensitivity_summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per common size: how many groups were tested and accepted, and which were selected.

    Parameters
    ----------
    table : DataFrame
        The output of :func:`sensitivity`.

    Returns
    -------
    DataFrame
        :data:`SUMMARY_COLUMNS`: ``pairs_*`` count pairs, ``triples_*`` groups of 3 or more
        tasks; ``selected_groups`` the selected similar group ids joined by ``;`` (sorted,
        empty when none); ``same_as_largest`` whether that selection equals the one at the
        largest common size (the smallest task's n), i.e. whether the grouping survives
        subsampling to this n.
    """
    rows = []
    selections: dict[int, tuple[str, ...]] = {}
    for m, part in table.groupby("n_per_task", sort=True):
        pairs = part[part["size"] == 2]
        larger = part[part["size"] > 2]
        chosen = tuple(sorted(part.loc[part["selected"].astype(bool), "group"]))
        selections[int(m)] = chosen
        rows.append(
            {
                "n_per_task": int(m),
                "pairs_tested": len(pairs),
                "pairs_accepted": int(pairs["accepted"].astype(bool).sum()),
                "triples_tested": len(larger),
                "triples_accepted": int(larger["accepted"].astype(bool).sum()),
                "n_selected": len(chosen),
                "selected_groups": ";".join(chosen),
            }
        )
    out = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    if rows:
        largest = selections[max(selections)]
        out["same_as_largest"] = [selections[int(m)] == largest for m in out["n_per_task"]]
    return out


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------
def read_pvi(path: str | Path) -> tuple[str, np.ndarray]:
    """Task name (the file stem) and the finite ``pvi`` column of one PVI parquet file.

    Raises
    ------
    PvigroupError
        Missing file or column, a stem that is not a task id, a ``task`` column naming another
        task, fewer than 2 rows, or NaN/inf PVI (the message names the file).
    """
    path = Path(path)
    task = path.name.removesuffix(".parquet")
    if not NAME_RE.match(task):
        raise PvigroupError(f"{path}: file stem {task!r} is not a task id")
    df = read_parquet(path)
    if "pvi" not in df.columns:
        raise PvigroupError(f"{path}: no 'pvi' column (columns: {', '.join(map(str, df.columns))})")
    if "task" in df.columns:
        other = sorted(set(df["task"].astype(str)) - {task})
        if other:
            raise PvigroupError(f"{path}: rows of task(s) {other} in the PVI file of {task!r}")
    try:
        return task, _as_sample(df["pvi"].to_numpy(dtype=float), str(path))
    except PvigroupError:
        raise
    except (TypeError, ValueError) as err:
        raise PvigroupError(f"{path}: column 'pvi' is not numeric ({err})") from None


def _load_pvi(pvi_files: Sequence[str | Path]) -> dict[str, tuple[Path, np.ndarray]]:
    """Task -> (path, PVI) of each file (:func:`read_pvi`); a task given twice is an error."""
    loaded: dict[str, tuple[Path, np.ndarray]] = {}
    for f in pvi_files:
        task, x = read_pvi(f)
        if task in loaded:
            raise PvigroupError(f"{f}: task {task!r} given twice (also {loaded[task][0]})")
        loaded[task] = (Path(f), x)
    return loaded


def pair_bootstrap_seed(seed: int, group: str) -> int:
    """The bootstrap seed of one pair: a 32-bit integer derived from ``(seed, group id)``.

    Each pair gets its own random stream, so its interval does not depend on which other pairs
    (tasks) are tested.
    """
    return int(_stable_seed(int(seed), group).generate_state(1)[0])


def _pair_bootstrap(
    a: np.ndarray,
    b: np.ndarray,
    *,
    names: tuple[str, str],
    method: str,
    seed: int,
    resamples: int,
    base_seed: int,
) -> BootstrapCI | None:
    """Bootstrap CI of ``mean(a) - mean(b)`` on the samples the pair test used (None for 0)."""
    if not resamples:
        return None
    if method == "paired":
        a, b = paired_subsample(a, b, seed)
    return bootstrap_diff_ci(
        a, b, int(resamples), pair_bootstrap_seed(base_seed, group_id(names)), names=names
    )


def run_test(
    pvi_files: Sequence[str | Path],
    out_json: str | Path,
    *,
    method: str,
    seed: int = 42,
    model: str,
    tost_margin: float | None = None,
    tost_variance: str = "pooled",
    bootstrap_resamples: int = 0,
    bootstrap_seed: int = 42,
) -> dict[str, Any]:
    """Test one pair (2 files, :func:`pair_test`) or group (>2 files, :func:`group_test`).

    Parameters
    ----------
    pvi_files : sequence of paths
        ``results/pvi/{model}/{task}.parquet`` files (the task is the file stem). Samples are
        ordered by task name, so ``mean_diff`` is the alphabetically first task minus the second.
    out_json : path
        Where the result JSON (``docs/architecture.md``) is written.
    method : str
        A pair method for 2 files, a group method for more.
    seed : int
        Seed of the ``paired`` subsample.
    model : str
        Model key, recorded in the JSON.
    tost_margin : float or None
        When set, adds a ``tost`` block: the pair's TOST, or for a group the intersection-union
        TOST of all its pairs (:func:`tost_group`).
    tost_variance : {"pooled", "unequal"}
    bootstrap_resamples : int
        Pairs only: resamples of the percentile bootstrap CI of the mean PVI difference
        (:func:`bootstrap_diff_ci` on the samples the test used), stored as
        ``effect.mean_diff_boot_ci`` with its settings in ``options.bootstrap``. 0 = no bootstrap.
        Ignored for groups of 3 or more tasks.
    bootstrap_seed : int
        Base seed; the pair's generator is seeded from ``(bootstrap_seed, group id)``
        (:func:`pair_bootstrap_seed`), so adding a task changes no other pair's interval.

    Returns
    -------
    dict
        The JSON written.
    """
    if len(pvi_files) < 2:
        raise ValueError(f"run_test needs at least 2 PVI files, got {len(pvi_files)}")
    if len(pvi_files) == 2:
        _check_choice(method, PAIR_METHODS, "pair test method")
    else:
        _check_choice(method, GROUP_METHODS, "group test method")
    loaded = _load_pvi(pvi_files)
    tasks = sorted(loaded)
    samples = {t: loaded[t][1] for t in tasks}
    where = ", ".join(str(loaded[t][0]) for t in tasks)
    try:
        if len(tasks) == 2:
            res = pair_test(
                samples[tasks[0]],
                samples[tasks[1]],
                names=(tasks[0], tasks[1]),
                method=method,
                seed=seed,
            )
            boot = _pair_bootstrap(
                samples[tasks[0]],
                samples[tasks[1]],
                names=(tasks[0], tasks[1]),
                method=method,
                seed=seed,
                resamples=bootstrap_resamples,
                base_seed=bootstrap_seed,
            )
        else:
            res = group_test(samples, method=method)
            boot = None
            if bootstrap_resamples:
                log.debug("%s: bootstrap CIs are computed for pairs only", group_id(tasks))
        tost_block = (
            tost_group(samples, tost_margin, variance=tost_variance)
            if tost_margin is not None
            else None
        )
    except PvigroupError as err:
        raise PvigroupError(f"{where}: {err}") from None
    out = res.to_dict()
    out["model"] = model
    if boot is not None:
        out["effect"]["mean_diff_boot_ci"] = [boot.low, boot.high]
        out["options"]["bootstrap"] = {
            "resamples": boot.resamples,
            "seed": int(bootstrap_seed),
            "stream_seed": boot.seed,
            "level": boot.level,
            "method": "percentile",
        }
    if tost_block is not None:
        out["tost"] = tost_block
    out["provenance"] = {
        "pvigroup": __version__,
        "inputs": {
            t: {"path": str(loaded[t][0]), "sha256": fingerprint_file(loaded[t][0])} for t in tasks
        },
    }
    write_json(out, out_json)
    log.info("%s %s: statistic=%.4g p=%.4g", res.group, res.test, res.statistic, res.pvalue)
    return out


def _float(x: Any) -> float:
    """``float(x)``, NaN for None."""
    return math.nan if x is None else float(x)


def _row(d: Mapping[str, Any], path: Path) -> dict[str, Any]:
    try:
        tasks = list(d["tasks"])
        eff = d.get("effect", {})
        df = d.get("df")
        df1, df2 = (df[0], df[1]) if isinstance(df, list) else (df, math.nan)
        ci = eff.get("mean_diff_ci", [math.nan, math.nan])
        boot = eff.get("mean_diff_boot_ci") or [math.nan, math.nan]
        row = {
            "group": group_id(tasks),
            "tasks": ",".join(sorted(tasks)),
            "size": len(tasks),
            "model": d.get("model", ""),
            "test": d["test"],
            "statistic": float(d["statistic"]),
            "pvalue": float(d["pvalue"]),
            "df": math.nan if df1 is None else float(df1),
            "df2": float(df2),
            "n_total": int(sum(d["n"].values())),
            "mean_diff": float(eff.get("mean_diff", math.nan)),
            "mean_diff_lo": float(ci[0]),
            "mean_diff_hi": float(ci[1]),
            "mean_diff_boot_lo": _float(boot[0]),
            "mean_diff_boot_hi": _float(boot[1]),
            "hedges_g": float(eff.get("hedges_g", math.nan)),
            "eta2": float(eff.get("eta2", math.nan)),
            "omega2": float(eff.get("omega2", math.nan)),
        }
        if "tost" in d:
            row.update(
                tost_pvalue=float(d["tost"]["pvalue"]),
                tost_margin=float(d["tost"]["margin"]),
                tost_variance=str(d["tost"]["variance"]),
            )
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise PvigroupError(
            f"{path}: not a test result JSON ({type(err).__name__}: {err})"
        ) from None
    if d.get("group", row["group"]) != row["group"]:
        raise PvigroupError(f"{path}: group {d['group']!r} does not match tasks {tasks}")
    return row


def collect_tests(
    json_files: Sequence[str | Path], out_tsv: str | Path, *, correction: str = "none"
) -> pd.DataFrame:
    """Collect test JSONs into ``pairs.tsv`` / ``triples.tsv``.

    Parameters
    ----------
    json_files : sequence of paths
        Files written by :func:`run_test` (may be empty: a header-only TSV is written).
    out_tsv : path
    correction : {"none", "bonferroni", "holm", "sidak", "fdr_bh", "fdr_by"}
        ``statsmodels.stats.multitest.multipletests`` over every test in this file; adds
        ``pvalue_adj`` unless ``none``.

    Returns
    -------
    DataFrame
        Columns :data:`TEST_COLUMNS`, then ``tost_pvalue, tost_margin, tost_variance`` when the
        JSONs carry a TOST block (all or none of them must), then ``pvalue_adj``; one row per
        file, sorted by size and group.
    """
    _check_choice(correction, CORRECTIONS, "correction")
    rows = [_row(read_json(p), Path(p)) for p in json_files]
    with_tost = [r for r in rows if "tost_pvalue" in r]
    if with_tost and len(with_tost) != len(rows):
        raise PvigroupError(
            f"{out_tsv}: {len(with_tost)} of {len(rows)} test files carry a TOST block; "
            "rerun the tests so all or none do"
        )
    cols = list(TEST_COLUMNS) + (list(TOST_COLUMNS) if with_tost else [])
    seen: dict[str, str] = {}
    for r, p in zip(rows, json_files, strict=True):
        if r["group"] in seen:
            raise PvigroupError(f"{p}: group {r['group']} also in {seen[r['group']]}")
        seen[r["group"]] = str(p)
    table = pd.DataFrame(rows, columns=cols)
    table = table.sort_values(["size", "group"], kind="stable").reset_index(drop=True)
    if correction != "none":
        table["pvalue_adj"] = (
            multipletests(table["pvalue"].to_numpy(), method=correction)[1]
            if len(table)
            else pd.Series(dtype=float)
        )
    write_tsv(table, out_tsv)
    return table


def _aligned_by_id(files: Mapping[int, Path]) -> dict[int, np.ndarray]:
    """Each seed's PVI ordered by instance id; every file must hold the same ids."""
    out, ids, first = {}, None, None
    for k in sorted(files):
        df = read_parquet(files[k])
        if "id" not in df.columns:
            raise PvigroupError(f"{files[k]}: no 'id' column to match instances across seeds")
        df = df.sort_values("id", kind="stable")
        these = df["id"].astype(str).to_numpy()
        if ids is None:
            ids, first = these, files[k]
        elif len(these) != len(ids) or (these != ids).any():
            raise PvigroupError(f"{files[k]}: its instance ids differ from those of {first}; "
                                "seed replicates must score the same held-out split")
        out[k] = df["pvi"].to_numpy(dtype=float)
    return out


def _replicate_seed(path: Path) -> int:
    """The training seed of a replicate file ``.../seed{seed}/{task}.parquet``."""
    m = re.fullmatch(r"seed(\d+)", path.parent.name)
    if m is None:
        raise PvigroupError(f"{path}: a seed replicate must lie in a folder named seed<N>")
    return int(m.group(1))


def run_vinfo(
    pvi_files: Sequence[str | Path],
    out_tsv: str | Path,
    *,
    resamples: int = 2000,
    seed: int = 42,
    model: str = "",
    replicate_files: Sequence[str | Path] = (),
    main_seeds: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """Write ``vinfo.tsv``: each task's V-information estimate with its bootstrap CI.

    Parameters
    ----------
    pvi_files : sequence of paths
        The model's ``results/pvi/{model}/{task}.parquet`` files (the task is the file stem).
    out_tsv : path
        ``results/stats/{model}/vinfo.tsv``.
    resamples, seed : int
        ``stats.bootstrap``; each task's generator is seeded from ``(seed, task)``
        (:func:`vinfo_summary`).
    model : str
        Model key, written in the ``model`` column.
    replicate_files : sequence of paths
        ``results/pvi/{model}/seed{s}/{task}.parquet`` of ``pvi.variability_seeds``; when given,
        the :func:`seed_variability` columns are added (the main run counts as one seed).
    main_seeds : mapping task -> int
        The main run's training seed of each task (needed with ``replicate_files``).

    Returns
    -------
    DataFrame
        ``task, model, n, mean_pvi, sd_pvi, ci_low, ci_high, level, resamples, seed`` (+
        :data:`SEED_COLUMNS` with replicates), one row per task, sorted by task. ``ci_*`` covers
        instance sampling only; ``combined_ci_*`` also training noise.
    """
    loaded = _load_pvi(pvi_files)
    table = vinfo_summary({t: x for t, (_, x) in loaded.items()}, int(resamples), int(seed))
    table.insert(1, "model", model)
    table["seed"] = int(seed)
    if replicate_files:
        reps: dict[str, dict[int, Path]] = {}
        for f in map(Path, replicate_files):
            task, _ = read_pvi(f)
            if task not in loaded:
                raise PvigroupError(f"{f}: seed replicate of {task!r}, which has no main PVI file")
            reps.setdefault(task, {})[_replicate_seed(f)] = f
        rows = []
        for task in table["task"]:
            main = (main_seeds or {}).get(task)
            if main is None:
                raise PvigroupError(f"vinfo: no main training seed given for task {task!r}")
            files = reps.get(task, {})
            if main in files:
                raise PvigroupError(f"{loaded[task][0]}: seed {main} given as main run and replicate")
            files = {**files, int(main): loaded[task][0]}
            rows.append(seed_variability(_aligned_by_id(files), int(resamples), int(seed),
                                         name=task))
        table = pd.concat([table, pd.DataFrame(rows, columns=SEED_COLUMNS)], axis=1)
    write_tsv(table, out_tsv)
    for r in table.itertuples():
        log.info(
            "%s: V-information %.4f bits [%.4f, %.4f] (n=%d)",
            r.task,
            r.mean_pvi,
            r.ci_low,
            r.ci_high,
            r.n,
        )
        if replicate_files:
            log.info("%s: over %d training seeds (%s) sd %.4f; with training noise [%.4f, %.4f]",
                     r.task, r.n_seeds, r.seeds, r.seed_sd, r.combined_ci_low, r.combined_ci_high)
    return table


def run_sensitivity(
    pvi_files: Sequence[str | Path],
    out_tsv: str | Path,
    summary_tsv: str | Path,
    *,
    sizes: Sequence[int],
    alpha: float = 0.01,
    method: str = "student",
    group_method: str = "anova",
    seed: int = 42,
    max_group_size: int = 3,
    rule: str = "paper",
    size_priority: str = "larger",
    test: str = "significance",
    tost_margin: float | None = None,
    tost_variance: str = "pooled",
    correction: str = "none",
    model: str = "",
) -> pd.DataFrame:
    """Write ``sensitivity.tsv`` (:func:`sensitivity`) and ``sensitivity_summary.tsv``.

    Parameters
    ----------
    pvi_files : sequence of paths
        The model's PVI files, at least 2 tasks.
    out_tsv, summary_tsv : path
        The per-(size, group) table and its per-size summary (:func:`sensitivity_summary`).
    sizes, alpha, method, group_method, seed, max_group_size, rule, size_priority, test,
    tost_margin, tost_variance, correction :
        As in :func:`sensitivity` (the workflow passes the ``stats`` and ``grouping`` config).
    model : str
        Model key, written in a ``model`` column of both files.

    Returns
    -------
    DataFrame
        The per-(size, group) table written to ``out_tsv``.
    """
    loaded = _load_pvi(pvi_files)
    if len(loaded) < 2:
        raise PvigroupError(
            f"{out_tsv}: the sensitivity analysis needs the PVI of at least 2 tasks, got "
            f"{len(loaded)} ({', '.join(map(str, pvi_files)) or 'none'})"
        )
    table = sensitivity(
        {t: x for t, (_, x) in loaded.items()},
        sizes,
        alpha=alpha,
        method=method,
        group_method=group_method,
        seed=seed,
        max_group_size=max_group_size,
        rule=rule,
        size_priority=size_priority,
        test=test,
        tost_margin=tost_margin,
        tost_variance=tost_variance,
        correction=correction,
    )
    summary = sensitivity_summary(table)
    table.insert(0, "model", model)
    summary.insert(0, "model", model)
    write_tsv(table, out_tsv)
    write_tsv(summary, summary_tsv)
    for r in summary.itertuples():
        log.info(
            "n=%d per task: %d/%d pairs and %d/%d larger groups accepted; selected: %s",
            r.n_per_task,
            r.pairs_accepted,
            r.pairs_tested,
            r.triples_accepted,
            r.triples_tested,
            r.selected_groups or "none",
        )
    return table
