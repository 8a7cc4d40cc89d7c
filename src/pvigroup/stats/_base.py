"""Shared pieces of :mod:`pvigroup.stats`: option lists, the result object, sample checks."""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pvigroup.errors import PvigroupError
from pvigroup.workflow import group_id

PAIR_METHODS = ("student", "welch", "paired")
GROUP_METHODS = ("anova", "alexander-govern", "kruskal")
TOST_VARIANCES = ("pooled", "unequal")
CORRECTIONS = ("none", "bonferroni", "holm", "sidak", "fdr_bh", "fdr_by")

#: Columns of ``pairs.tsv`` / ``triples.tsv`` (the TOST columns and ``pvalue_adj`` follow when
#: used, then the per-task columns; see :mod:`pvigroup.stats.runner`).
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
        """The result as plain JSON types (tuples as lists)."""
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


def _stable_seed(*parts: int | str) -> np.random.SeedSequence:
    """A seed sequence from ints and names (names hashed with crc32, stable across runs)."""
    ints = [p if isinstance(p, int) else zlib.crc32(p.encode()) for p in parts]
    return np.random.SeedSequence(ints)
