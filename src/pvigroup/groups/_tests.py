"""Reading and checking a tests table (``pairs``/``triples``, TSV or parquet), vectorised.

A checked table is a compact frame with one row per tested group: ``group`` (the id), ``size``,
``test``, ``statistic``, ``_p`` (the decision p-value: ``pvalue_adj`` when present, else
``pvalue``), ``_stat`` (|statistic|) and, for TOST, ``_tost``. Every check runs on whole columns
(pyarrow compute / numpy), so a table of tens of millions of rows is checked in seconds; a
Python loop runs only over rows that already failed a vectorised check.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pvigroup.errors import PvigroupError
from pvigroup.workflow import NAME_RE, SEP, group_id

log = logging.getLogger(__name__)

REQUIRED = ("group", "tasks", "size", "test", "statistic", "pvalue")
OPTIONAL = ("pvalue_adj", "tost_pvalue")
COMPACT = ("group", "size", "test", "statistic", "_p", "_stat", "_tost")


def read_tests(path: str | Path) -> pd.DataFrame:
    """The columns of a tests table that grouping needs, from ``.tsv`` or ``.parquet``.

    Raises
    ------
    PvigroupError
        The file is missing or its suffix is neither ``.tsv`` nor ``.parquet``.
    """
    path = Path(path)
    if not path.exists():
        raise PvigroupError(f"{path}: file not found")
    wanted = set(REQUIRED) | set(OPTIONAL)
    if path.suffix == ".parquet":
        names = pq.read_schema(path).names
        return pd.read_parquet(path, columns=[c for c in names if c in wanted])
    if path.suffix == ".tsv":
        return pd.read_csv(path, sep="\t", keep_default_na=False, na_values=[""],
                           usecols=lambda c: c in wanted)
    raise PvigroupError(f"{path}: a tests table must end in .tsv or .parquet")


CHUNK = 2_000_000  # rows checked at a time: bounds the memory of the split task lists


def _fail_row(where: str, frame: pd.DataFrame, i: int, what: str,
              offset: int = 0) -> PvigroupError:
    return PvigroupError(f"{where}: row {i + offset} ({frame['group'].iloc[i]}): {what}")


def _strings(col: pd.Series) -> pa.Array:
    arr = pa.array(col.astype(str), from_pandas=True)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _check_tasks(frame: pd.DataFrame, where: str, offset: int = 0) -> None:
    """Task names valid and distinct, ``size`` their number, ``group`` the id of ``tasks``
    (``frame`` is rows ``offset``... of the table)."""
    tasks = _strings(frame["tasks"])
    groups = _strings(frame["group"])
    split = pc.split_pattern(tasks, ",")
    lengths = pc.list_value_length(split).to_numpy(zero_copy_only=False)
    flat = pc.list_flatten(split)
    encoded = pc.dictionary_encode(flat)
    names = encoded.dictionary.to_pylist()
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    row_of = np.repeat(np.arange(len(frame)), lengths)
    bad = np.array([not NAME_RE.match(n) for n in names], dtype=bool)
    if bad[codes].any():
        i = int(row_of[np.flatnonzero(bad[codes])[0]])
        raise _fail_row(where, frame, i, f"bad tasks {frame['tasks'].iloc[i]!r}", offset)
    short = np.flatnonzero(lengths < 2)
    if short.size:
        raise _fail_row(where, frame, int(short[0]),
                        f"bad tasks {frame['tasks'].iloc[int(short[0])]!r} (fewer than 2)",
                        offset)
    size = pd.to_numeric(frame["size"], errors="coerce").to_numpy(dtype=float)
    off = np.flatnonzero(size != lengths)
    if off.size:
        i = int(off[0])
        raise _fail_row(where, frame, i, f"size {frame['size'].iloc[i]} but {lengths[i]} tasks",
                            offset)
    rank = np.empty(len(names), dtype=np.int64)
    rank[np.argsort(np.array(names, dtype=object), kind="stable")] = np.arange(len(names))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    for k in np.unique(lengths):
        rows = np.flatnonzero(lengths == k)
        mat = np.sort(rank[codes[starts[rows, None] + np.arange(k)]], axis=1)
        dup = np.flatnonzero((np.diff(mat, axis=1) == 0).any(axis=1))
        if dup.size:
            i = int(rows[dup[0]])
            raise _fail_row(where, frame, i, f"bad tasks {frame['tasks'].iloc[i]!r} "
                                             "(a task twice)", offset)
    same = pc.equal(pc.replace_substring(tasks, ",", SEP), groups)
    mismatch = np.flatnonzero(~same.to_numpy(zero_copy_only=False))
    for i in mismatch:  # only rows whose tasks are not listed in id order
        listed = str(frame["tasks"].iloc[i]).split(",")
        if group_id(listed) != str(frame["group"].iloc[i]):
            raise PvigroupError(f"{where}: row {i + offset}: group {frame['group'].iloc[i]!r} "
                                f"does not "
                                f"match tasks {frame['tasks'].iloc[i]!r}")


def _finite(frame: pd.DataFrame, column: str, where: str) -> np.ndarray:
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise _fail_row(where, frame, int(bad[0]), f"{column} is not a number")
    return values


def check_tests(tests: pd.DataFrame, test: str, where: str) -> pd.DataFrame:
    """The compact checked frame (module docstring) of a tests table.

    Raises
    ------
    PvigroupError
        A missing column, a bad task list, a group id that does not match its tasks, a size
        that does not match, a p-value or statistic that is not a number, or a group listed
        twice; the message names ``where`` and the row (0-based).
    """
    missing = [c for c in REQUIRED if c not in tests.columns]
    if test == "tost" and len(tests) and "tost_pvalue" not in tests.columns:
        missing.append("tost_pvalue")
    if missing:
        raise PvigroupError(
            f"{where}: missing column(s) {', '.join(missing)}"
            + (" (TOST needs the tests run with a tost margin)" if "tost_pvalue" in missing else "")
        )
    frame = tests.reset_index(drop=True)
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COMPACT})
    for start in range(0, len(frame), CHUNK):
        _check_tasks(frame.iloc[start:start + CHUNK], where, start)
    pcol = "pvalue_adj" if "pvalue_adj" in frame.columns else "pvalue"
    statistic = _finite(frame, "statistic", where)
    out = pd.DataFrame({
        "group": frame["group"].astype(str),
        "size": pd.to_numeric(frame["size"]).to_numpy(dtype=np.int64),
        "test": frame["test"].astype(str),
        "statistic": statistic,
        "_p": _finite(frame, pcol, where),
        "_stat": np.abs(statistic),
        "_tost": _finite(frame, "tost_pvalue", where) if test == "tost" else np.nan,
    })
    groups = _strings(out["group"])
    if pc.count_distinct(groups).as_py() != len(groups):
        dup = out["group"][out["group"].duplicated()]
        raise PvigroupError(f"{where}: group {dup.iloc[0]} appears more than once")
    if pcol == "pvalue_adj":
        log.info("%s: decisions use the corrected p-values (pvalue_adj)", where)
    return out
