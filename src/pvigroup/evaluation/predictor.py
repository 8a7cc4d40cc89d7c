"""Does PVI predict the gain? Over every trained pair (a group of two tasks, from any source):
rank correlations between the pair's MTL gain and its PVI test (the pair test's p-value, and the
absolute difference of the two tasks' mean PVI), each with a permutation p-value, and the AUROC
of the grouping decision "p > alpha" for "gain > 0".

A pair trained for several sources is counted once (its gain is the same runs').
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pvigroup.errors import PvigroupError
from pvigroup.evaluation.gain import METRICS

#: Fewest pairs a statistic is computed on: below it a rank correlation has too few distinct
#: pairings to mean much (4 pairs: 24, so no two-sided p-value below 2/24 = 1/12).
MIN_PAIRS = 5
#: Random permutations of the permutation test when n! exceeds it (else every permutation).
N_PERMUTATIONS = 9999
PREDICTOR_COLUMNS = ("model", "metric", "predictor", "statistic", "n_pairs", "n_gain_positive",
                     "value", "pvalue", "n_permutations", "exact", "seed", "min_pairs", "note")
#: What each predictor is, by the column of the pairs frame it reads.
PREDICTORS = {"pair_pvalue": "the pair test's p-value",
              "abs_mean_diff": "|difference of mean PVI| (bits)"}


@dataclass(frozen=True)
class CorrelationResult:
    """A rank correlation with its permutation test.

    Attributes
    ----------
    statistic : str
        ``spearman``, ``kendall`` or ``auroc``.
    value : float
        The statistic (NaN when not computed, see ``note``).
    pvalue : float
        Two-sided permutation p-value (``scipy.stats.permutation_test``, pairings permuted).
    n : int
        Number of pairs.
    n_permutations : int
        Permutations drawn (every one of the n! when ``exact``).
    exact : bool
        Whether every permutation was enumerated.
    note : str
        Why the statistic is missing, when it is.
    """

    statistic: str
    value: float
    pvalue: float
    n: int
    n_permutations: int
    exact: bool
    note: str = ""


def auroc(scores: Sequence[float], positive: Sequence[bool]) -> float:
    """Area under the ROC curve of ``scores`` for the ``positive`` class: the probability that a
    random positive scores higher than a random negative, ties counting one half (the
    Mann-Whitney U / (n₊ n₋)). NaN without both classes."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(positive, dtype=bool)
    pos, neg = s[y], s[~y]
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


def _statistic(name: str, y: np.ndarray):
    from scipy import stats as sps

    if name == "spearman":
        return lambda x: sps.spearmanr(x, y).statistic
    if name == "kendall":
        return lambda x: sps.kendalltau(x, y).statistic
    if name == "auroc":  # x: the decision score, y: gain > 0; centred so two-sided is |AUROC − ½|
        return lambda x: auroc(x, y) - 0.5
    raise ValueError(f"unknown statistic {name!r}")


def permutation_statistic(x: Sequence[float], y: Sequence[float], statistic: str, *,
                          n_permutations: int = N_PERMUTATIONS, seed: int = 0,
                          min_pairs: int = MIN_PAIRS) -> CorrelationResult:
    """``statistic`` of (x, y) with a two-sided permutation p-value (pure, seeded).

    The null hypothesis is that x and y are paired at random: ``scipy.stats.permutation_test``
    with ``permutation_type="pairings"`` permutes x against y, every one of the n! pairings when
    n! ≤ ``n_permutations`` (exact), else ``n_permutations`` random ones from
    ``numpy.random.default_rng(seed)`` (then p = (1 + #as extreme) / (1 + n_permutations)).
    For ``auroc`` y is the positive class (bool) and x the score. Fewer than ``min_pairs`` pairs,
    a constant x or y, or (AUROC) a single class give NaN with a note saying so.
    """
    from scipy import stats as sps

    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=bool if statistic == "auroc" else float)
    n = len(x)
    if len(y) != n:
        raise ValueError(f"x has {n} values, y {len(y)}")

    def missing(note: str) -> CorrelationResult:
        return CorrelationResult(statistic, np.nan, np.nan, n, 0, False, note)

    if n < min_pairs:
        return missing(f"too few pairs: {n} trained, at least {min_pairs} needed")
    if statistic == "auroc" and (y.all() or not y.any()):
        which = "gained" if y.all() else "lost or tied"
        return missing(f"every one of the {n} pairs {which}: AUROC needs pairs with a gain > 0 "
                       "and pairs without")
    if np.ptp(x) == 0 or (statistic != "auroc" and np.ptp(y) == 0):
        which = "predictor" if np.ptp(x) == 0 else "gain"
        return missing(f"the {which} is the same for all {n} pairs: no ranking")
    func = _statistic(statistic, y)
    res = sps.permutation_test((x,), func, permutation_type="pairings", vectorized=False,
                               n_resamples=n_permutations, alternative="two-sided",
                               rng=np.random.default_rng(seed))
    value = float(res.statistic) + (0.5 if statistic == "auroc" else 0.0)
    n_perm = len(res.null_distribution)
    exact = _factorial_at_most(n, n_permutations)
    return CorrelationResult(statistic, value, float(res.pvalue), n, n_perm, exact)


