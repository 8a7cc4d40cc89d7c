"""Sensitivity of the tests and the grouping to the per-task sample size."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from pvigroup.config import DEFAULT_STATS, StatsSettings
from pvigroup.errors import PvigroupError
from pvigroup.io import write_tsv
from pvigroup.stats._base import (
    CORRECTIONS,
    GROUP_METHODS,
    PAIR_METHODS,
    _as_sample,
    _check_choice,
    _stable_seed,
)
from pvigroup.stats.files import _load_pvi
from pvigroup.stats.group_runner import in_memory_tests

log = logging.getLogger(__name__)


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
    pvi_by_task: Mapping[str, np.ndarray], settings: StatsSettings = DEFAULT_STATS
) -> pd.DataFrame:
    """Rerun the tests and the grouping on equal-size subsamples of every task.

    For each common size ``m`` of :func:`sensitivity_sizes` (``settings.sensitivity_sizes``),
    each task's PVI is subsampled without replacement to ``m`` (generator seeded from
    ``(seed, m, task name)``), every group of 2 to ``max_group_size`` tasks is tested as the
    workflow tests them (:func:`pvigroup.stats.group_runner.in_memory_tests`: pairs with
    ``pair_test``, larger groups with ``group_test``), and
    :func:`pvigroup.groups.select_groups` picks the similar groups with the same acceptance
    rule, tie-break and size priority as the workflow (its disjoint ``cover`` mode).

    Parameters
    ----------
    pvi_by_task : mapping task -> 1-d array
        Per-instance PVI of each task (at least 2 tasks).
    settings : StatsSettings
        ``sensitivity_sizes``; ``pair_test``, ``group_test``, ``seed`` (of the subsamples and
        of the ``paired`` test's pairing), ``max_group_size``; ``alpha``, ``tie_break``,
        ``size_priority`` as in :func:`pvigroup.groups.select_groups`; ``test``
        (``significance`` | ``tost``: ``tost`` needs ``tost_margin`` and adds a ``tost_pvalue``
        column, a group's being the largest of its pairs', as :func:`tost_group`) with
        ``tost_variance``; ``correction`` (:data:`CORRECTIONS`), applied at each size to the
        pairs and to the larger groups separately, as ``pairs.tsv`` and ``triples.tsv`` are; it
        adds ``pvalue_adj``, which then decides acceptance under ``significance``.

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
    from pvigroup.groups import select_groups  # here, not at the top: the grouping imports stats

    alpha, seed, test, correction = settings.alpha, settings.seed, settings.test, settings.correction
    _check_choice(settings.pair_test, PAIR_METHODS, "pair test method")
    _check_choice(settings.group_test, GROUP_METHODS, "group test method")
    _check_choice(test, ("significance", "tost"), "grouping test")
    _check_choice(correction, CORRECTIONS, "correction")
    if test == "tost" and settings.tost_margin is None:
        raise ValueError("grouping test 'tost' needs a tost_margin")
    # the sensitivity grouping is the disjoint cover (select_groups' defaults)
    grouping = replace(DEFAULT_STATS, alpha=alpha, tie_break=settings.tie_break, test=test,
                       size_priority=settings.size_priority)
    testing = settings if test == "tost" else replace(settings, tost_margin=None)
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
    for m in sensitivity_sizes({t: x.size for t, x in data.items()}, settings.sensitivity_sizes):
        sub = {
            t: data[t][
                np.random.default_rng(_stable_seed(seed, m, t)).permutation(data[t].size)[:m]
            ]
            for t in tasks
        }
        tests = in_memory_tests(sub, testing)
        tests.insert(0, "n_per_task", m)
        if correction != "none":
            tests["pvalue_adj"] = np.nan
            for is_pair in (True, False):
                rows = (tests["size"] == 2) == is_pair
                if rows.any():
                    tests.loc[rows, "pvalue_adj"] = multipletests(
                        tests.loc[rows, "pvalue"].to_numpy(), method=correction
                    )[1]
        similar, _ = select_groups(tests, grouping, where=f"sensitivity tests at n={m}")
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


def run_sensitivity(
    pvi_files: Sequence[str | Path],
    out_tsv: str | Path,
    summary_tsv: str | Path,
    settings: StatsSettings = DEFAULT_STATS,
    *,
    model: str = "",
) -> pd.DataFrame:
    """Write ``sensitivity.tsv`` (:func:`sensitivity`) and ``sensitivity_summary.tsv``.

    Parameters
    ----------
    pvi_files : sequence of paths
        The model's PVI files, at least 2 tasks.
    out_tsv, summary_tsv : path
        The per-(size, group) table and its per-size summary (:func:`sensitivity_summary`).
    settings : StatsSettings
        As in :func:`sensitivity` (the workflow's, from the ``stats`` and ``grouping`` config).
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
    table = sensitivity({t: x for t, (_, x) in loaded.items()}, settings)
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
