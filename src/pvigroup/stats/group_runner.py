"""The group-test job: every group of 3 .. ``stats.max_group_size`` tasks of a model in one process.

Size 3 (and any size with few enough groups) is tested exhaustively, larger sizes only where
every subgroup was accepted (apriori pruning); ANOVA is vectorised, other tests loop in process.
The table goes to TSV, or in bounded-memory chunks to parquet (see :mod:`pvigroup.stats.runner`
for the columns).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pvigroup.config import DEFAULT_STATS, StatsSettings
from pvigroup.errors import PvigroupError
from pvigroup.io import write_tsv
from pvigroup.stats import vectorised as vec
from pvigroup.stats._base import GROUP_METHODS, _check_choice
from pvigroup.stats.runner import (
    _accepted,
    _adjust,
    _check_common,
    _frame,
    _ids,
    _load,
    _pair_loop,
    _sorted,
    _where,
)
from pvigroup.stats.significance import group_test
from pvigroup.workflow import EXHAUSTIVE_MAX

log = logging.getLogger(__name__)

_CHUNK_ROWS = 250_000  # groups tested (and written) at once


# --------------------------------------------------------------------------------------------
def _group_loop(samples, s: vec.Summaries, idx: np.ndarray, method: str, loaded):
    """Group tests that need the samples (Alexander-Govern, Kruskal-Wallis)."""
    keys = ("statistic", "pvalue", "df", "n_total", "eta2", "omega2")
    cols = {c: np.empty(len(idx)) for c in keys}
    for r, row in enumerate(idx):
        group = [s.names[i] for i in row]
        try:
            res = group_test({t: samples[t] for t in group}, method=method)
        except PvigroupError as err:
            raise PvigroupError(f"{_where(loaded, group)}: {err}") from None
        d = {"statistic": res.statistic, "pvalue": res.pvalue, "df": res.df,
             "n_total": sum(res.n.values()), **res.effect}
        for c in keys:
            cols[c][r] = d[c]
    return cols


def _group_cols(samples, s, idx, method, matrix, loaded):
    if method in vec.VECTOR_GROUP_METHODS:
        cols = vec.group_columns(s, idx, method)
    else:
        cols = _group_loop(samples, s, idx, method, loaded)
    if matrix is not None:
        cols["tost_pvalue"] = vec.group_tost(matrix, idx)
    return cols


def group_candidates(n_tasks: int, max_group_size: int,
                     accepted_of_size) -> Iterator[tuple[int, Iterator[np.ndarray], bool]]:
    """Per size k = 3 .. max_group_size: ``(k, chunks of candidate groups, pruned)``.

    Size 3, and any size with at most :data:`pvigroup.workflow.EXHAUSTIVE_MAX` groups, is tested
    exhaustively; past that only groups whose every (k-1)-subgroup was accepted
    (``accepted_of_size(k - 1)``, apriori pruning).
    """
    for k in range(3, min(max_group_size, n_tasks) + 1):
        if k == 3 or math.comb(n_tasks, k) <= EXHAUSTIVE_MAX:
            yield k, vec.combo_chunks(n_tasks, k, _CHUNK_ROWS), False
        else:
            cand = vec.apriori_candidates(accepted_of_size(k - 1))
            yield k, iter([cand] if len(cand) else []), True


def run_group_tests(
    pvi_files: Sequence[str | Path],
    out: str | Path,
    settings: StatsSettings = DEFAULT_STATS,
    *,
    model: str,
) -> int:
    """Test every group of 3 .. ``max_group_size`` tasks and write ``triples.tsv`` / ``.parquet``.

    ``settings``: ``group_test`` (:func:`pvigroup.stats.group_test`), ``max_group_size``,
    ``tost_margin`` (None: no TOST columns) / ``tost_variance``, ``correction`` (over every
    group tested), and ``alpha`` / ``test``, which decide the accepted groups. Groups larger
    than 3 are tested exhaustively while a size has at most
    :data:`pvigroup.workflow.EXHAUSTIVE_MAX` groups; past it only the groups whose every
    subgroup one task smaller was accepted (``alpha``/``test`` on the raw p-values, TOST p for
    ``test="tost"``). ``model`` is written in the ``model`` column. A ``.parquet`` ``out`` is
    written in chunks (bounded memory; the table is not held whole unless the task names need
    a re-sort, see :func:`pvigroup.stats.vectorised.lexicographic_is_id_order`).

    Returns
    -------
    int
        The number of groups tested (rows written).
    """
    method, max_group_size, correction = (settings.group_test, settings.max_group_size,
                                          settings.correction)
    tost_margin, tost_variance = settings.tost_margin, settings.tost_variance
    alpha, test = settings.alpha, settings.test
    _check_choice(method, GROUP_METHODS, "group test method")
    _check_common(settings)
    if max_group_size < 3:
        raise ValueError(f"max_group_size must be >= 3 for group tests, got {max_group_size}")
    loaded, samples, s = _load(pvi_files, 3, out)
    names, width = s.names, min(max_group_size, len(s.names))
    try:
        matrix = (vec.tost_matrix(s, float(tost_margin), tost_variance)
                  if tost_margin is not None else None)
    except PvigroupError as err:
        raise PvigroupError(f"{out}: {err}") from None
    tost = (float(tost_margin), tost_variance) if tost_margin is not None else None
    accepted: dict[int, list[np.ndarray]] = {}
    pvalues: list[np.ndarray] = []

    def acc(k: int) -> np.ndarray:
        return (np.concatenate(accepted[k]) if accepted.get(k)
                else np.empty((0, k), dtype=np.int64))

    frames: list[pd.DataFrame] = []
    stream = str(out).endswith(".parquet") and vec.lexicographic_is_id_order(names)
    two_pass = stream and correction != "none"
    writer = None
    try:
        for k, chunks, pruned in group_candidates(len(names), max_group_size, acc):
            n_k = 0
            for idx in chunks:
                cols = _group_cols(samples, s, idx, method, matrix, loaded)
                accepted.setdefault(k, []).append(idx[_accepted(cols, test, alpha)])
                n_k += len(idx)
                if two_pass:  # the correction needs every p first; write in a second pass
                    pvalues.append(cols["pvalue"])
                    continue
                frame = _frame(names, idx, cols, model=model, test=method, size_width=width,
                               s=s, tost=tost, arrow=stream)
                if stream:
                    writer = _write_chunk(writer, frame, out)
                else:
                    frames.append(frame)
            log.info("%s: %d groups of %d tested%s, %d accepted", model, n_k, k,
                     " (pruned: every subgroup accepted)" if pruned else "",
                     len(acc(k)))
        if two_pass:
            adj = _adjust(np.concatenate(pvalues) if pvalues else np.empty(0), correction)
            start = 0
            for _, chunks, _ in group_candidates(len(names), max_group_size, acc):
                for idx in chunks:  # the same candidates (acc is complete after pass one)
                    cols = _group_cols(samples, s, idx, method, matrix, loaded)
                    cols["pvalue_adj"] = adj[start:start + len(idx)]
                    start += len(idx)
                    writer = _write_chunk(writer, _frame(
                        names, idx, cols, model=model, test=method, size_width=width, s=s,
                        tost=tost, arrow=True), out)
    except PvigroupError as err:
        raise PvigroupError(f"{out}: {err}") from None
    finally:
        if writer is not None:
            writer.close()
    if stream:
        if writer is None:  # nothing tested: an empty table with the columns
            _empty_table(names, width, model, method, tost, correction).to_parquet(out,
                                                                                     index=False)
        return pq.ParquetFile(out).metadata.num_rows
    table = (pd.concat(frames, ignore_index=True) if frames
             else _empty_table(names, width, model, method, tost, "none"))
    if correction != "none":
        table.insert(table.columns.get_loc("omega2") + 1 + (3 if tost else 0), "pvalue_adj",
                     _adjust(table["pvalue"].to_numpy(), correction))
    table = _sorted(table, names)
    if str(out).endswith(".parquet"):
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        table.to_parquet(out, index=False)
    else:
        write_tsv(table, out)
    return len(table)


def in_memory_tests(samples: Mapping[str, np.ndarray],
                    settings: StatsSettings = DEFAULT_STATS) -> pd.DataFrame:
    """Every pair and group test of ``samples`` in memory, as the runner tests them.

    ``settings``: ``pair_test``, ``group_test``, ``seed``, ``max_group_size``, ``tost_margin``
    (None: no ``tost_pvalue``) / ``tost_variance``, and ``alpha`` / ``test`` for the pruning.

    Returns
    -------
    DataFrame
        ``group, tasks, size, test, statistic, pvalue`` (+ ``tost_pvalue`` with a margin), sorted
        by size and group id. Groups above 3 tasks are pruned as in :func:`run_group_tests`.
    """
    method, group_method, seed = settings.pair_test, settings.group_test, settings.seed
    max_group_size, tost_margin = settings.max_group_size, settings.tost_margin
    tost_variance, test, alpha = settings.tost_variance, settings.test, settings.alpha
    s = vec.summarise(samples)
    names = s.names
    where = {t: (t, None) for t in names}
    data = {t: np.asarray(samples[t], dtype=float) for t in names}
    matrix = (vec.tost_matrix(s, float(tost_margin), tost_variance)
              if tost_margin is not None else None)
    frames = []

    def add(idx: np.ndarray, cols: dict[str, np.ndarray], name: str) -> None:
        group, tasks = _ids(names, idx)
        part = {"group": group.to_numpy(zero_copy_only=False),
                "tasks": tasks.to_numpy(zero_copy_only=False),
                "size": np.full(len(idx), idx.shape[1], dtype=np.int64),
                "test": np.full(len(idx), name, dtype=object),
                "statistic": cols["statistic"], "pvalue": cols["pvalue"]}
        if matrix is not None:
            part["tost_pvalue"] = vec.group_tost(matrix, idx)
        frames.append(pd.DataFrame(part))

    for ij in vec.combo_chunks(len(names), 2, chunk=len(names) ** 2 + 1):
        add(ij, vec.pair_columns(s, ij, method) if method in vec.VECTOR_PAIR_METHODS
            else _pair_loop(data, s, ij, method, seed, where), method)
    accepted: dict[int, list[np.ndarray]] = {}

    def acc(k: int) -> np.ndarray:
        return (np.concatenate(accepted[k]) if accepted.get(k)
                else np.empty((0, k), dtype=np.int64))

    for k, chunks, _ in group_candidates(len(names), max_group_size, acc):
        for idx in chunks:
            cols = _group_cols(data, s, idx, group_method, matrix, where)
            accepted.setdefault(k, []).append(idx[_accepted(cols, test, alpha)])
            add(idx, cols, group_method)
    out = pd.concat(frames, ignore_index=True)
    return _sorted(out, names)


def _empty_table(names, width, model, method, tost, correction) -> pd.DataFrame:
    s = vec.Summaries(tuple(names), np.ones(len(names)), np.zeros(len(names)),
                      np.zeros(len(names)))
    idx = np.empty((0, 3), dtype=np.int64)
    cols = {c: np.empty(0) for c in ("statistic", "pvalue", "df", "df2", "n_total", "eta2",
                                     "omega2", "tost_pvalue")}
    if correction != "none":
        cols["pvalue_adj"] = np.empty(0)
    return _frame(names, idx, cols, model=model, test=method, size_width=width, s=s, tost=tost)


def _write_chunk(writer, tab: pa.Table, out):
    if writer is None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        writer = pq.ParquetWriter(out, tab.schema)
    writer.write_table(tab)
    return writer


__all__ = ["group_candidates", "in_memory_tests", "run_group_tests"]
