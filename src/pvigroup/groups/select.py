"""Which tested groups are trained: the selection modes, the budget, the bound on MTL runs.

Similar groups (``select``): ``accepted`` keeps every accepted group (p > alpha, or TOST
equivalence), overlapping, most similar first; ``cover`` keeps a disjoint cover, greedy over a
total order (``tie_break`` x ``size_priority``). Dissimilar groups, the negative control
(``control``): ``partner`` pairs each task with its most different partner (smallest p among its
rejected pairs), overlapping and deduplicated; ``cover`` is the disjoint greedy over rejected
groups. ``docs/statistics.md`` states each rule and compares them with the paper's Tables 3-6.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pvigroup.config import DEFAULT_STATS, StatsSettings
from pvigroup.errors import PvigroupError
from pvigroup.groups import checks
from pvigroup.groups.checks import OPTIONAL, REQUIRED, check_batches, check_tests
from pvigroup.io import write_tsv
from pvigroup.stats.runner import read_test_batches
from pvigroup.workflow import SEP

log = logging.getLogger(__name__)

RULES = ("paper", "closest")
TESTS = ("significance", "tost")
SIZE_PRIORITIES = ("larger", "smaller", "pvalue")
SELECT_MODES = ("accepted", "cover")
CONTROL_MODES = ("partner", "cover")
GROUP_COLUMNS = ("group", "tasks", "size", "source", "test", "statistic", "pvalue", "score")


def _check_choice(value: str, choices: Sequence[str], what: str) -> None:
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; valid: {', '.join(choices)}")


def _empty(extra: Sequence[str] = ()) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in (*GROUP_COLUMNS, *extra)})


# ------------------------------------------------------------------------------ orders
def similar_key(row: pd.Series, *, rule: str, size_priority: str) -> tuple:
    """Sort key of an accepted candidate in ``cover`` mode (smaller = considered first)."""
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


def _sorted(frame: pd.DataFrame, keys: Mapping[str, pd.Series]) -> pd.DataFrame:
    """``frame`` sorted by the key columns in order (all ascending), stable: :func:`similar_key`
    and friends as whole-column sorts."""
    order = pd.DataFrame({f"k{i}": v for i, v in enumerate(keys.values())}, index=frame.index)
    order["group"] = frame["group"]
    return frame.loc[order.sort_values(list(order.columns), kind="stable").index]


def _similar_sorted(c: pd.DataFrame, rule: str, size_priority: str) -> pd.DataFrame:
    sign = -1.0 if rule == "paper" else 1.0
    size, stat = c["size"].astype(int), sign * c["_stat"]
    if size_priority == "larger":
        return _sorted(c, {"size": -size, "stat": stat})
    if size_priority == "smaller":
        return _sorted(c, {"size": size, "stat": stat})
    return _sorted(c, {"p": -sign * c["_p"], "size": -size, "stat": stat})


def _dissimilar_sorted(c: pd.DataFrame, size_priority: str) -> pd.DataFrame:
    size = c["size"].astype(int)
    return _sorted(c, {"p": c["_p"], "size": size if size_priority == "smaller" else -size,
                       "stat": -c["_stat"]})


def _most_similar(c: pd.DataFrame, test: str) -> pd.DataFrame:
    """Accepted groups, most similar first: largest decision p (TOST: smallest TOST p), then
    the larger group, then the group id."""
    first = c["_tost"] if test == "tost" else -c["_p"]
    return _sorted(c, {"p": first, "size": -c["size"].astype(int)})


# ------------------------------------------------------------------------------- modes
def _greedy(cands: pd.DataFrame) -> list:
    """Labels of ``cands`` (already in order) taken when none of their tasks is taken yet."""
    taken: set[str] = set()
    chosen = []
    for label, gid in zip(cands.index, cands["group"], strict=True):
        tasks = gid.split(SEP)
        if taken.isdisjoint(tasks):
            chosen.append(label)
            taken.update(tasks)
    return chosen


def _partners(different: pd.DataFrame) -> pd.DataFrame:
    """Each task's most different partner among the rejected pairs ``different``: smallest p,
    then larger |statistic|, then group id (one total order, so both tasks of the globally
    first pair choose it); each chosen pair once, most different first."""
    if different.empty:
        return different
    ids = pa.array(different["group"].astype(str), from_pandas=True)
    split = pc.split_pattern(ids, SEP)
    first = pc.list_element(split, 0).to_numpy(zero_copy_only=False)
    second = pc.list_element(split, 1).to_numpy(zero_copy_only=False)
    ranked = _dissimilar_sorted(different, "larger")
    rank = pd.Series(np.arange(len(ranked)), index=ranked.index).loc[different.index].to_numpy()
    label = different.index.to_numpy()
    long = pd.DataFrame({"task": np.concatenate([first, second]),
                         "rank": np.concatenate([rank, rank]),
                         "label": np.concatenate([label, label])})
    best = long.sort_values(["task", "rank"], kind="stable").drop_duplicates("task")
    chosen = best.drop_duplicates("label").sort_values("rank")["label"]
    return different.loc[chosen.to_numpy()]


def _cap(frame: pd.DataFrame, cap: int | None, what: str) -> pd.DataFrame:
    if cap is None:
        return frame
    if int(cap) != cap or cap < 0:
        raise ValueError(f"{what} must be an integer >= 0 or None, got {cap!r}")
    return frame.iloc[: int(cap)]


def _out(rows: pd.DataFrame, source: str, score: str, test: str) -> pd.DataFrame:
    extra = ["tost_pvalue"] if test == "tost" else []
    if rows.empty:
        return _empty(extra)
    out = pd.DataFrame({
        "group": rows["group"].astype(str).to_numpy(),
        "tasks": rows["group"].astype(str).str.replace(SEP, ",", regex=False).to_numpy(),
        "size": rows["size"].astype(int).to_numpy(),
        "source": source,
        "test": rows["test"].astype(str).to_numpy(),
        "statistic": rows["statistic"].astype(float).to_numpy(),
        "pvalue": rows["_p"].to_numpy(),
        "score": rows[score].to_numpy(),
    })
    if extra:
        out["tost_pvalue"] = rows["_tost"].to_numpy()
    return out.reset_index(drop=True)


def _check_options(st: StatsSettings) -> None:
    _check_choice(st.tie_break, RULES, "tie-break rule")
    _check_choice(st.test, TESTS, "grouping test")
    _check_choice(st.size_priority, SIZE_PRIORITIES, "size priority")
    _check_choice(st.select, SELECT_MODES, "selection mode (grouping.select)")
    _check_choice(st.control, CONTROL_MODES, "control mode (grouping.control)")
    if not 0 < st.alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {st.alpha!r}")
    sizes = st.dissimilar_sizes
    if st.control == "partner" and sizes is not None and set(sizes) != {2}:
        raise ValueError(
            f"grouping.dissimilar_sizes {list(sizes)}: control 'partner' pairs each "
            "task with one partner (size 2 only); use [2] or control: cover")


def select_checked(t: pd.DataFrame, settings: StatsSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`select_groups` on a frame already checked by ``check_tests`` (no checks)."""
    alpha, test, size_priority = settings.alpha, settings.test, settings.size_priority
    select, control, max_groups = settings.select, settings.control, settings.max_groups
    dissimilar_sizes, max_dissimilar = settings.dissimilar_sizes, settings.max_dissimilar
    score = "_p" if size_priority == "pvalue" else "_stat"
    if t.empty:
        return _out(t, "pvi-similar", score, test), _out(t, "pvi-dissimilar", "_p", test)
    accepted = t[t["_tost"] < alpha] if test == "tost" else t[t["_p"] > alpha]
    if select == "accepted":
        similar = _cap(_most_similar(accepted, test), max_groups, "max_groups")
        score = "_tost" if test == "tost" else "_p"
    else:
        similar = accepted.loc[_greedy(_similar_sorted(accepted, settings.tie_break,
                                                       size_priority))]
        if max_groups is not None:
            keep = set(_cap(_most_similar(similar, test), max_groups, "max_groups").index)
            similar = similar[similar.index.isin(keep)]
    different = t[t["_p"] < alpha]
    if control == "partner":
        dissimilar = _partners(different[different["size"] == 2])
    else:
        if dissimilar_sizes is not None:
            different = different[different["size"].isin(set(dissimilar_sizes))]
        dissimilar = different.loc[_greedy(_dissimilar_sorted(different, size_priority))]
    dissimilar = _cap(dissimilar, max_dissimilar, "max_dissimilar")
    log.info("%d of %d groups accepted (%s, alpha=%g); %s: %d similar groups; control %s: %d "
             "dissimilar groups", len(accepted), t.attrs.get("n_tests", len(t)), test, alpha,
             select, len(similar), control, len(dissimilar))
    return (_out(similar, "pvi-similar", score, test),
            _out(dissimilar, "pvi-dissimilar", "_p", test))


