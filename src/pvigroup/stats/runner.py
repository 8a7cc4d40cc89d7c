"""The workflow's test jobs: every pair, and every group of 3+ tasks, of a model in one process.

:func:`run_pair_tests` writes ``results/stats/{model}/pairs.tsv``;
:func:`pvigroup.stats.group_runner.run_group_tests` writes ``triples.tsv`` (or ``triples.parquet`` past :data:`pvigroup.workflow.GROUP_TSV_MAX`
groups). Each reads the model's PVI files once. The columns are
:data:`pvigroup.stats.TEST_COLUMNS` (the numbers of one :func:`pvigroup.stats.pair_test` /
:func:`pvigroup.stats.group_test` per group), ``tost_pvalue, tost_margin, tost_variance`` with a
TOST margin, ``pvalue_adj`` with a correction, then each task's ``n_i, mean_i, sd_i`` and, for
pairs, ``subsample`` (paired test) and ``boot_resamples`` / ``boot_seed`` (the
bootstrap CI's settings). Same inputs, same bytes: rows sorted by size and group id, floats
written with a fixed format, random streams seeded per pair.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from statsmodels.stats.multitest import multipletests

from pvigroup.config import DEFAULT_STATS, StatsSettings
from pvigroup.errors import PvigroupError
from pvigroup.io import read_parquet, read_tsv, write_tsv
from pvigroup.stats import vectorised as vec
from pvigroup.stats._base import (
    CORRECTIONS,
    PAIR_METHODS,
    TEST_COLUMNS,
    TOST_VARIANCES,
    _check_choice,
)
from pvigroup.stats.files import _load_pvi, _pair_bootstrap, pair_bootstrap_seed
from pvigroup.stats.significance import pair_test
from pvigroup.workflow import group_id

log = logging.getLogger(__name__)



#: Text columns of a tests table (the others are numbers).
STRING_COLUMNS = ("group", "tasks", "model", "test", "tost_variance")


def read_test_table(path: str | Path) -> pd.DataFrame:
    """A ``pairs.tsv`` / ``triples.tsv`` / ``triples.parquet`` table, whole.

    :func:`read_test_batches` reads the same files in batches of chosen columns (the grouping,
    whose tables may hold tens of millions of rows).
    """
    path = Path(path)
    return read_parquet(path) if path.suffix == ".parquet" else read_tsv(path)


def read_test_batches(path: str | Path, columns: Iterable[str],
                      batch_size: int = 1_000_000) -> tuple[list[str], Iterator[pa.RecordBatch]]:
    """The names of the ``columns`` the table has (in its order) and their record batches.

    Text columns (:data:`STRING_COLUMNS`) are strings, the others float64 (empty cells null).

    Raises
    ------
    PvigroupError
        The file is missing, its suffix is neither ``.tsv`` nor ``.parquet``, or a TSV cell does
        not parse (raised while the batches are read).
    """
    path = Path(path)
    if not path.exists():
        raise PvigroupError(f"{path}: file not found")
    wanted = set(columns)
    if path.suffix == ".parquet":
        pf = pq.ParquetFile(path)
        names = [c for c in pf.schema_arrow.names if c in wanted]
        return names, pf.iter_batches(batch_size=batch_size, columns=names)
    if path.suffix == ".tsv":
        with path.open() as fh:
            header = [h.strip('"') for h in fh.readline().rstrip("\r\n").split("\t")]
        names = [c for c in header if c in wanted]
        if not header or header == [""]:
            return [], iter(())
        types = {c: pa.string() if c in STRING_COLUMNS else pa.float64() for c in names}
        options = {"read_options": pacsv.ReadOptions(block_size=1 << 26),
                   "parse_options": pacsv.ParseOptions(delimiter="\t"),
                   "convert_options": pacsv.ConvertOptions(
                       include_columns=names, column_types=types, null_values=[""],
                       strings_can_be_null=False, quoted_strings_can_be_null=False)}
        return names, _csv_batches(path, options)
    raise PvigroupError(f"{path}: a tests table must end in .tsv or .parquet")


def _csv_batches(path: Path, options: dict) -> Iterator[pa.RecordBatch]:
    try:
        yield from pacsv.open_csv(path, **options)
    except pa.ArrowInvalid as exc:
        raise PvigroupError(f"{path}: {str(exc).splitlines()[0]}") from None


def _check_common(st: StatsSettings) -> None:
    _check_choice(st.correction, CORRECTIONS, "correction")
    _check_choice(st.test, ("significance", "tost"), "grouping test")
    _check_choice(st.tost_variance, TOST_VARIANCES, "TOST variance")
    if st.test == "tost" and st.tost_margin is None:
        raise ValueError("grouping test 'tost' needs a tost_margin")
    if not 0 < st.alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {st.alpha!r}")


def _load(pvi_files: Sequence[str | Path], least: int, out: str | Path):
    loaded = _load_pvi(pvi_files)
    if len(loaded) < least:
        raise PvigroupError(f"{out}: needs the PVI of at least {least} tasks, got {len(loaded)} "
                            f"({', '.join(map(str, pvi_files)) or 'none'})")
    samples = {t: x for t, (_, x) in sorted(loaded.items())}
    return loaded, samples, vec.summarise(samples)


def _where(loaded, names: Sequence[str]) -> str:
    return ", ".join(str(loaded[t][0]) for t in names)


def _ids(names: Sequence[str], idx: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """Group ids (``a__b``) and task lists (``a,b``) of the rows of ``idx``."""
    arr = pa.array(list(names), type=pa.string())
    parts = [arr.take(pa.array(idx[:, c])) for c in range(idx.shape[1])]
    if len(parts) == 1:
        return parts[0], parts[0]
    return (pc.binary_join_element_wise(*parts, "__"),
            pc.binary_join_element_wise(*parts, ","))


def _accepted(cols: dict[str, np.ndarray], test: str, alpha: float,
              p: np.ndarray | None = None) -> np.ndarray:
    """The grouping's acceptance of each row: p > alpha, or TOST p < alpha."""
    if test == "tost":
        return cols["tost_pvalue"] < alpha
    return (cols["pvalue"] if p is None else p) > alpha