def _factorial_at_most(n: int, limit: int) -> bool:
    f = 1
    for k in range(2, n + 1):
        f *= k
        if f > limit:
            return False
    return True


@dataclass(frozen=True)
class PredictorResult:
    """Every predictor statistic of one model (``table``: ``PREDICTOR_COLUMNS``) and the pairs
    they were computed on (``pairs``: ``group, tasks, pair_pvalue, abs_mean_diff, accepted,
    acc_gain, f1_gain``)."""

    table: pd.DataFrame
    pairs: pd.DataFrame
    alpha: float


def trained_pairs(groups: pd.DataFrame, tests: pd.DataFrame, *, alpha: float,
                  where: str = "pairs.tsv") -> pd.DataFrame:
    """One row per trained pair (groups.tsv rows of size 2, once per group) with its pair test.

    ``tests`` is ``results/stats/{model}/pairs.tsv``; a trained pair missing from it is an error
    naming the pair. ``accepted`` is the paper's decision, ``pair_pvalue > alpha``; the decision
    p is ``pvalue_adj`` when the tests were corrected, else ``pvalue``.
    """
    need = ["group", "pvalue", "mean_diff"]
    missing = [c for c in need if c not in tests.columns]
    if missing:
        raise PvigroupError(f"{where}: missing column(s) {', '.join(missing)}")
    pcol = "pvalue_adj" if "pvalue_adj" in tests.columns else "pvalue"
    t = tests.set_index("group")
    pairs = groups[groups["size"] == 2].drop_duplicates("group").sort_values("group")
    rows = []
    for r in pairs.itertuples(index=False):
        if r.group not in t.index:
            raise PvigroupError(f"{where}: trained pair {r.group!r} has no pair test")
        p, diff = float(t.loc[r.group, pcol]), float(t.loc[r.group, "mean_diff"])
        rows.append({"group": r.group, "tasks": r.tasks, "pair_pvalue": p,
                     "abs_mean_diff": abs(diff), "accepted": bool(p > alpha),
                     "acc_gain": float(r.acc_gain), "f1_gain": float(r.f1_gain)})
    return pd.DataFrame(rows, columns=["group", "tasks", "pair_pvalue", "abs_mean_diff",
                                       "accepted", "acc_gain", "f1_gain"])


def pvi_predictor(groups: pd.DataFrame, tests: pd.DataFrame, *, model: str, alpha: float,
                  seed: int = 0, n_permutations: int = N_PERMUTATIONS,
                  min_pairs: int = MIN_PAIRS, where: str = "pairs.tsv") -> PredictorResult:
    """Spearman and Kendall correlations of each pair's gain with its pair-test p-value and with
    |Δ mean PVI|, and the AUROC of "p > alpha" for "gain > 0", for accuracy and macro-F1 (pure).

    Each statistic has a two-sided permutation p-value (:func:`permutation_statistic`, seeded
    with ``seed``). If PVI similarity predicts the gain, the gain rises with the p-value
    (positive correlation), falls with |Δ mean PVI| (negative) and the AUROC is above 0.5.
    """
    pairs = trained_pairs(groups, tests, alpha=alpha, where=where)
    rows = []
    for metric, p in METRICS.items():
        gain = pairs[f"{p}_gain"].to_numpy(float)
        tests_done = [(pred, stat, pairs[pred].to_numpy(float), gain)
                      for pred in PREDICTORS for stat in ("spearman", "kendall")]
        tests_done.append(("p_gt_alpha", "auroc", pairs["accepted"].to_numpy(float), gain > 0))
        for pred, stat, x, y in tests_done:
            res = permutation_statistic(x, y, stat, n_permutations=n_permutations, seed=seed,
                                        min_pairs=min_pairs)
            rows.append({"model": model, "metric": metric, "predictor": pred, "statistic": stat,
                         "n_pairs": len(pairs), "n_gain_positive": int((gain > 0).sum()),
                         "value": res.value, "pvalue": res.pvalue,
                         "n_permutations": res.n_permutations, "exact": res.exact,
                         "seed": seed, "min_pairs": min_pairs, "note": res.note})
    return PredictorResult(pd.DataFrame(rows, columns=list(PREDICTOR_COLUMNS)), pairs, alpha)
