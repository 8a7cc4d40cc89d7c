"""Checking a tests table (``pairs``/``triples``) for the grouping, vectorised.

A checked table is a compact frame with one row per tested group: ``group`` (the id), ``size``,
``test``, ``statistic``, ``_p`` (the decision p-value: ``pvalue_adj`` when present, else
``pvalue``), ``_stat`` (|statistic|) and, for TOST, ``_tost``; ``attrs["n_tests"]`` counts every
row read. Files are read (:func:`pvigroup.stats.read_test_batches`) in batches of :data:`CHUNK`
rows; every check runs on whole columns of a batch (pyarrow compute / numpy) and a Python loop
runs only over rows that already failed a vectorised check. A ``keep`` mask drops the rows no selection mode can use (e.g. rejected
triples for a pairs-only control) before they are held, so tens of millions of rows fit in a
few hundred MB beyond the group ids.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pvigroup.errors import PvigroupError
from pvigroup.workflow import NAME_RE, SEP, group_id

log = logging.getLogger(__name__)

REQUIRED = ("group", "tasks", "size", "test", "statistic", "pvalue")
OPTIONAL = ("pvalue_adj", "tost_pvalue")
COMPACT = ("group", "size", "test", "statistic", "_p", "_stat", "_tost")
CHUNK = 1_000_000  # rows checked at a time: bounds the memory of the split task lists
_STRINGS = ("group", "tasks", "test")

Keep = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def frame_batches(tests: pd.DataFrame) -> tuple[list[str], list[pa.RecordBatch]]:
    """A tests DataFrame as the batches :func:`check_batches` reads."""
    names = [c for c in tests.columns if c in set(REQUIRED) | set(OPTIONAL)]
    cols = {c: (tests[c].astype(str) if c in _STRINGS
                else pd.to_numeric(tests[c], errors="coerce").astype(float)) for c in names}
    table = pa.table({c: pa.array(v, from_pandas=True) for c, v in cols.items()})
    return names, table.to_batches(max_chunksize=CHUNK)


def _strings(arr: pa.Array) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    return arr if pa.types.is_string(arr.type) else pc.cast(arr, pa.string())


def _numbers(arr: pa.Array) -> np.ndarray:
    """Float values of a column, NaN where missing or not a number."""
    try:
        out = pc.cast(arr, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pd.to_numeric(pd.Series(arr.to_pylist(), dtype=object),
                             errors="coerce").to_numpy(dtype=float)
    return pc.fill_null(out, np.nan).to_numpy(zero_copy_only=False)


class _Rows:
    """A batch's group/tasks columns, for messages naming a row."""

    def __init__(self, batch: pa.RecordBatch, where: str, offset: int):
        self.groups = _strings(batch.column("group"))
        self.tasks = _strings(batch.column("tasks"))
        self.where, self.offset = where, offset

    def fail(self, i: int, what: str) -> PvigroupError:
        i = int(i)
        return PvigroupError(f"{self.where}: row {i + self.offset} "
                             f"({self.groups[i].as_py()}): {what}")

    def bad_tasks(self, i: int, why: str = "") -> PvigroupError:
        return self.fail(i, f"bad tasks {self.tasks[int(i)].as_py()!r}" + (f" ({why})" if why
                                                                            else ""))


def _check_tasks(rows: _Rows, size: np.ndarray, codebook: dict[str, int]
                 ) -> dict[int, np.ndarray]:
    """Task names valid and distinct, ``size`` their number, ``group`` the id of ``tasks``.

    Returns each group size's rows as sorted task codes (``codebook``: name -> code, shared
    by every batch of a table), which find groups listed twice without holding the ids.
    """
    split = pc.split_pattern(rows.tasks, ",")
    lengths = pc.list_value_length(split).to_numpy(zero_copy_only=False)
    encoded = pc.dictionary_encode(pc.list_flatten(split))
    names = encoded.dictionary.to_pylist()
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    to_global = np.array([codebook.setdefault(n, len(codebook)) for n in names], dtype=np.int32)
    bad = np.array([not NAME_RE.match(n) for n in names], dtype=bool)
    if bad[codes].any():
        row_of = np.repeat(np.arange(len(lengths)), lengths)
        raise rows.bad_tasks(row_of[np.flatnonzero(bad[codes])[0]])
    short = np.flatnonzero(lengths < 2)
    if short.size:
        raise rows.bad_tasks(short[0], "fewer than 2")
    off = np.flatnonzero(size != lengths)
    if off.size:
        i = int(off[0])
        raise rows.fail(i, f"size {size[i]:g} but {lengths[i]} tasks")
    rank = np.empty(len(names), dtype=np.int64)
    rank[np.argsort(np.array(names, dtype=object), kind="stable")] = np.arange(len(names))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    keys = {}
    for k in np.unique(lengths):
        which = np.flatnonzero(lengths == k)
        local = codes[starts[which, None] + np.arange(k)]
        mat = np.sort(rank[local], axis=1)
        dup = np.flatnonzero((np.diff(mat, axis=1) == 0).any(axis=1))
        if dup.size:
            raise rows.bad_tasks(which[dup[0]], "a task twice")
        keys[int(k)] = _row_keys(np.sort(to_global[local], axis=1))
    same = pc.equal(pc.replace_substring(rows.tasks, ",", SEP), rows.groups)
    for i in np.flatnonzero(~same.to_numpy(zero_copy_only=False)):
        # only rows whose tasks are not listed in id order
        listed, gid = rows.tasks[int(i)].as_py(), rows.groups[int(i)].as_py()
        if group_id(listed.split(",")) != gid:
            raise PvigroupError(f"{rows.where}: row {int(i) + rows.offset}: group {gid!r} does "
                                f"not match tasks {listed!r}")
    return keys


