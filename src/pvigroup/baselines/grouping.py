"""Turning a task-affinity matrix into group files (shared by TaskEmb and surrogate models).

Both baselines end with a symmetric matrix ``S`` of pairwise task affinities (cosine similarity
of task embeddings; symmetrised surrogate coefficients). A candidate group's score is the mean
of ``S`` over its pairs; groups are then chosen by the same kind of rule as the PVI groups:
greedy, disjoint (each task in at most one group), deterministic.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pvigroup.errors import PvigroupError
from pvigroup.io import read_tsv, write_tsv
from pvigroup.workflow import group_id

log = logging.getLogger(__name__)

GROUP_COLUMNS = ["group", "tasks", "size", "source", "test", "statistic", "pvalue", "score"]


def check_square(matrix: pd.DataFrame, what: str = "affinity matrix", *,
                 allow_nan: bool = False) -> pd.DataFrame:
    """Return ``matrix`` with sorted, matching row/column labels; raise if it is not square.

    Parameters
    ----------
    matrix
        Task × task matrix.
    what
        Name used in error messages (a file name or a description).
    allow_nan
        Accept NaN off the diagonal (an affinity that could not be estimated); infinities are
        still refused.

    Raises
    ------
    PvigroupError
        When rows and columns name different tasks or a value is not finite off the diagonal.
    """
    if set(matrix.index) != set(matrix.columns) or len(matrix.index) != len(matrix.columns):
        raise PvigroupError(f"{what}: rows {list(matrix.index)} and columns "
                            f"{list(matrix.columns)} do not name the same tasks")
    names = sorted(map(str, matrix.index))
    out = matrix.copy()
    out.index = out.index.map(str)
    out.columns = out.columns.map(str)
    out = out.loc[names, names].astype(float)
    values = out.to_numpy()
    off = ~np.eye(len(names), dtype=bool)
    bad = ~np.isfinite(values) & off
    if allow_nan:
        bad &= ~np.isnan(values)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise PvigroupError(f"{what}: value for ({names[i]}, {names[j]}) is not finite")
    return out


def group_scores(similarity: pd.DataFrame, size: int) -> dict[str, float]:
    """Score of every size-``size`` group: the mean pairwise similarity of its members.

    Parameters
    ----------
    similarity
        Symmetric task × task matrix (the diagonal is ignored).
    size
        Group size, at least 2.

    Returns
    -------
    dict
        Group id (sorted names joined by ``__``) → mean similarity over its pairs; NaN when a
        pair's similarity is unknown (such groups are never chosen).
    """
    if size < 2:
        raise ValueError(f"group size must be at least 2, got {size}")
    sim = check_square(similarity, "similarity", allow_nan=True)
    names = list(sim.index)
    values = sim.to_numpy()
    index = {n: i for i, n in enumerate(names)}
    scores: dict[str, float] = {}
    for members in itertools.combinations(names, size):
        pairs = [values[index[a], index[b]] for a, b in itertools.combinations(members, 2)]
        scores[group_id(members)] = float(np.mean(pairs))
    return scores


SIZE_PRIORITIES = ("score", "larger", "smaller", "per-size")


def greedy_disjoint(scores: Mapping[str, float], *, max_groups: int | None = None,
                    min_score: float | None = None, size_priority: str = "score") -> list[str]:
    """Pick groups in rank order, skipping any that shares a task with one already picked.

    The PVI rule orders its accepted groups and takes them greedily so that each task ends in
    at most one group; this is the same choice with the baseline's score (higher = more
    related). Ties are broken by the group id, so the result never depends on input order.

    Parameters
    ----------
    scores
        Group id → score. NaN scores are never chosen.
    max_groups
        Stop after this many groups (None = as many as disjointness allows).
    min_score
        Only groups scoring at least this are eligible (None = all).
    size_priority
        ``score``: one ranking by score across sizes (the mean pairwise affinity is on one scale
        for every size); ``larger``/``smaller``: larger (smaller) groups first, then score, as
        ``grouping.size_priority`` orders PVI groups; ``per-size``: disjoint only within a size
        (pairs among pairs, triples among triples), ``max_groups`` per size.

    Returns
    -------
    list of str
        The chosen group ids, in the order taken.
    """
    if size_priority not in SIZE_PRIORITIES:
        raise PvigroupError(f"size_priority {size_priority!r} is not one of "
                            f"{', '.join(SIZE_PRIORITIES)}")
    eligible = {g: v for g, v in scores.items()
                if not math.isnan(v) and (min_score is None or v >= min_score)}
    if size_priority == "per-size":
        sizes = sorted({len(g.split("__")) for g in eligible})
        return [g for k in sizes for g in greedy_disjoint(
            {g: v for g, v in eligible.items() if len(g.split("__")) == k},
            max_groups=max_groups, size_priority="score")]

    def key(item: tuple[str, float]) -> tuple:
        gid, score = item
        size = len(gid.split("__"))
        first = {"score": 0, "larger": -size, "smaller": size}[size_priority]
        return (first, -score, gid)

    used: set[str] = set()
    chosen: list[str] = []
    for gid, _score in sorted(eligible.items(), key=key):
        if max_groups is not None and len(chosen) >= max_groups:
            break
        members = set(gid.split("__"))
        if members & used:
            continue
        chosen.append(gid)
        used |= members
    return chosen


def groups_from_similarity(similarity: pd.DataFrame, *, sizes: Sequence[int], source: str,
                           test: str, max_groups: int | None = None,
                           min_score: float | None = None,
                           size_priority: str = "score") -> pd.DataFrame:
    """The group table (architecture.md "Groups" format) from a task × task matrix.

    A candidate group's score is the mean of the matrix over its pairs; groups of every size in
    ``sizes`` compete in :func:`greedy_disjoint`. ``statistic`` and ``score`` both hold that
    mean; ``pvalue`` is empty (no test is run).
    """
    n_tasks = len(similarity.index)
    scores: dict[str, float] = {}
    for size in sorted(set(sizes)):
        if size > n_tasks:
            log.info("%s: no group of size %d with %d tasks", source, size, n_tasks)
            continue
        scores.update(group_scores(similarity, size))
    rows = []
    for gid in greedy_disjoint(scores, max_groups=max_groups, min_score=min_score,
                               size_priority=size_priority):
        tasks = gid.split("__")
        rows.append({"group": gid, "tasks": ",".join(tasks), "size": len(tasks),
                     "source": source, "test": test, "statistic": scores[gid],
                     "pvalue": math.nan, "score": scores[gid]})
    return pd.DataFrame(rows, columns=GROUP_COLUMNS).astype(
        {"size": "int64", "statistic": "float64", "pvalue": "float64", "score": "float64"})


def validate_groups(df: pd.DataFrame, where: str | Path, *,
                    known_tasks: Iterable[str] | None = None) -> None:
    """Check a group table against the architecture contract; raise naming the row at fault."""
    missing = [c for c in GROUP_COLUMNS if c not in df.columns]
    if missing:
        raise PvigroupError(f"{where}: missing column(s) {missing}")
    known = set(known_tasks) if known_tasks is not None else None
    for i, row in df.reset_index(drop=True).iterrows():
        tasks = str(row["tasks"]).split(",")
        if tasks != sorted(set(tasks)):
            raise PvigroupError(f"{where}: row {i + 1}: tasks {row['tasks']!r} not sorted/distinct")
        if group_id(tasks) != row["group"]:
            raise PvigroupError(f"{where}: row {i + 1}: group {row['group']!r} does not match "
                                f"tasks {row['tasks']!r}")
        if int(row["size"]) != len(tasks) or len(tasks) < 2:
            raise PvigroupError(f"{where}: row {i + 1}: size {row['size']} for {len(tasks)} tasks")
        if known is not None and not set(tasks) <= known:
            raise PvigroupError(f"{where}: row {i + 1}: unknown task(s) "
                                f"{sorted(set(tasks) - known)}")


def write_groups(df: pd.DataFrame, path: str | Path) -> None:
    """Validate and write a group table (header only when there is no group)."""
    validate_groups(df, path)
    write_tsv(df[GROUP_COLUMNS], path)


def read_group_file(path: str | Path) -> pd.DataFrame:
    """Read and validate a group table written by :func:`write_groups`."""
    df = read_tsv(path)
    validate_groups(df, path)
    return df


def write_matrix(matrix: pd.DataFrame, path: str | Path) -> None:
    """Write a task × task matrix as TSV with a leading ``task`` column."""
    out = matrix.copy()
    out.index.name = "task"
    write_tsv(out.reset_index(), path)


def read_matrix(path: str | Path) -> pd.DataFrame:
    """Read a matrix written by :func:`write_matrix`."""
    df = read_tsv(path)
    if "task" not in df.columns:
        raise PvigroupError(f"{path}: missing column 'task'")
    df["task"] = df["task"].astype(str)
    return check_square(df.set_index("task"), str(path), allow_nan=True)


def baseline_groups(matrix_tsv: str | Path, out_groups: str | Path, *, method: str, test: str,
                    sizes: Sequence[int] = (2, 3), max_groups: int | None = None,
                    min_score: float | None = None, size_priority: str = "score") -> pd.DataFrame:
    """Groups of a baseline from its task × task matrix (the ``baseline_groups`` checkpoint).

    Parameters
    ----------
    matrix_tsv
        TaskEmb similarity or surrogate affinity, written by :func:`write_matrix`.
    out_groups
        ``results/baselines/{method}/{model}/groups.tsv`` (architecture.md "Groups" format).
    method
        The ``source`` column (``taskemb`` or ``surrogate``).
    test
        The ``test`` column (what the score is: ``cosine``, ``surrogate-ols``, ...).
    sizes, max_groups, min_score, size_priority
        See :func:`groups_from_similarity` and :func:`greedy_disjoint`.
    """
    matrix = read_matrix(matrix_tsv)
    groups = groups_from_similarity(matrix, sizes=sizes, source=method, test=test,
                                    max_groups=max_groups, min_score=min_score,
                                    size_priority=size_priority)
    write_groups(groups, out_groups)
    log.info("%s: %d tasks, %d groups: %s", method, len(matrix), len(groups),
             ", ".join(groups["group"]) or "none")
    return groups
