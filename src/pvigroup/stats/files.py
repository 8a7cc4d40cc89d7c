"""File-level helpers: read PVI files, the per-pair bootstrap of the pair-test job, ``vinfo.tsv``."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pvigroup.errors import PvigroupError
from pvigroup.io import read_parquet, write_tsv
from pvigroup.stats._base import _as_sample, _stable_seed
from pvigroup.stats.bootstrap import (
    SEED_COLUMNS,
    BootstrapCI,
    bootstrap_diff_ci,
    seed_variability,
    vinfo_summary,
)
from pvigroup.stats.significance import paired_subsample
from pvigroup.workflow import NAME_RE, group_id

log = logging.getLogger(__name__)


def read_pvi(path: str | Path) -> tuple[str, np.ndarray]:
    """Task name (the file stem) and the finite ``pvi`` column of one PVI parquet file.

    Raises
    ------
    PvigroupError
        Missing file or column, a stem that is not a task id, a ``task`` column naming another
        task, fewer than 2 rows, or NaN/inf PVI (the message names the file).
    """
    path = Path(path)
    task = path.name.removesuffix(".parquet")
    if not NAME_RE.match(task):
        raise PvigroupError(f"{path}: file stem {task!r} is not a task id")
    df = read_parquet(path)
    if "pvi" not in df.columns:
        raise PvigroupError(f"{path}: no 'pvi' column (columns: {', '.join(map(str, df.columns))})")
    if "task" in df.columns:
        other = sorted(set(df["task"].astype(str)) - {task})
        if other:
            raise PvigroupError(f"{path}: rows of task(s) {other} in the PVI file of {task!r}")
    try:
        return task, _as_sample(df["pvi"].to_numpy(dtype=float), str(path))
    except PvigroupError:
        raise
    except (TypeError, ValueError) as err:
        raise PvigroupError(f"{path}: column 'pvi' is not numeric ({err})") from None


def _load_pvi(pvi_files: Sequence[str | Path]) -> dict[str, tuple[Path, np.ndarray]]:
    """Task -> (path, PVI) of each file (:func:`read_pvi`); a task given twice is an error."""
    loaded: dict[str, tuple[Path, np.ndarray]] = {}
    for f in pvi_files:
        task, x = read_pvi(f)
        if task in loaded:
            raise PvigroupError(f"{f}: task {task!r} given twice (also {loaded[task][0]})")
        loaded[task] = (Path(f), x)
    return loaded


def pair_bootstrap_seed(seed: int, group: str) -> int:
    """The bootstrap seed of one pair: a 32-bit integer derived from ``(seed, group id)``.

    Each pair gets its own random stream, so its interval does not depend on which other pairs
    (tasks) are tested.
    """
    return int(_stable_seed(int(seed), group).generate_state(1)[0])


def _pair_bootstrap(
    a: np.ndarray,
    b: np.ndarray,
    *,
    names: tuple[str, str],
    method: str,
    seed: int,
    resamples: int,
    base_seed: int,
) -> BootstrapCI | None:
    """Bootstrap CI of ``mean(a) - mean(b)`` on the samples the pair test used (None for 0)."""
    if not resamples:
        return None
    if method == "paired":
        a, b = paired_subsample(a, b, seed)
    return bootstrap_diff_ci(
        a, b, int(resamples), pair_bootstrap_seed(base_seed, group_id(names)), names=names
    )


def _aligned_by_id(files: Mapping[int, Path]) -> dict[int, np.ndarray]:
    """Each seed's PVI ordered by instance id; every file must hold the same ids."""
    out, ids, first = {}, None, None
    for k in sorted(files):
        df = read_parquet(files[k])
        if "id" not in df.columns:
            raise PvigroupError(f"{files[k]}: no 'id' column to match instances across seeds")
        df = df.sort_values("id", kind="stable")
        these = df["id"].astype(str).to_numpy()
        if ids is None:
            ids, first = these, files[k]
        elif len(these) != len(ids) or (these != ids).any():
            raise PvigroupError(f"{files[k]}: its instance ids differ from those of {first}; "
                                "seed replicates must score the same held-out split")
        out[k] = df["pvi"].to_numpy(dtype=float)
    return out


def _replicate_seed(path: Path) -> int:
    """The training seed of a replicate file ``.../seed{seed}/{task}.parquet``."""
    m = re.fullmatch(r"seed(\d+)", path.parent.name)
    if m is None:
        raise PvigroupError(f"{path}: a seed replicate must lie in a folder named seed<N>")
    return int(m.group(1))


def run_vinfo(
    pvi_files: Sequence[str | Path],
    out_tsv: str | Path,
    *,
    resamples: int = 2000,
    seed: int = 42,
    model: str = "",
    replicate_files: Sequence[str | Path] = (),
    main_seeds: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """Write ``vinfo.tsv``: each task's V-information estimate with its bootstrap CI.

    Parameters
    ----------
    pvi_files : sequence of paths
        The model's ``results/pvi/{model}/{task}.parquet`` files (the task is the file stem).
    out_tsv : path
        ``results/stats/{model}/vinfo.tsv``.
    resamples, seed : int
        ``stats.bootstrap``; each task's generator is seeded from ``(seed, task)``
        (:func:`vinfo_summary`).
    model : str
        Model key, written in the ``model`` column.
    replicate_files : sequence of paths
        ``results/pvi/{model}/seed{s}/{task}.parquet`` of ``pvi.variability_seeds``; when given,
        the :func:`seed_variability` columns are added (the main run counts as one seed).
    main_seeds : mapping task -> int
        The main run's training seed of each task (needed with ``replicate_files``).

    Returns
    -------
    DataFrame
        ``task, model, n, mean_pvi, sd_pvi, ci_low, ci_high, level, resamples, seed`` (+
        :data:`SEED_COLUMNS` with replicates), one row per task, sorted by task. ``ci_*`` covers
        instance sampling only; ``combined_ci_*`` also training noise.
    """
    loaded = _load_pvi(pvi_files)
    table = vinfo_summary({t: x for t, (_, x) in loaded.items()}, int(resamples), int(seed))
    table.insert(1, "model", model)
    table["seed"] = int(seed)
    if replicate_files:
        reps: dict[str, dict[int, Path]] = {}
        for f in map(Path, replicate_files):
            task, _ = read_pvi(f)
            if task not in loaded:
                raise PvigroupError(f"{f}: seed replicate of {task!r}, which has no main PVI file")
            reps.setdefault(task, {})[_replicate_seed(f)] = f
        rows = []
        for task in table["task"]:
            main = (main_seeds or {}).get(task)
            if main is None:
                raise PvigroupError(f"vinfo: no main training seed given for task {task!r}")
            files = reps.get(task, {})
            if main in files:
                raise PvigroupError(f"{loaded[task][0]}: seed {main} given as main run and replicate")
            files = {**files, int(main): loaded[task][0]}
            rows.append(seed_variability(_aligned_by_id(files), int(resamples), int(seed),
                                         name=task))
        table = pd.concat([table, pd.DataFrame(rows, columns=SEED_COLUMNS)], axis=1)
    write_tsv(table, out_tsv)
    for r in table.itertuples():
        log.info(
            "%s: V-information %.4f bits [%.4f, %.4f] (n=%d)",
            r.task,
            r.mean_pvi,
            r.ci_low,
            r.ci_high,
            r.n,
        )
        if replicate_files:
            log.info("%s: over %d training seeds (%s) sd %.4f; with training noise [%.4f, %.4f]",
                     r.task, r.n_seeds, r.seeds, r.seed_sd, r.combined_ci_low, r.combined_ci_high)
    return table