def _row_keys(mat: np.ndarray) -> np.ndarray:
    """One int64 per row of sorted task codes (``63 // k`` bits a code), or the rows
    themselves when a code does not fit."""
    k = mat.shape[1]
    bits = 63 // k
    if mat.size and int(mat.max()) >= 2**bits:
        return mat
    key = np.zeros(len(mat), dtype=np.int64)
    for j in range(k):
        key = (key << bits) | mat[:, j].astype(np.int64)
    return key


def _first_duplicate(keys: dict[int, list[np.ndarray]], codebook: dict[str, int]) -> str | None:
    """The id of a group listed twice, from the keys of :func:`_row_keys` (or None)."""
    names = np.array(sorted(codebook, key=codebook.get), dtype=object)
    for k, parts in sorted(keys.items()):
        if any(p.ndim == 2 for p in parts):  # codes too wide for one key: compare rows
            mat = np.concatenate([p if p.ndim == 2 else _unkey(p, k) for p in parts])
            _, first, counts = np.unique(mat, axis=0, return_index=True, return_counts=True)
            rows = first[counts > 1][:1]
            if rows.size:
                return SEP.join(sorted(names[mat[rows[0]]]))
            continue
        key = np.concatenate(parts)
        parts.clear()
        key.sort()
        same = np.flatnonzero(key[1:] == key[:-1])
        if same.size:
            return SEP.join(sorted(names[_unkey(key[same[:1]], k)[0]]))
    return None


def _unkey(key: np.ndarray, k: int) -> np.ndarray:
    bits = 63 // k
    mask = (1 << bits) - 1
    return np.stack([(key >> (bits * (k - 1 - j))) & mask for j in range(k)], axis=1)


def _finite(batch: pa.RecordBatch, column: str, rows: _Rows) -> np.ndarray:
    values = _numbers(batch.column(column))
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise rows.fail(bad[0], f"{column} is not a number")
    return values


def check_batches(names: list[str], batches: Iterable[pa.RecordBatch], test: str, where: str,
                  keep: Keep | None = None) -> pd.DataFrame:
    """The compact checked frame (module docstring) of a tests table given as batches.

    ``keep(p, tost_p, size)`` -> bool mask: the rows to hold (all when None); every row is
    checked either way.

    Raises
    ------
    PvigroupError
        A missing column, a bad task list, a group id that does not match its tasks, a size
        that does not match, a p-value or statistic that is not a number, or a group listed
        twice; the message names ``where`` and the row (0-based).
    """
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise PvigroupError(f"{where}: missing column(s) {', '.join(missing)}")
    pcol = "pvalue_adj" if "pvalue_adj" in names else "pvalue"
    pieces, offset = [], 0
    codebook: dict[str, int] = {}
    keys: dict[int, list[np.ndarray]] = {}
    for batch in batches:
        if batch.num_rows == 0:
            continue
        if test == "tost" and "tost_pvalue" not in names:
            raise PvigroupError(f"{where}: missing column(s) tost_pvalue (TOST needs the tests "
                                "run with a tost margin)")
        rows = _Rows(batch, where, offset)
        size = _numbers(batch.column("size"))
        for k, mat in _check_tasks(rows, size, codebook).items():
            keys.setdefault(k, []).append(mat)
        statistic = _finite(batch, "statistic", rows)
        p = _finite(batch, pcol, rows)
        tost = _finite(batch, "tost_pvalue", rows) if test == "tost" else np.full(len(p), np.nan)
        sel = np.flatnonzero(keep(p, tost, size) if keep is not None else np.ones(len(p), bool))
        take = pa.array(sel)
        pieces.append(pd.DataFrame({
            "group": rows.groups.take(take).to_numpy(zero_copy_only=False),
            "size": size[sel].astype(np.int64),
            "test": _strings(batch.column("test")).take(take).to_numpy(zero_copy_only=False),
            "statistic": statistic[sel], "_p": p[sel], "_stat": np.abs(statistic[sel]),
            "_tost": tost[sel]}))
        offset += batch.num_rows
    dup = _first_duplicate(keys, codebook)
    if dup is not None:
        raise PvigroupError(f"{where}: group {dup} appears more than once")
    if pcol == "pvalue_adj" and offset:
        log.info("%s: decisions use the corrected p-values (pvalue_adj)", where)
    out = (pd.concat(pieces, ignore_index=True) if pieces
           else pd.DataFrame({c: pd.Series(dtype=object) for c in COMPACT}))
    out.attrs["n_tests"] = offset
    return out


def check_tests(tests: pd.DataFrame, test: str, where: str,
                keep: Keep | None = None) -> pd.DataFrame:
    """:func:`check_batches` on a tests DataFrame."""
    names, batches = frame_batches(tests)
    if test == "tost" and len(tests) and "tost_pvalue" not in names:
        raise PvigroupError(f"{where}: missing column(s) "
                            + ", ".join([c for c in REQUIRED if c not in names] + ["tost_pvalue"])
                            + " (TOST needs the tests run with a tost margin)")
    return check_batches(names, batches, test, where, keep)