def _adjust(p: np.ndarray, correction: str) -> np.ndarray:
    return multipletests(p, method=correction)[1] if len(p) else p


def _frame(names, idx, cols: dict[str, Any], *, model: str, test: str, size_width: int,
           s: vec.Summaries, tost: tuple[float, str] | None,
           arrow: bool = False) -> pd.DataFrame | pa.Table:
    """The table rows of one chunk, in the column order of the module docstring (a pyarrow
    table with ``arrow``, which keeps the id strings out of Python objects)."""
    rows = len(idx)
    group, tasks = _ids(names, idx)
    nan = np.full(rows, math.nan)
    data: dict[str, Any] = {
        "group": group if arrow else group.to_numpy(zero_copy_only=False),
        "tasks": tasks if arrow else tasks.to_numpy(zero_copy_only=False),
        "size": np.full(rows, idx.shape[1], dtype=np.int64),
        "model": np.full(rows, model, dtype=object),
        "test": np.full(rows, test, dtype=object),
    }
    for c in TEST_COLUMNS[5:]:
        data[c] = cols.get(c, nan)
    data["n_total"] = np.asarray(data["n_total"]).astype(np.int64)
    if tost is not None:
        data["tost_pvalue"] = cols["tost_pvalue"]
        data["tost_margin"] = np.full(rows, float(tost[0]))
        data["tost_variance"] = np.full(rows, tost[1], dtype=object)
    if "pvalue_adj" in cols:
        data["pvalue_adj"] = cols["pvalue_adj"]
    data.update(vec.per_task_columns(s, idx, size_width))
    for extra in ("subsample", "boot_resamples", "boot_seed"):
        if extra in cols:
            data[extra] = cols[extra]
    if arrow:
        return pa.table({k: v if isinstance(v, pa.Array) else pa.array(v)
                         for k, v in data.items()})
    return pd.DataFrame(data)


