"""File-level functions of the single-test API: read PVI, one test JSON, collect JSONs, vinfo.tsv."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from pvigroup import __version__
from pvigroup.errors import PvigroupError
from pvigroup.io import fingerprint_file, read_json, read_parquet, write_json, write_tsv
from pvigroup.stats._base import (
    CORRECTIONS,
    GROUP_METHODS,
    PAIR_METHODS,
    TEST_COLUMNS,
    TOST_COLUMNS,
    _as_sample,
    _check_choice,
    _stable_seed,
)
from pvigroup.stats.bootstrap import (
    SEED_COLUMNS,
    BootstrapCI,
    bootstrap_diff_ci,
    seed_variability,
    vinfo_summary,
)
from pvigroup.stats.equivalence import tost_group
from pvigroup.stats.tests import group_test, pair_test, paired_subsample
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


def run_test(
    pvi_files: Sequence[str | Path],
    out_json: str | Path,
    *,
    method: str,
    seed: int = 42,
    model: str,
    tost_margin: float | None = None,
    tost_variance: str = "pooled",
    bootstrap_resamples: int = 0,
    bootstrap_seed: int = 42,
) -> dict[str, Any]:
    """Test one pair (2 files, :func:`pair_test`) or group (>2 files, :func:`group_test`).

    Parameters
    ----------
    pvi_files : sequence of paths
        ``results/pvi/{model}/{task}.parquet`` files (the task is the file stem). Samples are
        ordered by task name, so ``mean_diff`` is the alphabetically first task minus the second.
    out_json : path
        Where the result JSON (``docs/architecture.md``) is written.
    method : str
        A pair method for 2 files, a group method for more.
    seed : int
        Seed of the ``paired`` subsample.
    model : str
        Model key, recorded in the JSON.
    tost_margin : float or None
        When set, adds a ``tost`` block: the pair's TOST, or for a group the intersection-union
        TOST of all its pairs (:func:`tost_group`).
    tost_variance : {"pooled", "unequal"}
    bootstrap_resamples : int
        Pairs only: resamples of the percentile bootstrap CI of the mean PVI difference
        (:func:`bootstrap_diff_ci` on the samples the test used), stored as
        ``effect.mean_diff_boot_ci`` with its settings in ``options.bootstrap``. 0 = no bootstrap.
        Ignored for groups of 3 or more tasks.
    bootstrap_seed : int
        Base seed; the pair's generator is seeded from ``(bootstrap_seed, group id)``
        (:func:`pair_bootstrap_seed`), so adding a task changes no other pair's interval.

    Returns
    -------
    dict
        The JSON written.
    """
    if len(pvi_files) < 2:
        raise ValueError(f"run_test needs at least 2 PVI files, got {len(pvi_files)}")
    if len(pvi_files) == 2:
        _check_choice(method, PAIR_METHODS, "pair test method")
    else:
        _check_choice(method, GROUP_METHODS, "group test method")
    loaded = _load_pvi(pvi_files)
    tasks = sorted(loaded)
    samples = {t: loaded[t][1] for t in tasks}
    where = ", ".join(str(loaded[t][0]) for t in tasks)
    try:
        if len(tasks) == 2:
            res = pair_test(
                samples[tasks[0]],
                samples[tasks[1]],
                names=(tasks[0], tasks[1]),
                method=method,
                seed=seed,
            )
            boot = _pair_bootstrap(
                samples[tasks[0]],
                samples[tasks[1]],
                names=(tasks[0], tasks[1]),
                method=method,
                seed=seed,
                resamples=bootstrap_resamples,
                base_seed=bootstrap_seed,
            )
        else:
            res = group_test(samples, method=method)
            boot = None
            if bootstrap_resamples:
                log.debug("%s: bootstrap CIs are computed for pairs only", group_id(tasks))
        tost_block = (
            tost_group(samples, tost_margin, variance=tost_variance)
            if tost_margin is not None
            else None
        )
    except PvigroupError as err:
        raise PvigroupError(f"{where}: {err}") from None
    out = res.to_dict()
    out["model"] = model
    if boot is not None:
        out["effect"]["mean_diff_boot_ci"] = [boot.low, boot.high]
        out["options"]["bootstrap"] = {
            "resamples": boot.resamples,
            "seed": int(bootstrap_seed),
            "stream_seed": boot.seed,
            "level": boot.level,
            "method": "percentile",
        }
    if tost_block is not None:
        out["tost"] = tost_block
    out["provenance"] = {
        "pvigroup": __version__,
        "inputs": {
            t: {"path": str(loaded[t][0]), "sha256": fingerprint_file(loaded[t][0])} for t in tasks
        },
    }
    write_json(out, out_json)
    log.info("%s %s: statistic=%.4g p=%.4g", res.group, res.test, res.statistic, res.pvalue)
    return out


def _float(x: Any) -> float:
    """``float(x)``, NaN for None."""
    return math.nan if x is None else float(x)


def _row(d: Mapping[str, Any], path: Path) -> dict[str, Any]:
    try:
        tasks = list(d["tasks"])
        eff = d.get("effect", {})
        df = d.get("df")
        df1, df2 = (df[0], df[1]) if isinstance(df, list) else (df, math.nan)
        ci = eff.get("mean_diff_ci", [math.nan, math.nan])
        boot = eff.get("mean_diff_boot_ci") or [math.nan, math.nan]
        row = {
            "group": group_id(tasks),
            "tasks": ",".join(sorted(tasks)),
            "size": len(tasks),
            "model": d.get("model", ""),
            "test": d["test"],
            "statistic": float(d["statistic"]),
            "pvalue": float(d["pvalue"]),
            "df": math.nan if df1 is None else float(df1),
            "df2": float(df2),
            "n_total": int(sum(d["n"].values())),
            "mean_diff": float(eff.get("mean_diff", math.nan)),
            "mean_diff_lo": float(ci[0]),
            "mean_diff_hi": float(ci[1]),
            "mean_diff_boot_lo": _float(boot[0]),
            "mean_diff_boot_hi": _float(boot[1]),
            "hedges_g": float(eff.get("hedges_g", math.nan)),
            "eta2": float(eff.get("eta2", math.nan)),
            "omega2": float(eff.get("omega2", math.nan)),
        }
        if "tost" in d:
            row.update(
                tost_pvalue=float(d["tost"]["pvalue"]),
                tost_margin=float(d["tost"]["margin"]),
                tost_variance=str(d["tost"]["variance"]),
            )
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise PvigroupError(
            f"{path}: not a test result JSON ({type(err).__name__}: {err})"
        ) from None
    if d.get("group", row["group"]) != row["group"]:
        raise PvigroupError(f"{path}: group {d['group']!r} does not match tasks {tasks}")
    return row


def collect_tests(
    json_files: Sequence[str | Path], out_tsv: str | Path, *, correction: str = "none"
) -> pd.DataFrame:
    """Collect test JSONs into ``pairs.tsv`` / ``triples.tsv``.

    Parameters
    ----------
    json_files : sequence of paths
        Files written by :func:`run_test` (may be empty: a header-only TSV is written).
    out_tsv : path
    correction : {"none", "bonferroni", "holm", "sidak", "fdr_bh", "fdr_by"}
        ``statsmodels.stats.multitest.multipletests`` over every test in this file; adds
        ``pvalue_adj`` unless ``none``.

    Returns
    -------
    DataFrame
        Columns :data:`TEST_COLUMNS`, then ``tost_pvalue, tost_margin, tost_variance`` when the
        JSONs carry a TOST block (all or none of them must), then ``pvalue_adj``; one row per
        file, sorted by size and group.
    """
    _check_choice(correction, CORRECTIONS, "correction")
    rows = [_row(read_json(p), Path(p)) for p in json_files]
    with_tost = [r for r in rows if "tost_pvalue" in r]
    if with_tost and len(with_tost) != len(rows):
        raise PvigroupError(
            f"{out_tsv}: {len(with_tost)} of {len(rows)} test files carry a TOST block; "
            "rerun the tests so all or none do"
        )
    cols = list(TEST_COLUMNS) + (list(TOST_COLUMNS) if with_tost else [])
    seen: dict[str, str] = {}
    for r, p in zip(rows, json_files, strict=True):
        if r["group"] in seen:
            raise PvigroupError(f"{p}: group {r['group']} also in {seen[r['group']]}")
        seen[r["group"]] = str(p)
    table = pd.DataFrame(rows, columns=cols)
    table = table.sort_values(["size", "group"], kind="stable").reset_index(drop=True)
    if correction != "none":
        table["pvalue_adj"] = (
            multipletests(table["pvalue"].to_numpy(), method=correction)[1]
            if len(table)
            else pd.Series(dtype=float)
        )
    write_tsv(table, out_tsv)
    return table


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
