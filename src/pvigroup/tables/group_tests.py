"""Tables 1 and 2: the groups (pairs; groups of 3+ tasks) whose PVI distributions are not
significantly different, from ``results/stats/{model}/pairs.tsv`` / ``triples.tsv``."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from pvigroup.tables.config import main_models
from pvigroup.tables.formatting import fmt_diff_ci, fmt_num, fmt_p, group_label
from pvigroup.tables.inputs import require_columns
from pvigroup.tables.spec import Built, TableKind, TablePlan, TableSpec, skip
from pvigroup.workflow import SEP, model_tasks, test_table

#: Effect-size columns of Tables 1 (pairs) and 2 (groups of 3+), after the paper's columns.
PAIR_EFFECT_COLUMNS = ["mean_diff", "mean_diff_lo", "mean_diff_hi", "hedges_g"]
GROUP_EFFECT_COLUMNS = ["eta2", "omega2"]
_BOOT_COLUMNS = ["mean_diff_boot_lo", "mean_diff_boot_hi"]


def read_tests(path: str | Path) -> pd.DataFrame:
    """A collected tests table (``.tsv``, or ``.parquet`` past ``workflow.GROUP_TSV_MAX`` groups),
    read by :func:`pvigroup.stats.runner.read_test_table`."""
    from pvigroup.stats.runner import read_test_table  # scipy/statsmodels: only when read

    return read_test_table(path)


def accepted_tests(tests: pd.DataFrame, alpha: float) -> pd.Series:
    """p > alpha on ``pvalue_adj`` when the file has it (a correction was configured), else ``pvalue``."""
    p = tests["pvalue_adj"] if "pvalue_adj" in tests.columns else tests["pvalue"]
    return p.astype(float) > alpha


def group_tests_frame(tests: Mapping[str, pd.DataFrame], alpha: float, size: int) -> pd.DataFrame:
    """Accepted groups (p > alpha) of each model's collected tests, with their effect sizes.

    Parameters
    ----------
    tests
        model key to its ``pairs.tsv``/``triples.tsv`` frame.
    alpha
        significance level; a group is accepted when p > alpha.
    size
        2 keeps pairs, 3 keeps groups of three or more tasks.

    Returns
    -------
    DataFrame
        ``group, model, size, test, statistic, pvalue`` (+ ``pvalue_adj`` when a correction was
        configured), then the effect sizes: for pairs ``mean_diff, mean_diff_lo, mean_diff_hi,
        hedges_g`` (+ ``mean_diff_boot_lo, mean_diff_boot_hi`` when any input has the bootstrap
        CI), for larger groups ``eta2, omega2``. Effect columns a file lacks (written before
        they existed) are NaN.
    """
    effects = PAIR_EFFECT_COLUMNS if size == 2 else GROUP_EFFECT_COLUMNS
    if size == 2 and any(set(_BOOT_COLUMNS) <= set(df.columns) for df in tests.values()):
        effects = effects + _BOOT_COLUMNS
    frames = []
    for model, df in tests.items():
        require_columns(df, ["group", "statistic", "pvalue"], f"collected tests of model {model}")
        df = df.copy()
        if "size" not in df.columns:
            df["size"] = df["group"].map(lambda g: len(g.split(SEP)))
        keep = (df["size"] == 2) if size == 2 else (df["size"] >= 3)
        df = df[keep & accepted_tests(df, alpha)]
        cols = ["group", "size", "test", "statistic", "pvalue"] + (
            ["pvalue_adj"] if "pvalue_adj" in df.columns else [])
        df = df[[c for c in cols if c in df.columns]].assign(
            **{c: (df[c].astype(float) if c in df.columns else math.nan) for c in effects})
        df.insert(1, "model", model)
        frames.append(df)
    frames = [f for f in frames if not f.empty]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if out.empty:
        return pd.DataFrame(columns=["group", "model", "size", "test", "statistic", "pvalue",
                                     *effects])
    rank = {m: i for i, m in enumerate(tests)}
    out["_rank"] = out["model"].map(rank)
    out = out.sort_values(["_rank", "size", "group"], kind="stable").drop(columns="_rank")
    first = [c for c in out.columns if c not in effects]
    return out[first + effects].reset_index(drop=True)


def plan(config: Mapping[str, Any], spec: TableSpec, results: str,
         base: dict[str, Any]) -> TablePlan:
    kind = "pairs" if spec.size == 2 else "triples"
    models = [m for m in main_models(config)
              if len(model_tasks(config, m)) >= spec.size
              and (spec.size == 2 or int(config["stats"]["max_group_size"]) >= 3)]
    if not models:
        why = ("stats.max_group_size is below 3" if spec.size == 3
               and int(config["stats"]["max_group_size"]) < 3
               else f"no model has {spec.size} or more tasks")
        return skip(spec.number, why)
    return TablePlan(spec.number,
                     {"tests": [f"{results}/stats/{m}/{Path(test_table(config, m, kind)).name}"
                                for m in models]},
                     {**base, "models": models, "size": spec.size})


def read(inputs: Mapping[str, Sequence[str]], settings: Mapping[str, Any]) -> dict[str, Any]:
    paths = list(inputs["tests"])
    return {"tests": {m: read_tests(p) for m, p in zip(settings["models"], paths, strict=True)}}


def build(frames: Mapping[str, Any], settings: Mapping[str, Any]) -> Built:
    names = settings["names"]
    d = int(settings.get("decimals", 3))
    data = group_tests_frame(frames["tests"], settings["alpha"], settings["size"])
    stat = "t" if settings["size"] == 2 else "F"
    # the paper's columns first, then the effect sizes (docs/statistics.md §3)
    header = ["Task group", "Model", f"{stat}-statistic", "p-value"]
    if settings["size"] == 2:
        header += ["Mean diff. (bits) [95% CI]", "Hedges' g"]
        rows = [[group_label(r.group, names), r.model, fmt_num(r.statistic, d),
                 fmt_p(r.pvalue), fmt_diff_ci(r.mean_diff, r.mean_diff_lo, r.mean_diff_hi, d),
                 fmt_num(r.hedges_g, d)] for r in data.itertuples()]
    else:
        header += ["η²", "ω²"]
        rows = [[group_label(r.group, names), r.model, fmt_num(r.statistic, d),
                 fmt_p(r.pvalue), fmt_num(r.eta2, d), fmt_num(r.omega2, d)]
                for r in data.itertuples()]
    note = f"No group has p > {settings['alpha']:g}." if data.empty else ""
    return Built(data, header, rows, note)


def caption(s: Mapping[str, Any]) -> str:
    if s["size"] == 2:
        return (f"Task groups (size 2) whose PVI distributions are not significantly different "
                f"(p > {s['alpha']:g}); model(s): {', '.join(s['models'])}. Effect sizes after "
                f"the paper's columns: mean PVI difference (first task minus second, bits) with "
                f"its 95% t interval, and Hedges' g.")
    return (f"Task groups (size > 2) whose PVI distributions are not significantly different "
            f"(p > {s['alpha']:g}); model(s): {', '.join(s['models'])}. Effect sizes after the "
            f"paper's columns: η² and ω² from the one-way ANOVA sums of squares.")


KIND = TableKind("group_tests", plan, read, build, caption)
