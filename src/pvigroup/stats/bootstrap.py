"""Percentile bootstrap CIs: a mean, a difference of means, V-information, seed variability."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from pvigroup.errors import PvigroupError
from pvigroup.stats._base import _CHUNK, _as_sample, _stable_seed


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
