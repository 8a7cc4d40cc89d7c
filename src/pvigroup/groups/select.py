"""Grouping rules: which tested groups are trained together, and the group files.

``select_groups`` turns a table of pair and triple tests (``pairs.tsv`` + ``triples.tsv``) into
disjoint *similar* groups (the paper: PVI not significantly different, p > alpha; or TOST
equivalence) and disjoint *dissimilar* groups (p < alpha, the negative control). The rules are
greedy over a total order, so the result is deterministic; ``docs/statistics.md`` states them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pvigroup.errors import PvigroupError
from pvigroup.io import read_tsv, write_tsv
from pvigroup.workflow import NAME_RE, group_id

log = logging.getLogger(__name__)

RULES = ("paper", "closest")
TESTS = ("significance", "tost")
SIZE_PRIORITIES = ("larger", "smaller", "pvalue")
GROUP_COLUMNS = ("group", "tasks", "size", "source", "test", "statistic", "pvalue", "score")
_REQUIRED = ("group", "tasks", "size", "test", "statistic", "pvalue")


def _check_choice(value: str, choices: Sequence[str], what: str) -> None:
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; valid: {', '.join(choices)}")


def _empty(extra: Sequence[str] = ()) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in (*GROUP_COLUMNS, *extra)})


def _validated(tests: pd.DataFrame, test: str, where: str) -> pd.DataFrame:
    """Checked copy of a tests table with ``_tasks`` (tuple), ``_p`` (decision p) columns."""
    missing = [c for c in _REQUIRED if c not in tests.columns]
    if test == "tost" and len(tests) and "tost_pvalue" not in tests.columns:
        missing.append("tost_pvalue")
    if missing:
        raise PvigroupError(
            f"{where}: missing column(s) {', '.join(missing)}"
            + (" (TOST needs the tests run with a tost margin)" if "tost_pvalue" in missing else "")
        )
    t = tests.copy().reset_index(drop=True)
    t["_tasks"] = [tuple(str(x).split(",")) for x in t["tasks"]]
    pcol = "pvalue_adj" if "pvalue_adj" in t.columns else "pvalue"
    t["_p"] = pd.to_numeric(t[pcol], errors="coerce").astype(float)
    t["_stat"] = pd.to_numeric(t["statistic"], errors="coerce").astype(float).abs()
    if test == "tost" and len(t):
        t["_tost"] = pd.to_numeric(t["tost_pvalue"], errors="coerce").astype(float)
    for i, row in t.iterrows():
        tasks = row["_tasks"]
        bad = [x for x in tasks if not NAME_RE.match(x)]
        if bad or len(set(tasks)) != len(tasks) or len(tasks) < 2:
            raise PvigroupError(f"{where}: row {i} ({row['group']}): bad tasks {row['tasks']!r}")
        if group_id(tasks) != row["group"]:
            raise PvigroupError(
                f"{where}: row {i}: group {row['group']!r} does not match tasks {row['tasks']!r}"
            )
        checks = {"_p": pcol, "_stat": "statistic"} | (
            {"_tost": "tost_pvalue"} if test == "tost" else {}
        )
        for c, column in checks.items():
            if not math.isfinite(row[c]):
                raise PvigroupError(f"{where}: row {i} ({row['group']}): {column} is not a number")
    dup = t["group"][t["group"].duplicated()]
    if len(dup):
        raise PvigroupError(f"{where}: group {dup.iloc[0]} appears more than once")
    if pcol == "pvalue_adj":
        log.info("%s: decisions use the corrected p-values (pvalue_adj)", where)
    return t


def _greedy(cands: pd.DataFrame, key: list[tuple]) -> list[int]:
    """Row labels taken greedily in ``key`` order when none of their tasks is taken yet."""
    taken: set[str] = set()
    chosen = []
    for _, label in sorted(zip(key, cands.index, strict=True)):
        tasks = cands.at[label, "_tasks"]
        if taken.isdisjoint(tasks):
            chosen.append(label)
            taken.update(tasks)
    return chosen


def similar_key(row: pd.Series, *, rule: str, size_priority: str) -> tuple:
    """Sort key of an accepted candidate (smaller = considered first); see docs/statistics.md."""
    sign = -1.0 if rule == "paper" else 1.0  # paper: larger |statistic| first
    size = int(row["size"])
    if size_priority == "larger":
        return (-size, sign * row["_stat"], row["group"])
    if size_priority == "smaller":
        return (size, sign * row["_stat"], row["group"])
    # one scale across sizes: the p-value (paper: smaller p = larger statistic first)
    return (-sign * row["_p"], -size, sign * row["_stat"], row["group"])


def dissimilar_key(row: pd.Series, *, size_priority: str) -> tuple:
    """Sort key of a dissimilar candidate: smallest p, then size priority, largest |statistic|."""
    size = int(row["size"])
    return (row["_p"], size if size_priority == "smaller" else -size, -row["_stat"], row["group"])


def _out(rows: pd.DataFrame, source: str, score: str, test: str) -> pd.DataFrame:
    extra = ["tost_pvalue"] if test == "tost" else []
    if rows.empty:
        return _empty(extra)
    out = pd.DataFrame(
        {
            "group": rows["group"].astype(str).to_numpy(),
            "tasks": [",".join(sorted(t)) for t in rows["_tasks"]],
            "size": rows["size"].astype(int).to_numpy(),
            "source": source,
            "test": rows["test"].astype(str).to_numpy(),
            "statistic": pd.to_numeric(rows["statistic"]).astype(float).to_numpy(),
            "pvalue": rows["_p"].to_numpy(),
            "score": rows[score].to_numpy(),
        }
    )
    if extra:
        out["tost_pvalue"] = rows["_tost"].to_numpy() if "_tost" in rows else np.nan
    return out.reset_index(drop=True)


def select_groups(
    tests: pd.DataFrame,
    *,
    alpha: float = 0.01,
    rule: str = "paper",
    test: str = "significance",
    size_priority: str = "larger",
    dissimilar_sizes: Iterable[int] | None = None,
    max_dissimilar: int | None = None,
    where: str = "tests table",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pick disjoint similar groups and disjoint dissimilar groups from a tests table.

    Parameters
    ----------
    tests : DataFrame
        Rows of ``pairs.tsv`` and ``triples.tsv`` together (columns ``group, tasks, size, test,
        statistic, pvalue``; ``pvalue_adj`` is used instead of ``pvalue`` when present;
        ``tost_pvalue`` is needed for ``test="tost"``).
    alpha : float
        Significance level.
    rule : {"paper", "closest"}
        Tie-break among accepted candidates that share a task. ``paper``: larger |statistic|
        first (the paper's "larger T statistic", which favours the *less* similar group);
        ``closest``: smaller |statistic| first.
    test : {"significance", "tost"}
        Acceptance: ``significance`` = p > alpha (strictly); ``tost`` = ``tost_pvalue < alpha``
        (a group's TOST p is the largest of its pairs', intersection-union).
    size_priority : {"larger", "smaller", "pvalue"}
        How candidates of different sizes (t vs F statistics) are ordered: ``larger`` groups
        first, then the rule within a size (default); ``smaller`` groups first; ``pvalue``:
        one scale across sizes, the decision p-value (``paper``: smaller p first, ``closest``:
        larger p first), then larger size, statistic and id.
    dissimilar_sizes : iterable of int or None
        Group sizes eligible as dissimilar (None = every size in the table; ``(2,)`` = the
        paper's pair-only negative control).
    max_dissimilar : int or None
        Keep only the first ``max_dissimilar`` dissimilar groups (the most different; None =
        every disjoint one). Each one costs MTL runs as a negative control.
    where : str
        Name of the table in error messages.

    Returns
    -------
    (similar, dissimilar) : DataFrames
        Columns :data:`GROUP_COLUMNS` (plus ``tost_pvalue`` for ``test="tost"``), in the order
        the groups were taken. ``pvalue`` is the p-value the decision used; ``score`` is what the
        order ranked by (|statistic|, or the p-value for ``size_priority="pvalue"`` and for
        dissimilar groups). Every task is in at most one similar and one dissimilar group.
    """
    _check_choice(rule, RULES, "tie-break rule")
    _check_choice(test, TESTS, "grouping test")
    _check_choice(size_priority, SIZE_PRIORITIES, "size priority")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    t = _validated(tests, test, where)
    if t.empty:
        return _out(t, "pvi-similar", "_stat", test), _out(t, "pvi-dissimilar", "_p", test)

    accepted = t[t["_tost"] < alpha] if test == "tost" else t[t["_p"] > alpha]
    keys = [similar_key(r, rule=rule, size_priority=size_priority) for _, r in accepted.iterrows()]
    similar = accepted.loc[_greedy(accepted, keys)]
    score = "_p" if size_priority == "pvalue" else "_stat"

    different = t[t["_p"] < alpha]
    if dissimilar_sizes is not None:
        different = different[different["size"].astype(int).isin(set(dissimilar_sizes))]
    keys = [dissimilar_key(r, size_priority=size_priority) for _, r in different.iterrows()]
    dissimilar = different.loc[_greedy(different, keys)]
    if max_dissimilar is not None:
        if max_dissimilar < 0:
            raise ValueError(f"max_dissimilar must be >= 0 or None, got {max_dissimilar!r}")
        dissimilar = dissimilar.iloc[:max_dissimilar]
    log.info(
        "%d of %d groups accepted (%s, alpha=%g); %d similar and %d dissimilar groups selected",
        len(accepted),
        len(t),
        test,
        alpha,
        len(similar),
        len(dissimilar),
    )
    return (
        _out(similar, "pvi-similar", score, test),
        _out(dissimilar, "pvi-dissimilar", "_p", test),
    )


