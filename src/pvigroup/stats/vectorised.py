"""Many pair or group tests at once, from each task's n, mean and sum of squares.

Student's and Welch's t, their t CIs of the mean difference, Hedges' g, one-way ANOVA, η², ω²
and TOST need only these per-task summaries, so a model's pairs and groups are tested with array
arithmetic instead of one call per test. Tests that need the samples (paired t, Alexander-Govern,
Kruskal-Wallis) go through :func:`pvigroup.stats.pair_test` / :func:`~pvigroup.stats.group_test`
one group at a time, still in one process. The numbers equal those of ``scipy.stats`` (unit
tests compare them).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special
from scipy import stats as sps

from pvigroup.errors import PvigroupError
from pvigroup.stats._base import _CI_LEVEL, _as_sample

#: Pair tests :func:`pair_columns` computes from summaries; other methods loop over the samples.
VECTOR_PAIR_METHODS = ("student", "welch")
#: Group tests :func:`group_columns` computes from summaries.
VECTOR_GROUP_METHODS = ("anova",)


@dataclass(frozen=True)
class Summaries:
    """Per-task summaries, tasks sorted by name (index ``i`` is ``names[i]``).

    Attributes
    ----------
    names : tuple of str
    n, mean, ss : float arrays
        Size, mean and sum of squared deviations from the mean of each task's PVI.
    """

    names: tuple[str, ...]
    n: np.ndarray
    mean: np.ndarray
    ss: np.ndarray

    @property
    def var(self) -> np.ndarray:
        """Sample variances (ddof=1)."""
        return self.ss / (self.n - 1)


def summarise(samples: Mapping[str, np.ndarray]) -> Summaries:
    """:class:`Summaries` of each sample (checked by the same rules as the single tests)."""
    names = tuple(sorted(samples))
    xs = [_as_sample(samples[t], t) for t in names]
    mean = np.array([x.mean() for x in xs])
    ss = np.array([((x - m) ** 2).sum() for x, m in zip(xs, mean, strict=True)])
    return Summaries(names, np.array([x.size for x in xs], dtype=float), mean, ss)


def combo_chunks(n: int, k: int, chunk: int = 1_000_000) -> Iterator[np.ndarray]:
    """Every k-subset of ``range(n)`` in lexicographic order, as ``(m, k)`` int arrays of at most
    ``chunk`` rows."""
    it = itertools.combinations(range(n), k)
    while True:
        flat = np.fromiter(itertools.chain.from_iterable(itertools.islice(it, chunk)),
                           dtype=np.int64)
        if not flat.size:
            return
        yield flat.reshape(-1, k)


def apriori_candidates(accepted: np.ndarray) -> np.ndarray:
    """Groups of size k whose every (k-1)-subgroup is in ``accepted`` (an ``(m, k-1)`` array of
    sorted index tuples), sorted lexicographically, as an ``(c, k)`` array."""
    k1 = accepted.shape[1] if accepted.ndim == 2 else 0
    if not len(accepted):
        return np.empty((0, k1 + 1), dtype=np.int64)
    keep = set(map(tuple, accepted.tolist()))
    by_prefix: dict[tuple[int, ...], list[int]] = {}
    for g in sorted(keep):
        by_prefix.setdefault(g[:-1], []).append(g[-1])
    out = []
    for prefix, lasts in by_prefix.items():
        for x, y in itertools.combinations(lasts, 2):
            cand = (*prefix, x, y)
            if all(cand[:i] + cand[i + 1:] in keep for i in range(len(prefix))):
                out.append(cand)
    return np.array(sorted(out), dtype=np.int64).reshape(-1, k1 + 1)


def _effects(s: Summaries, idx: np.ndarray) -> dict[str, np.ndarray]:
    """η² and ω² of each row of ``idx`` (as :func:`pvigroup.stats.anova_effect_sizes`), plus the
    sums of squares the ANOVA needs."""
    k = idx.shape[1]
    n, mean = s.n[idx], s.mean[idx]
    total = n.sum(axis=1)
    grand = (n * mean).sum(axis=1) / total
    ssb = (n * (mean - grand[:, None]) ** 2).sum(axis=1)
    ssw = s.ss[idx].sum(axis=1)
    sst = ssb + ssw
    msw = ssw / (total - k)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta2 = np.where(sst == 0, math.nan, ssb / sst)
        omega2 = np.where(sst == 0, math.nan, (ssb - (k - 1) * msw) / (sst + msw))
    return {"eta2": eta2, "omega2": omega2, "ssb": ssb, "ssw": ssw, "n_total": total}


def _se_df(s: Summaries, ij: np.ndarray, variance: str) -> tuple[np.ndarray, np.ndarray]:
    """Standard error and df of ``mean_a - mean_b``: pooled (Student) or unequal (Welch)."""
    a, b = ij[:, 0], ij[:, 1]
    na, nb = s.n[a], s.n[b]
    if variance == "pooled":
        df = na + nb - 2
        sp2 = (s.ss[a] + s.ss[b]) / df
        return np.sqrt(sp2 * (1 / na + 1 / nb)), df
    qa, qb = s.var[a] / na, s.var[b] / nb
    with np.errstate(divide="ignore", invalid="ignore"):
        df = (qa + qb) ** 2 / (qa**2 / (na - 1) + qb**2 / (nb - 1))
    return np.sqrt(qa + qb), df


def check_pair_variance(s: Summaries, ij: np.ndarray, what: str = "t statistic") -> None:
    """PvigroupError naming the first pair whose two samples both have zero variance."""
    bad = (s.ss[ij[:, 0]] == 0) & (s.ss[ij[:, 1]] == 0)
    if bad.any():
        a, b = ij[int(np.flatnonzero(bad)[0])]
        raise PvigroupError(
            f"{s.names[a]} vs {s.names[b]}: both PVI samples have zero variance "
            f"(constant {s.mean[a]:g} and {s.mean[b]:g}), so the {what} is undefined"
        )


def pair_columns(s: Summaries, ij: np.ndarray, method: str) -> dict[str, np.ndarray]:
    """Student or Welch t test of every pair ``(a, b)`` of ``ij`` (``mean_diff`` = a - b).

    Returns the table columns ``statistic, pvalue, df, n_total, mean_diff, mean_diff_lo,
    mean_diff_hi, hedges_g, eta2, omega2`` (as :func:`pvigroup.stats.pair_test`).
    """
    if method not in VECTOR_PAIR_METHODS:
        raise ValueError(f"pair_columns computes {VECTOR_PAIR_METHODS}, not {method!r}")
    check_pair_variance(s, ij)
    a, b = ij[:, 0], ij[:, 1]
    diff = s.mean[a] - s.mean[b]
    se, df = _se_df(s, ij, "pooled" if method == "student" else "unequal")
    t = diff / se
    q = sps.t.ppf(0.5 + _CI_LEVEL / 2, df)
    na, nb = s.n[a], s.n[b]
    sp2 = (s.ss[a] + s.ss[b]) / (na + nb - 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(sp2 == 0, math.nan, diff / np.sqrt(sp2) * (1 - 3 / (4 * (na + nb) - 9)))
    eff = _effects(s, ij)
    return {
        "statistic": t,
        "pvalue": 2 * special.stdtr(df, -np.abs(t)),
        "df": df,
        "n_total": eff["n_total"],
        "mean_diff": diff,
        "mean_diff_lo": diff - q * se,
        "mean_diff_hi": diff + q * se,
        "hedges_g": g,
        "eta2": eff["eta2"],
        "omega2": eff["omega2"],
    }


def group_columns(s: Summaries, idx: np.ndarray, method: str = "anova") -> dict[str, np.ndarray]:
    """One-way ANOVA of every group (row) of ``idx``: ``statistic`` F, ``pvalue``, ``df`` (k-1),
    ``df2`` (N-k), ``n_total``, ``eta2``, ``omega2`` (as :func:`pvigroup.stats.group_test`)."""
    if method not in VECTOR_GROUP_METHODS:
        raise ValueError(f"group_columns computes {VECTOR_GROUP_METHODS}, not {method!r}")
    k = idx.shape[1]
    flat = (s.ss[idx] == 0).all(axis=1)
    if flat.any():
        names = " vs ".join(s.names[i] for i in idx[int(np.flatnonzero(flat)[0])])
        raise PvigroupError(
            f"{names}: every PVI sample has zero variance, so the F statistic is undefined"
        )
    eff = _effects(s, idx)
    df2 = eff["n_total"] - k
    with np.errstate(divide="ignore", invalid="ignore"):
        f = (eff["ssb"] / (k - 1)) / (eff["ssw"] / df2)
    return {
        "statistic": f,
        "pvalue": special.fdtrc(k - 1, df2, f),
        "df": np.full(len(idx), float(k - 1)),
        "df2": df2,
        "n_total": eff["n_total"],
        "eta2": eff["eta2"],
        "omega2": eff["omega2"],
    }


def tost_pvalues(s: Summaries, ij: np.ndarray, margin: float, variance: str) -> np.ndarray:
    """TOST p-value of every pair (as :func:`pvigroup.stats.tost`): the larger one-sided p."""
    if not (isinstance(margin, int | float) and margin > 0 and math.isfinite(margin)):
        raise ValueError(f"TOST margin must be a positive number of bits, got {margin!r}")
    check_pair_variance(s, ij, "TOST t statistics are")
    diff = s.mean[ij[:, 0]] - s.mean[ij[:, 1]]
    se, df = _se_df(s, ij, variance)
    lower = special.stdtr(df, -(diff + margin) / se)  # H0 diff <= -margin
    upper = special.stdtr(df, (diff - margin) / se)  # H0 diff >= margin
    return np.maximum(lower, upper)


def tost_matrix(s: Summaries, margin: float, variance: str) -> np.ndarray:
    """The pair TOST p-values as a symmetric task x task matrix (diagonal NaN)."""
    m = len(s.names)
    ij = np.array(list(itertools.combinations(range(m), 2)), dtype=np.int64).reshape(-1, 2)
    out = np.full((m, m), math.nan)
    if len(ij):
        p = tost_pvalues(s, ij, margin, variance)
        out[ij[:, 0], ij[:, 1]] = p
        out[ij[:, 1], ij[:, 0]] = p
    return out


def group_tost(matrix: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Intersection-union TOST p of each group: the largest p of its pairs."""
    k = idx.shape[1]
    cols = [matrix[idx[:, x], idx[:, y]] for x, y in itertools.combinations(range(k), 2)]
    return np.max(np.stack(cols), axis=0)


def per_task_columns(s: Summaries, idx: np.ndarray, width: int) -> dict[str, np.ndarray]:
    """``n_1..n_width``, ``mean_1..``, ``sd_1..``: each task's size, mean and SD in the order of the
    group's tasks (NaN past the group's size)."""
    rows, k = idx.shape
    out: dict[str, np.ndarray] = {}
    for name, values in (("n", s.n), ("mean", s.mean), ("sd", np.sqrt(s.var))):
        for c in range(width):
            out[f"{name}_{c + 1}"] = values[idx[:, c]] if c < k else np.full(rows, math.nan)
    return out


def lexicographic_is_id_order(names: Sequence[str]) -> bool:
    """Whether index tuples in lexicographic order are group ids in string order.

    Group ids join sorted names with ``__``; their string order is the tuple order unless a name
    is another's prefix followed by a character below ``_`` (``a`` and ``a-b``).
    """
    return list(names) == sorted(names, key=lambda t: t + "__")