def select_groups(
    tests: pd.DataFrame,
    settings: StatsSettings = DEFAULT_STATS,
    *,
    where: str = "tests table",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pick the similar groups and the dissimilar groups (negative control) of a tests table.

    The defaults (:data:`pvigroup.config.DEFAULT_STATS`) are the disjoint covers (what the
    sensitivity table reruns); the workflow passes the config's settings, whose defaults are
    ``select="accepted"``, ``control="partner"``, ``dissimilar_sizes=[2]``.

    Parameters
    ----------
    tests : DataFrame
        Rows of ``pairs`` and ``triples`` tables together (columns ``group, tasks, size, test,
        statistic, pvalue``; ``pvalue_adj`` is used instead of ``pvalue`` when present;
        ``tost_pvalue`` is needed for ``test="tost"``).
    settings : StatsSettings
        ``alpha``: significance level.
        ``test``: acceptance, ``significance`` = p > alpha (strictly); ``tost`` =
        ``tost_pvalue < alpha``.
        ``tie_break`` (``paper`` | ``closest``): ``cover`` tie-break among accepted candidates
        that share a task. ``paper``: larger |statistic| first (the paper's "larger T
        statistic", which favours the *less* similar group); ``closest``: smaller |statistic|
        first.
        ``size_priority`` (``larger`` | ``smaller`` | ``pvalue``): ``cover``: larger groups
        first, then the rule within a size; smaller groups first; or one scale across sizes,
        the decision p (``paper``: smaller p first, ``closest``: larger p first), then larger
        size, statistic and id.
        ``select`` (``accepted`` | ``cover``): ``accepted``: every accepted group, overlapping
        (the paper trained nearly all of them), most similar first (largest decision p, TOST:
        smallest TOST p; then larger size, then id). ``cover``: the disjoint greedy cover in the
        ``tie_break`` x ``size_priority`` order.
        ``control`` (``partner`` | ``cover``): ``partner``: for each task, its most different
        partner among the rejected pairs (p < alpha; smallest p, then larger |statistic|, then
        id); each pair once, most different first. At most n - 1 pairs for n tasks. ``cover``:
        disjoint greedy over the rejected groups of ``dissimilar_sizes`` (smallest p, size
        priority, larger |statistic|).
        ``dissimilar_sizes``: sizes eligible for ``control="cover"`` (None = every size);
        ``partner`` uses pairs only and accepts only None or ``[2]``.
        ``max_dissimilar``: keep only the first ``max_dissimilar`` dissimilar groups (the most
        different).
        ``max_groups``: budget on similar groups: keep the ``max_groups`` most similar (order of
        ``accepted``); in ``cover`` mode the kept groups stay in cover order.
    where : str
        Name of the table in error messages.

    Returns
    -------
    (similar, dissimilar) : DataFrames
        Columns :data:`GROUP_COLUMNS` (plus ``tost_pvalue`` for ``test="tost"``), in selection
        order. ``pvalue`` is the p-value the decision used; ``score`` what the order ranked by
        (the decision p in ``accepted`` mode and for dissimilar groups; |statistic| or p in
        ``cover`` mode).
    """
    _check_options(settings)
    return select_checked(check_tests(tests, settings.test, where), settings)


def write_groups(
    pairs_tsv: str | Path,
    triples_tsv: str | Path | None,
    similar_tsv: str | Path,
    dissimilar_tsv: str | Path,
    settings: StatsSettings = DEFAULT_STATS,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read the collected tests (``.tsv`` or ``.parquet`` each), run :func:`select_groups` with
    ``settings``, write ``similar.tsv`` and ``dissimilar.tsv`` (header only when empty).
    ``triples_tsv`` may be None (pairs only). Errors name the file and its row."""
    _check_options(settings)
    alpha, test, control = settings.alpha, settings.test, settings.control
    dissimilar_sizes = settings.dissimilar_sizes
    paths = [Path(pairs_tsv)] + ([Path(triples_tsv)] if triples_tsv is not None else [])
    sizes = {2} if control == "partner" else (
        None if dissimilar_sizes is None else set(dissimilar_sizes))

    def keep(p: np.ndarray, tost: np.ndarray, size: np.ndarray) -> np.ndarray:
        """Rows some mode can use: accepted ones, rejected ones of a control size."""
        accepted = tost < alpha if test == "tost" else p > alpha
        control_size = np.ones(len(p), bool) if sizes is None else np.isin(size, list(sizes))
        return accepted | ((p < alpha) & control_size)

    frames, total = [], 0
    for p in paths:
        names, batches = read_test_batches(p, (*REQUIRED, *OPTIONAL), checks.CHUNK)
        if test == "tost" and "tost_pvalue" not in names:
            batches = list(batches)
            if any(b.num_rows for b in batches):
                raise PvigroupError(f"{p}: no tost_pvalue column; run the tests with a tost "
                                    "margin (grouping.test: tost)")
        frame = check_batches(names, batches, test, str(p), keep)
        total += frame.attrs["n_tests"]
        frames.append(frame)
    nonempty = [f for f in frames if len(f)]
    checked = pd.concat(nonempty, ignore_index=True) if len(nonempty) > 1 else (
        nonempty[0] if nonempty else frames[0])
    if len(nonempty) > 1:
        ids = pa.array(checked["group"], from_pandas=True)
        if pc.count_distinct(ids).as_py() != len(ids):
            dup = checked["group"][checked["group"].duplicated()].iloc[0]
            raise PvigroupError(f"{' + '.join(map(str, paths))}: group {dup} is in both tables")
    checked.attrs["n_tests"] = total
    similar, dissimilar = select_checked(checked, settings)
    write_tsv(similar, similar_tsv)
    write_tsv(dissimilar, dissimilar_tsv)
    return similar, dissimilar


# ------------------------------------------------------------------------------- bound
def selection_bound(n_tasks: int, grouping: Mapping, max_group_size: int = 3) -> dict[str, int]:
    """Upper bound on the similar and dissimilar MTL groups ``grouping`` can select for
    ``n_tasks`` tasks of one model (manual groups not included).

    ``select: accepted``: every group of 2..``max_group_size`` tasks, sum C(n, k);
    ``cover``: disjoint groups of at least 2 tasks, n // 2; either capped by ``max_groups``.
    ``control: partner``: n - 1 pairs (each task picks one pair; the first pair of the total
    order is picked by both its tasks), n // 2 pairs for ``cover`` (n // k for the smallest
    allowed size k); either capped by ``max_dissimilar``. Missing keys take the config defaults.

    Returns
    -------
    dict
        ``{"similar": int, "dissimilar": int}``.
    """
    n, top = int(n_tasks), int(max_group_size)
    select = grouping.get("select") or "accepted"
    control = grouping.get("control") or "partner"
    _check_choice(select, SELECT_MODES, "selection mode (grouping.select)")
    _check_choice(control, CONTROL_MODES, "control mode (grouping.control)")
    if n < 2:
        return {"similar": 0, "dissimilar": 0}
    if select == "accepted":
        similar = sum(math.comb(n, k) for k in range(2, max(top, 2) + 1))
    else:
        similar = n // 2
    if control == "partner":
        dissimilar = n - 1
    else:
        sizes = grouping.get("dissimilar_sizes", [2])
        allowed = [s for s in (sizes or range(2, top + 1)) if 2 <= s <= max(top, 2)]
        dissimilar = n // min(allowed) if allowed else 0
    caps = {"similar": grouping.get("max_groups"), "dissimilar": grouping.get("max_dissimilar")}
    out = {"similar": similar, "dissimilar": dissimilar}
    return {k: v if caps[k] is None else min(v, int(caps[k])) for k, v in out.items()}