def write_groups(
    pairs_tsv: str | Path,
    triples_tsv: str | Path | None,
    similar_tsv: str | Path,
    dissimilar_tsv: str | Path,
    *,
    alpha: float = 0.01,
    rule: str = "paper",
    test: str = "significance",
    size_priority: str = "larger",
    dissimilar_sizes: Iterable[int] | None = None,
    max_dissimilar: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read the collected tests, run :func:`select_groups`, write ``similar.tsv`` and
    ``dissimilar.tsv`` (header only when empty). ``triples_tsv`` may be None (pairs only)."""
    paths = [Path(pairs_tsv)] + ([Path(triples_tsv)] if triples_tsv is not None else [])
    frames = [read_tsv(p) for p in paths]
    if test == "tost":
        for p, f in zip(paths, frames, strict=True):
            if len(f) and "tost_pvalue" not in f.columns:
                raise PvigroupError(
                    f"{p}: no tost_pvalue column; run the tests with a tost margin "
                    "(grouping.test: tost)"
                )
    nonempty = [f for f in frames if len(f)]
    tests = pd.concat(nonempty, ignore_index=True) if nonempty else frames[0]
    similar, dissimilar = select_groups(
        tests,
        alpha=alpha,
        rule=rule,
        test=test,
        size_priority=size_priority,
        dissimilar_sizes=dissimilar_sizes,
        max_dissimilar=max_dissimilar,
        where=" + ".join(map(str, paths)),
    )
    write_tsv(similar, similar_tsv)
    write_tsv(dissimilar, dissimilar_tsv)
    return similar, dissimilar


def manual_groups(
    groups: Sequence[Sequence[str]], known_tasks: Iterable[str], out_tsv: str | Path
) -> pd.DataFrame:
    """Write groups listed by hand (config ``grouping.manual``) in the groups format.

    Raises
    ------
    PvigroupError
        An unknown task (named, with its position ``grouping.manual[i]``), a group with fewer
        than 2 distinct tasks or a task repeated inside it, or the same group listed twice.
    """
    known = set(known_tasks)
    rows = []
    seen: dict[str, int] = {}
    for i, g in enumerate(groups):
        key = f"grouping.manual[{i}]"
        tasks = [str(x) for x in g]
        unknown = [x for x in tasks if x not in known]
        if unknown:
            raise PvigroupError(
                f"{key}: unknown task(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})"
            )
        if len(set(tasks)) != len(tasks):
            raise PvigroupError(f"{key}: a task is listed twice in {tasks}")
        if len(tasks) < 2:
            raise PvigroupError(f"{key}: a group needs at least 2 tasks, got {tasks}")
        gid = group_id(tasks)
        if gid in seen:
            raise PvigroupError(f"{key}: group {gid} is already grouping.manual[{seen[gid]}]")
        seen[gid] = i
        rows.append(
            {
                "group": gid,
                "tasks": ",".join(sorted(tasks)),
                "size": len(tasks),
                "source": "manual",
                "test": "",
                "statistic": np.nan,
                "pvalue": np.nan,
                "score": np.nan,
            }
        )
    out = pd.DataFrame(rows, columns=list(GROUP_COLUMNS)) if rows else _empty()
    write_tsv(out, out_tsv)
    return out


def read_groups(tsv: str | Path) -> pd.DataFrame:
    """Read a groups file (``similar.tsv``, ``manual.tsv``, baselines' ``groups.tsv``), checked.

    Returns
    -------
    DataFrame
        The file's columns; ``tasks`` stays comma-joined, ``size`` is int.

    Raises
    ------
    PvigroupError
        Missing columns, a group id that does not match its tasks, a bad size or task name
        (the message names the file and row).
    """
    path = Path(tsv)
    df = read_tsv(path)
    missing = [c for c in GROUP_COLUMNS if c not in df.columns]
    if missing:
        raise PvigroupError(f"{path}: missing column(s) {', '.join(missing)}")
    for i, row in df.iterrows():
        tasks = str(row["tasks"]).split(",")
        if any(not NAME_RE.match(x) for x in tasks) or len(set(tasks)) != len(tasks):
            raise PvigroupError(f"{path}: row {i + 2}: bad tasks {row['tasks']!r}")
        if group_id(tasks) != str(row["group"]):
            raise PvigroupError(
                f"{path}: row {i + 2}: group {row['group']!r} does not match tasks {row['tasks']!r}"
            )
        if int(row["size"]) != len(tasks):
            raise PvigroupError(f"{path}: row {i + 2}: size {row['size']} but {len(tasks)} tasks")
    df["size"] = df["size"].astype(int)
    df["group"] = df["group"].astype(str)
    df["tasks"] = df["tasks"].astype(str)
    return df