def _sorted(frame: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    if vec.lexicographic_is_id_order(names):
        return frame.reset_index(drop=True)
    return frame.sort_values(["size", "group"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Pairs
# --------------------------------------------------------------------------------------------
def _pair_loop(samples, s: vec.Summaries, ij: np.ndarray, method: str, seed: int, loaded):
    """Pair tests that need the samples (paired t), one :func:`pair_test` each."""
    keys = ("statistic", "pvalue", "df", "n_total", "mean_diff", "hedges_g", "eta2", "omega2")
    cols = {c: np.empty(len(ij)) for c in (*keys, "mean_diff_lo", "mean_diff_hi", "subsample")}
    for r, (a, b) in enumerate(ij):
        x, y = s.names[a], s.names[b]
        try:
            res = pair_test(samples[x], samples[y], names=(x, y), method=method, seed=seed)
        except PvigroupError as err:
            raise PvigroupError(f"{_where(loaded, (x, y))}: {err}") from None
        d = {"statistic": res.statistic, "pvalue": res.pvalue, "df": res.df,
             "n_total": sum(res.n.values()), **res.effect}
        for c in keys:
            cols[c][r] = d[c]
        cols["mean_diff_lo"][r], cols["mean_diff_hi"][r] = d["mean_diff_ci"]
        cols["subsample"][r] = res.options.get("subsample", math.nan)
    return cols


def run_pair_tests(
    pvi_files: Sequence[str | Path],
    out_tsv: str | Path,
    settings: StatsSettings = DEFAULT_STATS,
    *,
    model: str,
) -> pd.DataFrame:
    """Test every pair of the model's tasks and write ``pairs.tsv``.

    Parameters
    ----------
    pvi_files : sequence of paths
        The model's ``results/pvi/{model}/{task}.parquet`` files (one task: a header-only
        table).
    out_tsv : path
    settings : StatsSettings
        ``pair_test`` (:func:`pvigroup.stats.pair_test`; ``student``/``welch`` vectorised,
        ``paired`` one test per pair), ``seed`` (the ``paired`` subsample), ``tost_margin``
        (None: no TOST columns) and ``tost_variance``, ``correction`` over all pairs
        (``pvalue_adj``), and ``bootstrap_resamples`` (0: no CI) / ``bootstrap_seed``
        (:func:`pair_bootstrap_seed`) of each pair's percentile bootstrap CI of the difference.
        That CI is computed for every pair when the model has at most ``bootstrap_max_pairs``
        pairs (None: always); past it only for the pairs the grouping accepts (``alpha``,
        ``test``, ``correction``), the ones the tables report. The t CI (``mean_diff_lo/hi``)
        is always there. ``boot_resamples`` is 0 in rows without a bootstrap CI.
    model : str
        Model key, written in the ``model`` column.

    Returns
    -------
    DataFrame
        The table written.
    """
    method, seed, correction = settings.pair_test, settings.seed, settings.correction
    tost_margin, tost_variance = settings.tost_margin, settings.tost_variance
    alpha, test = settings.alpha, settings.test
    bootstrap_resamples, bootstrap_seed = settings.bootstrap_resamples, settings.bootstrap_seed
    bootstrap_max_pairs = settings.bootstrap_max_pairs
    _check_choice(method, PAIR_METHODS, "pair test method")
    _check_common(settings)
    loaded, samples, s = _load(pvi_files, 1, out_tsv)  # one task: a header-only table
    names = s.names
    ij = np.array(list(itertools.combinations(range(len(names)), 2)),
                  dtype=np.int64).reshape(-1, 2)
    try:
        if method in vec.VECTOR_PAIR_METHODS:
            cols = vec.pair_columns(s, ij, method)
        else:
            cols = _pair_loop(samples, s, ij, method, seed, loaded)
        if tost_margin is not None:
            cols["tost_pvalue"] = vec.tost_pvalues(s, ij, float(tost_margin), tost_variance)
    except PvigroupError as err:
        raise PvigroupError(f"{out_tsv}: {err}") from None
    if correction != "none":
        cols["pvalue_adj"] = _adjust(cols["pvalue"], correction)
    boot_lo, boot_hi = np.full(len(ij), math.nan), np.full(len(ij), math.nan)
    resamples = np.zeros(len(ij), dtype=np.int64)
    stream = np.zeros(len(ij), dtype=np.int64)
    if bootstrap_resamples:
        everyone = bootstrap_max_pairs is None or len(ij) <= bootstrap_max_pairs
        which = (np.arange(len(ij)) if everyone else np.flatnonzero(
            _accepted(cols, test, alpha, cols.get("pvalue_adj"))))
        if not everyone:
            log.info("bootstrap CIs for the %d accepted of %d pairs (stats.bootstrap.max_pairs "
                     "%d)", len(which), len(ij), bootstrap_max_pairs)
        for r in which:
            x, y = names[ij[r, 0]], names[ij[r, 1]]
            ci = _pair_bootstrap(samples[x], samples[y], names=(x, y), method=method, seed=seed,
                                 resamples=bootstrap_resamples, base_seed=bootstrap_seed)
            boot_lo[r], boot_hi[r] = ci.low, ci.high
            resamples[r] = ci.resamples
            stream[r] = pair_bootstrap_seed(bootstrap_seed, group_id((x, y)))
    cols.update(mean_diff_boot_lo=boot_lo, mean_diff_boot_hi=boot_hi,
                boot_resamples=resamples, boot_seed=stream)
    if method != "paired":
        cols.pop("subsample", None)
    tost = (float(tost_margin), tost_variance) if tost_margin is not None else None
    table = _sorted(_frame(names, ij, cols, model=model, test=method, size_width=2, s=s,
                           tost=tost), names)
    write_tsv(table, out_tsv)
    accepted = int(_accepted(cols, test, alpha, cols.get("pvalue_adj")).sum())
    log.info("%s: %d pairs tested (%s), %d accepted", model, len(table), method, accepted)
    return table


__all__ = ["STRING_COLUMNS", "read_test_batches", "read_test_table", "run_pair_tests"]
