"""The paper's tables (csv, markdown, LaTeX) from the workflow's result files, and the comparison
with the published numbers.

Table numbers follow the paper (Li, Miller, Bethard and Savova, arXiv:2410.12774):

====  =====================================================  ==========================================
 No.  content                                                input (docs/architecture.md)
====  =====================================================  ==========================================
 1    pairs with p > alpha (t, p)                            ``results/stats/{model}/pairs.tsv``
 2    groups of 3+ tasks with p > alpha (F, p)               ``results/stats/{model}/triples.tsv``
 3-4  STL vs MTL, PVI-similar groups (general+bio, clin.)    ``results/train/{model}/aggregate.tsv``
 5-6  STL vs MTL, PVI-dissimilar groups                      ``results/train/{model}/aggregate.tsv``
 7-8  LLM few-shot (general+bio, clinical)                   ``results/llm/table07.tsv``, ``table08.tsv``
 9    dataset sizes                                          ``results/data/{task}/task.json``
 10   label distributions                                    ``results/data/{task}/label_counts.tsv``
11-14 TaskEmb / surrogate groupings vs ours                  ``results/baselines/{method}/{model}/comparison.tsv``
15-16 Tables 3-4 with the second encoder of each domain      ``results/train/{model}/aggregate.tsv``
 17   grouping methods side by side (gain, share, cost)      ``results/evaluation/{model}/methods.tsv``
====  =====================================================  ==========================================

Table 17 is not the paper's: it answers, per model, whether each grouping's MTL groups gained
over STL (:mod:`pvigroup.evaluation`).

The *main* model of a domain family (general + biomedical, or clinical) is the first model in
``tables.models`` (default: config order) whose tasks include a task of that family; the second
such model feeds Tables 15-16. Which tables are written is decided from the config alone
(:func:`plan_tables`), so Snakemake knows every input up front; a table whose stage is not
configured is skipped with a reason.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from pvigroup import __version__
from pvigroup.errors import PvigroupError
from pvigroup.io import fingerprint_file, read_json, read_tsv, write_json
from pvigroup.workflow import SEP, group_id, model_tasks, test_table

log = logging.getLogger(__name__)

FAMILIES = ("general-biomedical", "clinical")
FAMILY_OF_DOMAIN = {"general": "general-biomedical", "biomedical": "general-biomedical",
                    "clinical": "clinical"}
FAMILY_TEXT = {"general-biomedical": "general and biomedical", "clinical": "clinical"}
BASELINE_METHODS = ("taskemb", "surrogate")
BASELINE_TEXT = {"taskemb": "TaskEmb", "surrogate": "surrogate models"}


@dataclass(frozen=True)
class TableSpec:
    """What one paper table shows and where its rows come from."""

    number: int
    kind: str  # group_tests | stl_mtl | llm | datasets | label_counts | baseline | methods
    stage: str  # stats | train | llm | data | baselines
    family: str | None = None
    rank: int = 0  # 0 = main model of the family, 1 = second model (Tables 15-16)
    source: str | None = None  # pvi-similar | pvi-dissimilar (stl_mtl tables)
    method: str | None = None  # taskemb | surrogate (baseline tables)
    size: int | None = None  # 2 = pairs, 3 = groups of 3+ (group_tests tables)


SPECS: dict[int, TableSpec] = {
    1: TableSpec(1, "group_tests", "stats", size=2),
    2: TableSpec(2, "group_tests", "stats", size=3),
    3: TableSpec(3, "stl_mtl", "train", "general-biomedical", 0, "pvi-similar"),
    4: TableSpec(4, "stl_mtl", "train", "clinical", 0, "pvi-similar"),
    5: TableSpec(5, "stl_mtl", "train", "general-biomedical", 0, "pvi-dissimilar"),
    6: TableSpec(6, "stl_mtl", "train", "clinical", 0, "pvi-dissimilar"),
    7: TableSpec(7, "llm", "llm", "general-biomedical"),
    8: TableSpec(8, "llm", "llm", "clinical"),
    9: TableSpec(9, "datasets", "data"),
    10: TableSpec(10, "label_counts", "data"),
    11: TableSpec(11, "baseline", "baselines", "general-biomedical", method="taskemb"),
    12: TableSpec(12, "baseline", "baselines", "clinical", method="taskemb"),
    13: TableSpec(13, "baseline", "baselines", "general-biomedical", method="surrogate"),
    14: TableSpec(14, "baseline", "baselines", "clinical", method="surrogate"),
    15: TableSpec(15, "stl_mtl", "train", "general-biomedical", 1, "pvi-similar"),
    16: TableSpec(16, "stl_mtl", "train", "clinical", 1, "pvi-similar"),
    17: TableSpec(17, "methods", "train"),
}


@dataclass(frozen=True)
class TablePlan:
    """One table of a config: its inputs and settings, or why it is skipped."""

    number: int
    inputs: dict[str, list[str]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    skip: str | None = None

    @property
    def nn(self) -> str:
        return f"{self.number:02d}"


@dataclass
class Table:
    """A rendered table: machine-readable ``data`` (csv) and formatted ``header``/``rows``."""

    number: int
    caption: str
    data: pd.DataFrame
    header: list[str]
    rows: list[list[str]]
    footer: str
    note: str = ""


# --------------------------------------------------------------------------- provenance
def config_hash(config: Mapping[str, Any]) -> str:
    """sha256 of the (validated) config dumped as JSON with sorted keys."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _seeds(node: Any, path: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(node, Mapping):
        for key in sorted(node, key=str):
            sub = f"{path}.{key}" if path else str(key)
            if sub == "tasks":
                continue  # per-task split seeds are part of the data fingerprint
            if str(key) in ("seed", "seeds") and not isinstance(node[key], Mapping):
                out[sub] = node[key]
            else:
                out.update(_seeds(node[key], sub))
    return out


def provenance(config: Mapping[str, Any]) -> dict[str, Any]:
    """What a table or figure records about the run that made it.

    Returns
    -------
    dict
        ``config_sha256``, ``models`` (key to pretrained id), ``seeds`` (every ``seed``/``seeds``
        setting outside ``tasks``, by dotted key) and ``pvigroup`` (package version).
    """
    return {
        "config_sha256": config_hash(config),
        "models": {m: str(spec.get("pretrained", "")) for m, spec in sorted(config["models"].items())},
        "seeds": _seeds(config),
        "pvigroup": __version__,
    }


def footer_text(prov: Mapping[str, Any]) -> str:
    """One line naming the config hash, models, seeds and package version."""
    models = ", ".join(f"{k}={v}" for k, v in prov["models"].items())
    seeds = ", ".join(f"{k}={json.dumps(v)}" for k, v in prov["seeds"].items()) or "none"
    return (f"config sha256 {prov['config_sha256']}; models: {models}; seeds: {seeds}; "
            f"pvigroup {prov['pvigroup']}")


# --------------------------------------------------------------------------- config helpers
def task_family(config: Mapping[str, Any], task: str) -> str:
    """``general-biomedical`` or ``clinical`` from the task's ``domain`` (default general)."""
    return FAMILY_OF_DOMAIN[config["tasks"][task].get("domain", "general")]


def model_order(config: Mapping[str, Any]) -> list[str]:
    """Models in ``tables.models`` order, then the remaining ones in config order."""
    listed = list((config.get("tables") or {}).get("models") or [])
    for m in listed:
        if m not in config["models"]:
            raise PvigroupError(f"config: tables.models names '{m}', which is not under models "
                                f"(known: {', '.join(sorted(config['models']))})")
    return listed + [m for m in config["models"] if m not in listed]


def family_models(config: Mapping[str, Any], family: str) -> list[str]:
    """Models (priority order) used for at least one task of ``family``."""
    return [m for m in model_order(config)
            if any(task_family(config, t) == family for t in model_tasks(config, m))]


def main_models(config: Mapping[str, Any]) -> list[str]:
    """The distinct main models of the two families (the models of Tables 1-6, 11-14)."""
    out: list[str] = []
    for fam in FAMILIES:
        models = family_models(config, fam)
        if models and models[0] not in out:
            out.append(models[0])
    return out


def stage_configured(config: Mapping[str, Any], stage: str) -> bool:
    """Whether a later stage (``train``, ``llm``, ``baselines``) runs with this config.

    The same tests the workflow applies: ``llm`` runs when ``llm.models`` lists at least one LLM;
    ``train`` and ``baselines`` when their ``enabled`` key is true (the schema's default). An
    unvalidated section without ``enabled`` counts as configured when it is a non-empty mapping.
    """
    section = config.get(stage)
    if not isinstance(section, Mapping):
        return bool(section)
    if stage == "llm":
        return bool(section.get("models"))
    if "enabled" in section:
        return bool(section["enabled"])
    return bool(section)


def baseline_methods(config: Mapping[str, Any]) -> list[str]:
    """Baseline grouping methods configured: ``baselines.methods`` if given, else the
    ``taskemb``/``surrogate`` subsections present (and not ``enabled: false``)."""
    if not stage_configured(config, "baselines"):
        return []
    section = config["baselines"]
    if "methods" in section:
        return [m for m in BASELINE_METHODS if m in (section["methods"] or [])]
    out = []
    for m in BASELINE_METHODS:
        sub = section.get(m)
        if sub is None or sub is False:
            continue
        if isinstance(sub, Mapping) and sub.get("enabled", True) is False:
            continue
        out.append(m)
    return out


def display_names(config: Mapping[str, Any]) -> dict[str, str]:
    """Task id to the name shown in tables: ``tables.names``, else the paper's name, else the id."""
    names = dict((config.get("tables") or {}).get("names") or {})
    paper = paper_task_names()
    return {t: str(names.get(t, paper.get(t, t))) for t in config["tasks"]}


# --------------------------------------------------------------------------- planning
def _skip(number: int, reason: str) -> TablePlan:
    return TablePlan(number, skip=reason)


def _read_tests(path: str | Path) -> pd.DataFrame:
    """A collected tests table: ``.tsv``, or ``.parquet`` past ``workflow.GROUP_TSV_MAX`` groups."""
    return pd.read_parquet(path) if str(path).endswith(".parquet") else read_tsv(path)


def _plan_one(config: Mapping[str, Any], spec: TableSpec, results: str) -> TablePlan:
    n = spec.number
    tables_cfg = config.get("tables") or {}
    if n in (tables_cfg.get("skip") or []):
        return _skip(n, "listed in tables.skip")
    alpha = float(config["stats"]["alpha"])
    base = {"number": n, "kind": spec.kind, "family": spec.family, "alpha": alpha,
            "names": display_names(config),
            "families": {t: task_family(config, t) for t in sorted(config["tasks"])},
            "decimals": int(tables_cfg.get("decimals", 3))}

    if spec.kind == "group_tests":
        kind = "pairs" if spec.size == 2 else "triples"
        models = [m for m in main_models(config)
                  if len(model_tasks(config, m)) >= spec.size
                  and (spec.size == 2 or int(config["stats"]["max_group_size"]) >= 3)]
        if not models:
            why = ("stats.max_group_size is below 3" if spec.size == 3
                   and int(config["stats"]["max_group_size"]) < 3
                   else f"no model has {spec.size} or more tasks")
            return _skip(n, why)
        return TablePlan(n, {"tests": [f"{results}/stats/{m}/{Path(test_table(config, m, kind)).name}"
                                       for m in models]},
                         {**base, "models": models, "size": spec.size})

    if spec.kind == "methods":
        if not stage_configured(config, "train"):
            return _skip(n, "the train stage is off (train.enabled: false): no group trained")
        models = model_order(config)
        return TablePlan(n, {"methods": [f"{results}/evaluation/{m}/methods.tsv"
                                         for m in models]}, {**base, "models": models})

    if spec.kind in ("datasets", "label_counts"):
        tasks = sorted(config["tasks"])
        name = "task.json" if spec.kind == "datasets" else "label_counts.tsv"
        settings = {**base, "tasks": tasks,
                    "descriptions": {t: str(config["tasks"][t].get("description", ""))
                                     for t in tasks},
                    "domains": {t: config["tasks"][t].get("domain", "general") for t in tasks}}
        return TablePlan(n, {"files": [f"{results}/data/{t}/{name}" for t in tasks]}, settings)

    fam_tasks = [t for t in sorted(config["tasks"]) if task_family(config, t) == spec.family]
    if not fam_tasks:
        return _skip(n, f"no {FAMILY_TEXT[spec.family]} task is configured (tasks.*.domain)")

    if spec.kind == "llm":
        if not stage_configured(config, "llm"):
            return _skip(n, "the llm stage is not configured (llm.models lists no LLM)")
        return TablePlan(n, {"llm": [f"{results}/llm/table{n:02d}.tsv"]},
                         {**base, "tasks": fam_tasks})

    models = family_models(config, spec.family)
    if len(models) <= spec.rank:
        which = "a second model" if spec.rank else "a model"
        return _skip(n, f"no {FAMILY_TEXT[spec.family]} tasks have {which} (models.*.tasks)")
    model = models[spec.rank]
    tasks = [t for t in fam_tasks if t in model_tasks(config, model)]
    settings = {**base, "model": model, "pretrained": str(config["models"][model]["pretrained"]),
                "tasks": tasks}

    if spec.kind == "stl_mtl":
        if not stage_configured(config, "train"):
            return _skip(n, "the train stage is off (train.enabled: false)")
        return TablePlan(n, {"aggregate": [f"{results}/train/{model}/aggregate.tsv"]},
                         {**settings, "source": spec.source,
                          "listed": listed_groups(config, model, spec.source, tasks)})

    # baseline comparison
    if not stage_configured(config, "train"):
        return _skip(n, "the train stage is off (train.enabled: false): no baseline groups trained")
    if spec.method not in baseline_methods(config):
        return _skip(n, f"the {spec.method} baseline is not configured (baselines section)")
    return TablePlan(
        n, {"comparison": [f"{results}/baselines/{spec.method}/{model}/comparison.tsv"]},
        {**settings, "method": spec.method})


def listed_groups(config: Mapping[str, Any], model: str, source: str,
                  tasks: Sequence[str]) -> list[list[str]]:
    """The ``grouping.manual`` groups a Tables 3-6 (15-16) table lists first, in the listed
    order with their tasks as listed: role ``similar`` for the ``pvi-similar`` tables, role
    ``dissimilar`` for the ``pvi-dissimilar`` ones; only when ``manual`` is in train.sources
    and every task is in ``tasks``."""
    from pvigroup.workflow import manual_entries_for

    if "manual" not in ((config.get("train") or {}).get("sources") or []):
        return []
    role = {"pvi-similar": "similar", "pvi-dissimilar": "dissimilar"}.get(source)
    return [e["tasks"] for e in manual_entries_for(config, model)
            if e["role"] == role and set(e["tasks"]) <= set(tasks)]


def plan_tables(config: Mapping[str, Any], results: str = "results") -> list[TablePlan]:
    """Every table (1-16, the paper's, and 17) for ``config``: inputs and settings, or the reason
    it is skipped."""
    return [_plan_one(config, spec, results) for spec in SPECS.values()]


def table_inputs(config: Mapping[str, Any], results: str = "results") -> dict[str, dict[str, list[str]]]:
    """Named inputs of each table the config allows, keyed by the two-digit table number.

    Only configured stages appear, so the ``tables`` target never asks for a file no rule makes.
    """
    return {p.nn: p.inputs for p in plan_tables(config, results) if p.skip is None}


def table_outputs(config: Mapping[str, Any], results: str = "results") -> list[str]:
    """Every file the ``tables`` target writes (tables, their sidecars, index, paper comparison)."""
    out = []
    for nn in table_inputs(config, results):
        out += [f"{results}/tables/table{nn}.{ext}" for ext in ("csv", "md", "tex", "meta.json")]
    out.append(f"{results}/tables/index.md")
    if compare_with_paper(config):
        out.append(f"{results}/tables/paper_comparison.md")
    return out


def comparison_inputs(config: Mapping[str, Any], results: str = "results") -> dict[str, list[str]]:
    """Inputs of ``paper_comparison.md``: our table csvs and the main models' collected tests."""
    if not compare_with_paper(config):
        return {}
    planned = table_inputs(config, results)
    out = {"tables": [f"{results}/tables/table{nn}.csv" for nn in _compared(planned)]}
    for nn, kind in (("01", "pairs"), ("02", "triples")):
        if nn in planned:
            out[kind] = list(planned[nn]["tests"])
    return {k: v for k, v in out.items() if v}


def comparison_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """Params of the comparison: alpha, task families and the table numbers of ``tables`` inputs."""
    planned = table_inputs(config)
    return {"alpha": float(config["stats"]["alpha"]),
            "families": {t: task_family(config, t) for t in sorted(config["tasks"])},
            "tables": _compared(planned)}


def _compared(planned: Mapping[str, Any]) -> list[str]:
    """Planned tables (not 1-2, compared from the tests) that have a published counterpart."""
    published = paper_tables()["tables"]
    return [nn for nn in planned if nn not in ("01", "02") and int(nn) in published]


def report_plots(config: Mapping[str, Any], results: str = "results") -> list[str]:
    """The report figures the config allows (per model; pair figures with 2+ tasks; STL vs MTL
    only with the train stage)."""
    out = []
    for m in sorted(config["models"]):
        out += [f"{results}/plots/{m}/pvi_violin.png", f"{results}/plots/{m}/vinfo.png",
                f"{results}/plots/{m}/groups.png"]
        if len(model_tasks(config, m)) >= 2:
            out += [f"{results}/plots/{m}/pair_pvalues.png",
                    f"{results}/plots/{m}/pvi_forest.png",
                    f"{results}/plots/{m}/sensitivity.png"]
        if stage_configured(config, "train"):
            out.append(f"{results}/plots/{m}/stl_mtl.png")
    out.append(f"{results}/plots/label_distributions.png")
    return out


def compare_with_paper(config: Mapping[str, Any]) -> bool:
    """Whether ``paper_comparison.md`` is written: ``tables.compare_paper`` (auto = when at least
    two configured task ids are the paper's)."""
    mode = (config.get("tables") or {}).get("compare_paper", "auto")
    if mode == "never":
        return False
    if mode == "always":
        return True
    return len(set(config["tasks"]) & set(paper_task_names())) >= 2


# --------------------------------------------------------------------------- formatting
def fmt_num(x: Any, decimals: int = 3) -> str:
    """Fixed-point text, ``-`` for a missing value."""
    if x is None or (isinstance(x, float) and math.isnan(x)) or pd.isna(x):
        return "-"
    return f"{float(x):.{decimals}f}"


def fmt_ci(mean: Any, ci: Any, decimals: int = 3) -> str:
    """``0.806 (± 0.128)`` as printed in the paper; the CI part is left out when missing."""
    if mean is None or pd.isna(mean):
        return "-"
    if ci is None or pd.isna(ci):
        return fmt_num(mean, decimals)
    return f"{fmt_num(mean, decimals)} (± {fmt_num(ci, decimals)})"


def fmt_p(p: Any) -> str:
    """p-values with 3 decimals, scientific notation below 0.001."""
    if p is None or pd.isna(p):
        return "-"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def group_label(gid: str, names: Mapping[str, str]) -> str:
    return " + ".join(names.get(t, t) for t in gid.split(SEP))


# --------------------------------------------------------------------------- frames (pure)
def _require(df: pd.DataFrame, cols: Sequence[str], path: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise PvigroupError(f"{path}: missing column(s) {', '.join(missing)} "
                            f"(has {', '.join(map(str, df.columns))})")


def accepted_tests(tests: pd.DataFrame, alpha: float) -> pd.Series:
    """p > alpha on ``pvalue_adj`` when the file has it (a correction was configured), else ``pvalue``."""
    p = tests["pvalue_adj"] if "pvalue_adj" in tests.columns else tests["pvalue"]
    return p.astype(float) > alpha


#: Effect-size columns of Tables 1 (pairs) and 2 (groups of 3+), after the paper's columns.
PAIR_EFFECT_COLUMNS = ["mean_diff", "mean_diff_lo", "mean_diff_hi", "hedges_g"]
GROUP_EFFECT_COLUMNS = ["eta2", "omega2"]
_BOOT_COLUMNS = ["mean_diff_boot_lo", "mean_diff_boot_hi"]


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
        _require(df, ["group", "statistic", "pvalue"], f"collected tests of model {model}")
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


def fmt_diff_ci(diff: Any, lo: Any, hi: Any, decimals: int = 3) -> str:
    """``-0.107 [-0.239, 0.024]``: a difference with its interval; ``-`` when missing."""
    if diff is None or pd.isna(diff):
        return "-"
    if lo is None or hi is None or pd.isna(lo) or pd.isna(hi):
        return fmt_num(diff, decimals)
    return f"{fmt_num(diff, decimals)} [{fmt_num(lo, decimals)}, {fmt_num(hi, decimals)}]"


STL_MTL_COLUMNS = ["stl_acc", "stl_acc_ci", "stl_f1", "stl_f1_ci",
                   "mtl_acc", "mtl_acc_ci", "mtl_f1", "mtl_f1_ci"]


def stl_mtl_frame(aggregate: pd.DataFrame, source: str, tasks: Sequence[str],
                  path: str = "aggregate.tsv",
                  listed: Sequence[Sequence[str]] = ()) -> pd.DataFrame:
    """One row per (MTL group, member task): the task's STL and MTL mean and CI.

    The groups are first ``listed`` (task lists, e.g. the paper's groups in ``grouping.manual``;
    their ``manual`` rows), in that order with their tasks in the listed order; then the other
    groups of ``source`` whose tasks are all in ``tasks``, by size then id, tasks in id order.
    A group in both is shown once, where it is listed.
    """
    _require(aggregate, ["kind", "source", "group", "task", "n_seeds", "acc_mean", "acc_ci",
                         "f1_mean", "f1_ci"], path)
    stl = aggregate[aggregate["kind"] == "stl"].drop_duplicates("task").set_index("task")
    is_mtl = aggregate["kind"] == "mtl"
    listed_ids = {group_id(g): list(g) for g in listed}
    mtl = aggregate[is_mtl & ((aggregate["source"] == source)
                              | ((aggregate["source"] == "manual")
                                 & aggregate["group"].isin(listed_ids)))]
    mtl = mtl.drop_duplicates(["group", "task"])
    allowed = set(tasks)
    missing = [g for g in listed_ids if g not in set(mtl["group"])]
    if missing:
        raise PvigroupError(f"{path}: listed MTL group(s) {', '.join(missing)} have no rows "
                            "(grouping.manual groups are trained when train.sources has manual)")
    rest = sorted({g for g in mtl["group"] if set(g.split(SEP)) <= allowed} - set(listed_ids),
                  key=lambda g: (len(g.split(SEP)), g))
    order = [(g, members) for g, members in listed_ids.items()] + [
        (g, g.split(SEP)) for g in rest]
    rows = []
    for g, members in order:
        part = mtl[mtl["group"] == g].set_index("task")
        for task in members:
            if task not in part.index:
                raise PvigroupError(f"{path}: MTL group {g} has no row for its task {task}")
            m = part.loc[task]
            s = stl.loc[task] if task in stl.index else None
            rows.append({
                "group": g, "task": task,
                "stl_acc": s["acc_mean"] if s is not None else float("nan"),
                "stl_acc_ci": s["acc_ci"] if s is not None else float("nan"),
                "stl_f1": s["f1_mean"] if s is not None else float("nan"),
                "stl_f1_ci": s["f1_ci"] if s is not None else float("nan"),
                "mtl_acc": m["acc_mean"], "mtl_acc_ci": m["acc_ci"],
                "mtl_f1": m["f1_mean"], "mtl_f1_ci": m["f1_ci"],
                "stl_n_seeds": int(s["n_seeds"]) if s is not None else 0,
                "mtl_n_seeds": int(m["n_seeds"]),
            })
    cols = ["group", "task", *STL_MTL_COLUMNS, "stl_n_seeds", "mtl_n_seeds"]
    out = pd.DataFrame(rows, columns=cols)
    for c in STL_MTL_COLUMNS:
        out[c] = out[c].astype(float)
    return out


def llm_frame(df: pd.DataFrame, tasks: Sequence[str], path: str = "llm table") -> pd.DataFrame:
    """Rows of the LLM table whose task is in ``tasks`` (ci columns kept when present)."""
    _require(df, ["task", "model", "accuracy", "macro_f1"], path)
    df = df.rename(columns={"acc_ci": "accuracy_ci", "f1_ci": "macro_f1_ci"})
    cols = ["task", "model", "accuracy"] + (["accuracy_ci"] if "accuracy_ci" in df else []) + \
        ["macro_f1"] + (["macro_f1_ci"] if "macro_f1_ci" in df else [])
    order = {t: i for i, t in enumerate(tasks)}
    out = df[df["task"].isin(order)][cols].copy()
    out["_o"] = out["task"].map(order)
    return out.sort_values(["_o", "model"], kind="stable").drop(columns="_o").reset_index(drop=True)


def datasets_frame(task_info: Mapping[str, Mapping[str, Any]], domains: Mapping[str, str],
                   descriptions: Mapping[str, str]) -> pd.DataFrame:
    """Table 9: per task its domain, split sizes, description and number of classes."""
    rows = []
    for task, info in task_info.items():
        n = info.get("n") or {}
        rows.append({"task": task, "domain": domains.get(task, "general"),
                     "train": int(n.get("train", 0)), "dev": int(n.get("dev", 0)),
                     "test": int(n.get("test", 0)), "description": descriptions.get(task, ""),
                     "classes": len(info.get("labels") or [])})
    return pd.DataFrame(rows, columns=["task", "domain", "train", "dev", "test", "description",
                                       "classes"])


def label_counts_frame(counts: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Table 10: per task and label, the count in each split (labels in label-id order)."""
    frames = []
    for task, df in counts.items():
        _require(df, ["split", "label", "label_name", "count"], f"label_counts.tsv of {task}")
        wide = (df.pivot_table(index=["label", "label_name"], columns="split", values="count",
                               aggfunc="sum", fill_value=0)
                .reindex(columns=["train", "dev", "test"], fill_value=0)
                .reset_index().sort_values("label"))
        wide.insert(0, "task", task)
        frames.append(wide)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["task", "label", "label_name", "train", "dev", "test"])
    out.columns.name = None
    for c in ("label", "train", "dev", "test"):
        out[c] = out[c].astype("int64")
    return out[["task", "label", "label_name", "train", "dev", "test"]]


BASELINE_COLUMNS = ["group", "task", "ours_acc", "ours_acc_ci", "ours_f1", "ours_f1_ci",
                    "base_acc", "base_acc_ci", "base_f1", "base_f1_ci"]


def baseline_frame(df: pd.DataFrame, tasks: Sequence[str], path: str = "comparison.tsv") -> pd.DataFrame:
    """Rows of a baselines ``comparison.tsv`` whose task is in ``tasks``, in file order."""
    _require(df, BASELINE_COLUMNS, path)
    out = df[df["task"].isin(set(tasks))][BASELINE_COLUMNS].reset_index(drop=True)
    for c in BASELINE_COLUMNS[2:]:
        out[c] = out[c].astype(float)
    return out


METHODS_COLUMNS = ["model", "source", "n_groups", "f1_gain", "f1_gain_lo", "f1_gain_hi",
                   "acc_gain", "acc_gain_lo", "acc_gain_hi", "f1_share_positive",
                   "f1_share_ci_above_0", "cost_job_seconds", "cost_gpu_hours_est"]


def methods_frame(methods: Mapping[str, tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """The rows of every model's ``methods.tsv`` (model to (path, frame)), in model order."""
    frames = []
    for _model, (path, df) in methods.items():
        _require(df, METHODS_COLUMNS, path)
        frames.append(df[METHODS_COLUMNS])
    if not frames:
        return pd.DataFrame(columns=METHODS_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def fmt_share(share: Any, n: Any) -> str:
    """``2/3`` from a share of ``n`` groups; ``-`` without groups."""
    if pd.isna(share) or not n:
        return "-"
    return f"{round(float(share) * int(n))}/{int(n)}"


# --------------------------------------------------------------------------- building tables
def _caption(n: int, s: Mapping[str, Any]) -> str:
    fam = FAMILY_TEXT.get(s.get("family") or "", "")
    model = s.get("model", "")
    alpha = s["alpha"]
    if n == 1:
        return (f"Task groups (size 2) whose PVI distributions are not significantly different "
                f"(p > {alpha:g}); model(s): {', '.join(s['models'])}. Effect sizes after the "
                f"paper's columns: mean PVI difference (first task minus second, bits) with its "
                f"95% t interval, and Hedges' g.")
    if n == 2:
        return (f"Task groups (size > 2) whose PVI distributions are not significantly different "
                f"(p > {alpha:g}); model(s): {', '.join(s['models'])}. Effect sizes after the "
                f"paper's columns: η² and ω² from the one-way ANOVA sums of squares.")
    if s["kind"] == "stl_mtl":
        kind = "similar" if s["source"] == "pvi-similar" else "significantly different"
        return (f"STL vs MTL on the test split for task groups with {kind} PVI estimates, "
                f"{fam} tasks; mean (± 95% CI half-width) over seeds. Both fine-tuned from "
                f"{model} ({s['pretrained']}).")
    if s["kind"] == "llm":
        return f"Few-shot LLM performance on the {fam} tasks (test split)."
    if n == 9:
        return "Datasets: domain, train/dev/test sizes, description and number of classes."
    if n == 10:
        return "Label distribution of each dataset (instances per split)."
    if s["kind"] == "methods":
        return ("Grouping methods side by side: per model and source of MTL groups, the groups "
                "trained, the mean MTL − STL gain over the groups (each group's gain the mean "
                "over its tasks, paired by seed) with its 95% t interval over groups, the share "
                "of groups with a positive macro-F1 gain and with a 95% seed interval above 0, "
                "and the cost of computing the grouping: job-seconds measured from the "
                "benchmark files, GPU-hours estimated (- where not available).")
    if s["kind"] == "baseline":
        return (f"Our PVI grouping vs the {BASELINE_TEXT[s['method']]} grouping on the {fam} "
                f"tasks; mean (± 95% CI half-width). Both fine-tuned from {model} "
                f"({s['pretrained']}).")
    raise ValueError(f"no caption for table {n}")


def build_table(n: int, frames: Mapping[str, Any], settings: Mapping[str, Any],
                prov: Mapping[str, Any]) -> Table:
    """Turn the frames read for table ``n`` into a :class:`Table` (pure).

    ``frames`` holds what :func:`read_table_inputs` returns: ``tests`` (model to frame),
    ``aggregate``, ``llm``, ``task_info``/``label_counts`` (task to content) or ``comparison``.
    """
    names = settings["names"]
    d = int(settings.get("decimals", 3))
    kind = settings["kind"]
    caption = _caption(n, settings)
    note = ""
    if kind == "group_tests":
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
        if data.empty:
            note = f"No group has p > {settings['alpha']:g}."
    elif kind == "stl_mtl":
        data = stl_mtl_frame(frames["aggregate"], settings["source"], settings["tasks"],
                             frames.get("aggregate_path", "aggregate.tsv"),
                             listed=settings.get("listed") or ())
        header = ["Task group", "Task", "STL acc.", "STL F1", "MTL acc.", "MTL F1"]
        # a listed group is labelled in its listed order (the paper's "CB + Causal Language")
        labels = {group_id(g): " + ".join(names.get(t, t) for t in g)
                  for g in settings.get("listed") or ()}
        rows = [[labels.get(r.group) or group_label(r.group, names), names.get(r.task, r.task),
                 fmt_ci(r.stl_acc, r.stl_acc_ci, d), fmt_ci(r.stl_f1, r.stl_f1_ci, d),
                 fmt_ci(r.mtl_acc, r.mtl_acc_ci, d), fmt_ci(r.mtl_f1, r.mtl_f1_ci, d)]
                for r in data.itertuples()]
        if data.empty:
            note = f"No {settings['source']} group was trained for these tasks."
    elif kind == "llm":
        data = llm_frame(frames["llm"], settings["tasks"], frames.get("llm_path", "llm table"))
        header = ["Dataset", "Model", "Acc.", "F1"]
        rows = []
        prev = None
        for r in data.to_dict("records"):
            label = names.get(r["task"], r["task"]) if r["task"] != prev else ""
            prev = r["task"]
            rows.append([label, str(r["model"]), fmt_ci(r["accuracy"], r.get("accuracy_ci"), d),
                         fmt_ci(r["macro_f1"], r.get("macro_f1_ci"), d)])
    elif kind == "datasets":
        data = datasets_frame(frames["task_info"], settings["domains"], settings["descriptions"])
        header = ["Dataset", "Domain", "Train", "Dev", "Test", "Type of task", "Classes"]
        rows = [[names.get(r.task, r.task), r.domain.capitalize(), str(r.train), str(r.dev),
                 str(r.test), r.description, str(r.classes)] for r in data.itertuples()]
    elif kind == "label_counts":
        data = label_counts_frame(frames["label_counts"])
        header = ["Task", "Label", "Train", "Dev", "Test"]
        rows, prev = [], None
        for r in data.itertuples():
            rows.append([names.get(r.task, r.task) if r.task != prev else "", str(r.label_name),
                         str(r.train), str(r.dev), str(r.test)])
            prev = r.task
    elif kind == "baseline":
        data = baseline_frame(frames["comparison"], settings["tasks"],
                              frames.get("comparison_path", "comparison.tsv"))
        base = BASELINE_TEXT[settings["method"]]
        header = ["Task group", "Task", "Ours acc.", "Ours F1", f"{base} acc.", f"{base} F1"]
        rows = [[group_label(r.group, names), names.get(r.task, r.task),
                 fmt_ci(r.ours_acc, r.ours_acc_ci, d), fmt_ci(r.ours_f1, r.ours_f1_ci, d),
                 fmt_ci(r.base_acc, r.base_acc_ci, d), fmt_ci(r.base_f1, r.base_f1_ci, d)]
                for r in data.itertuples()]
    elif kind == "methods":
        data = methods_frame(frames["methods"])
        header = ["Model", "Source", "Groups", "F1 gain [95% CI]", "Acc. gain [95% CI]",
                  "F1 gain > 0", "F1 CI > 0", "Job-s", "GPU-h (est.)"]
        rows = [[r.model, r.source, str(r.n_groups),
                 fmt_diff_ci(r.f1_gain, r.f1_gain_lo, r.f1_gain_hi, d),
                 fmt_diff_ci(r.acc_gain, r.acc_gain_lo, r.acc_gain_hi, d),
                 fmt_share(r.f1_share_positive, r.n_groups),
                 fmt_share(r.f1_share_ci_above_0, r.n_groups), fmt_num(r.cost_job_seconds, 0),
                 fmt_num(r.cost_gpu_hours_est, 2)] for r in data.itertuples()]
        if data.empty or not (data["n_groups"] > 0).any():
            note = "No MTL group was trained."
    else:
        raise ValueError(f"unknown table kind {kind!r}")
    return Table(n, caption, data, header, rows, footer_text(prov), note)


def read_table_inputs(inputs: Mapping[str, Sequence[str]], settings: Mapping[str, Any]) -> dict[str, Any]:
    """Read the files of one table (named as in :func:`table_inputs`)."""
    kind = settings["kind"]
    frames: dict[str, Any] = {}
    if kind == "group_tests":
        paths = list(inputs["tests"])
        frames["tests"] = {m: _read_tests(p)
                           for m, p in zip(settings["models"], paths, strict=True)}
    elif kind == "stl_mtl":
        frames["aggregate_path"] = str(inputs["aggregate"][0])
        frames["aggregate"] = read_tsv(inputs["aggregate"][0])
    elif kind == "llm":
        frames["llm_path"] = str(inputs["llm"][0])
        frames["llm"] = read_tsv(inputs["llm"][0])
    elif kind == "datasets":
        frames["task_info"] = {t: read_json(p) for t, p in
                               zip(settings["tasks"], inputs["files"], strict=True)}
    elif kind == "label_counts":
        frames["label_counts"] = {t: read_tsv(p) for t, p in
                                  zip(settings["tasks"], inputs["files"], strict=True)}
    elif kind == "methods":
        frames["methods"] = {m: (str(p), read_tsv(p))
                             for m, p in zip(settings["models"], inputs["methods"], strict=True)}
    elif kind == "baseline":
        frames["comparison_path"] = str(inputs["comparison"][0])
        frames["comparison"] = read_tsv(inputs["comparison"][0])
    return frames


# --------------------------------------------------------------------------- rendering
def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(table: Table) -> str:
    """A pipe table with its caption above and the provenance footer below."""
    lines = [f"**Table {table.number}.** {table.caption}", ""]
    lines.append("| " + " | ".join(_md_cell(h) for h in table.header) + " |")
    lines.append("|" + "|".join("---" for _ in table.header) + "|")
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
    if table.note:
        lines += ["", table.note]
    lines += ["", f"<sub>{table.footer}</sub>", ""]
    return "\n".join(lines)


_TEX_ESCAPE = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
               "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
               "^": r"\textasciicircum{}", "±": r"$\pm$",
               "η": r"$\eta$", "ω": r"$\omega$", "²": r"\textsuperscript{2}", "′": r"$'$"}


def tex_escape(text: str) -> str:
    return "".join(_TEX_ESCAPE.get(ch, ch) for ch in str(text))


def render_latex(table: Table) -> str:
    """A ``table`` environment (booktabs) with caption, label and a footnote-size provenance line."""
    spec = "l" * 2 + "r" * (len(table.header) - 2) if len(table.header) > 2 else "l" * len(table.header)
    lines = [r"\begin{table}[ht]", r"\centering", r"\small",
             f"\\begin{{tabular}}{{{spec}}}", r"\toprule",
             " & ".join(tex_escape(h) for h in table.header) + r" \\", r"\midrule"]
    lines += [" & ".join(tex_escape(c) for c in row) + r" \\" for row in table.rows]
    if table.note:
        lines.append(f"\\multicolumn{{{len(table.header)}}}{{l}}{{{tex_escape(table.note)}}} \\\\")
    lines += [r"\bottomrule", r"\end{tabular}",
              f"\\caption{{{tex_escape(table.caption)}}}",
              f"\\label{{tab:pvigroup-{table.number:02d}}}",
              f"\\par\\smallskip{{\\tiny {tex_escape(table.footer)}}}",
              r"\end{table}", ""]
    return "\n".join(lines)


def write_table(table: Table, csv: str | Path, md: str | Path, tex: str | Path,
                meta: str | Path, prov: Mapping[str, Any],
                inputs: Mapping[str, Sequence[str]] | None = None) -> None:
    """Write the csv (+ ``meta.json`` sidecar), markdown and LaTeX files of ``table``."""
    for p in (csv, md, tex, meta):
        Path(p).parent.mkdir(parents=True, exist_ok=True)
    table.data.to_csv(csv, index=False, float_format="%.6g", lineterminator="\n")
    Path(md).write_text(render_markdown(table))
    Path(tex).write_text(render_latex(table))
    hashes = {}
    for name, paths in sorted((inputs or {}).items()):
        for p in paths:
            hashes[f"{name}:{Path(p).as_posix()}"] = fingerprint_file(p)
    write_json({"table": table.number, "caption": table.caption, "columns": list(table.data.columns),
                "rows": len(table.data), **prov, "inputs_sha256": hashes}, meta)


def make_table(*, number: int, inputs: Mapping[str, Sequence[str]], settings: Mapping[str, Any],
               prov: Mapping[str, Any], csv: str, md: str, tex: str, meta: str) -> Table:
    """Read, build and write one paper table (the ``make_table`` rule)."""
    frames = read_table_inputs(inputs, settings)
    table = build_table(number, frames, settings, prov)
    write_table(table, csv, md, tex, meta, prov, inputs)
    log.info("table %02d: %d row(s) -> %s", number, len(table.data), csv)
    return table


def write_index(plans: Sequence[Mapping[str, Any]], prov: Mapping[str, Any], out: str | Path) -> None:
    """``index.md``: every table written or skipped (with the reason); one log line per skip.

    ``plans`` are ``{"number", "skip"}`` mappings (from :func:`plan_summary`).
    """
    lines = ["# Tables", "", "| table | status |", "|---|---|"]
    for p in plans:
        nn = f"{int(p['number']):02d}"
        if p["skip"]:
            log.info("table %s skipped: %s", nn, p["skip"])
            lines.append(f"| {nn} | skipped: {_md_cell(p['skip'])} |")
        else:
            lines.append(f"| {nn} | [table{nn}.md](table{nn}.md) |")
    lines += ["", f"<sub>{footer_text(prov)}</sub>", ""]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text("\n".join(lines))


def plan_summary(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``[{"number", "skip"}]`` for every table, a small params value for ``make_table_index``."""
    return [{"number": p.number, "skip": p.skip} for p in plan_tables(config)]


# --------------------------------------------------------------------------- the paper
@cache
def paper_tables() -> dict[str, Any]:
    """The published tables (``pvigroup/published/paper_tables.yaml``)."""
    text = resources.files("pvigroup").joinpath("published/paper_tables.yaml").read_text()
    return yaml.safe_load(text)


def paper_task_names() -> dict[str, str]:
    """Paper task id to the name the paper prints (``health-advice`` to ``Health Advice``)."""
    return {t: v[0] for t, v in paper_tables()["tasks"].items()}


def paper_frame(number: int) -> pd.DataFrame:
    """One published table as a frame (groups as ids, i.e. sorted and joined by ``__``)."""
    spec = paper_tables()["tables"].get(number)
    if spec is None:
        raise PvigroupError(f"paper_tables.yaml: table {number} is not transcribed")
    df = pd.DataFrame(spec["rows"], columns=spec["columns"])
    if "group" in df.columns:
        df["group_order"] = df["group"].map(lambda g: ",".join(g) if g else "")
        df["group"] = df["group"].map(lambda g: group_id(g) if g else None)
    return df


def compare_group_tests(ours: pd.DataFrame, number: int, alpha: float,
                        families: Mapping[str, str]) -> pd.DataFrame:
    """Our tests vs Table 1 or 2, one row per group either side tested or published.

    The paper tested every group within a domain family (its models never crossed families);
    a group in the paper's family that is absent from its table was rejected there.

    Parameters
    ----------
    ours
        collected tests (all of them, accepted or not) with ``group``, ``statistic``, ``pvalue``.
    number
        1 (pairs) or 2 (groups of three or more).
    alpha
        our significance level.
    families
        task id to family, for the configured tasks.
    """
    paper = paper_frame(number)
    pfam = {t: FAMILY_OF_DOMAIN[v[1]] for t, v in paper_tables()["tasks"].items()}
    size_ok = (lambda k: k == 2) if number == 1 else (lambda k: k >= 3)
    ours = ours[ours["group"].map(lambda g: size_ok(len(g.split(SEP))))].copy()
    ours = ours.assign(ours_accepted=accepted_tests(ours, alpha))
    rows = []
    published = paper.set_index("group")
    for r in ours.itertuples():
        tasks = r.group.split(SEP)
        if not all(t in pfam for t in tasks) or len({pfam[t] for t in tasks}) != 1:
            continue  # the paper never tested this group
        p = published.loc[r.group] if r.group in published.index else None
        rows.append({"group": r.group, "ours_statistic": r.statistic, "ours_pvalue": r.pvalue,
                     "paper_statistic": p["statistic"] if p is not None else float("nan"),
                     "paper_pvalue": p["pvalue"] if p is not None else float("nan"),
                     "ours_accepted": bool(r.ours_accepted), "paper_accepted": p is not None})
    tested = {r["group"] for r in rows}
    for g, p in published.iterrows():
        if g not in tested and all(t in families for t in g.split(SEP)):
            rows.append({"group": g, "ours_statistic": float("nan"), "ours_pvalue": float("nan"),
                         "paper_statistic": p["statistic"], "paper_pvalue": p["pvalue"],
                         "ours_accepted": None, "paper_accepted": True})
    cols = ["group", "ours_statistic", "paper_statistic", "diff_abs_statistic", "ours_pvalue",
            "paper_pvalue", "diff_pvalue", "ours_accepted", "paper_accepted", "agree"]
    out = pd.DataFrame(rows, columns=[c for c in cols if c not in
                                      ("diff_abs_statistic", "diff_pvalue", "agree")])
    out["diff_abs_statistic"] = out["ours_statistic"].abs() - out["paper_statistic"].abs()
    out["diff_pvalue"] = out["ours_pvalue"] - out["paper_pvalue"]
    out["agree"] = [None if o is None or pd.isna(o) else bool(o) == bool(p)
                    for o, p in zip(out["ours_accepted"], out["paper_accepted"], strict=True)]
    return out[cols].sort_values("group", kind="stable").reset_index(drop=True)


def compare_stl_mtl(ours: pd.DataFrame, number: int,
                    tasks: Sequence[str] | None = None) -> pd.DataFrame:
    """Our Table 3-6/15-16 rows next to the paper's, matched on (group, task); ours - paper.

    Published groups with a task outside ``tasks`` (the configured ones) are left out.
    """
    paper = paper_frame(number)
    if tasks is not None:
        paper = paper[paper["group"].map(lambda g: set(g.split(SEP)) <= set(tasks))]
    metrics = ["stl_acc", "stl_f1", "mtl_acc", "mtl_f1"]
    left = ours[["group", "task", *metrics]] if not ours.empty else pd.DataFrame(
        columns=["group", "task", *metrics])
    merged = paper[["group", "task", *metrics]].merge(
        left, on=["group", "task"], how="outer", suffixes=("_paper", "_ours"), sort=False)
    for m in metrics:
        merged[f"{m}_diff"] = merged[f"{m}_ours"].astype(float) - merged[f"{m}_paper"].astype(float)
    return merged


def compare_llm(ours: pd.DataFrame, number: int, tasks: Sequence[str] | None = None) -> pd.DataFrame:
    """Our LLM rows next to the paper's, matched on (task, model name, case-insensitive)."""
    paper = paper_frame(number).assign(key=lambda d: d["model"].str.lower())
    if tasks is not None:
        paper = paper[paper["task"].isin(set(tasks))]
    left = ours.assign(key=ours["model"].astype(str).str.lower())[
        ["task", "key", "model", "accuracy", "macro_f1"]]
    merged = paper[["task", "key", "model", "accuracy", "macro_f1"]].merge(
        left, on=["task", "key"], how="outer", suffixes=("_paper", "_ours"), sort=False)
    merged["model"] = merged["model_paper"].fillna(merged["model_ours"])
    for m in ("accuracy", "macro_f1"):
        merged[f"{m}_diff"] = merged[f"{m}_ours"] - merged[f"{m}_paper"]
    return merged.drop(columns=["key", "model_paper", "model_ours"])


def compare_datasets(ours: pd.DataFrame) -> pd.DataFrame:
    """Our Table 9 sizes next to the paper's, per task; ours - paper."""
    paper = paper_frame(9)
    cols = ["train", "dev", "test", "classes"]
    merged = paper[["task", *cols]].merge(ours[["task", *cols]], on="task", how="inner",
                                          suffixes=("_paper", "_ours"))
    for c in cols:
        merged[f"{c}_diff"] = merged[f"{c}_ours"] - merged[f"{c}_paper"]
    return merged


def _fmt_frame(df: pd.DataFrame, decimals: int = 3) -> list[str]:
    out = df.copy()
    for c in out.columns:
        if out[c].dtype.kind == "f":
            if c.endswith("_diff") or c.startswith("diff_"):
                out[c] = out[c].map(lambda v: "-" if pd.isna(v) else f"{v:+.{decimals}f}")
            else:
                out[c] = out[c].map(lambda v: "-" if pd.isna(v) else f"{v:.{decimals}f}")
        else:
            out[c] = out[c].map(lambda v: "-" if v is None or (not isinstance(v, str) and pd.isna(v))
                                else ("yes" if v is True else "no" if v is False else str(v)))
    lines = ["| " + " | ".join(out.columns) + " |", "|" + "|".join("---" for _ in out.columns) + "|"]
    lines += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in out.itertuples(index=False)]
    return lines


def paper_comparison(*, tables: Mapping[str, str], tests: Mapping[str, Sequence[str]],
                     settings: Mapping[str, Any], prov: Mapping[str, Any], out: str | Path) -> str:
    """Write ``paper_comparison.md``: our tables next to the published ones.

    Parameters
    ----------
    tables
        two-digit table number to our ``table{NN}.csv`` (those the config produced).
    tests
        ``pairs``/``triples`` to the collected test files of the main models (all tests, so a
        group the paper accepted and we rejected shows up).
    settings
        ``alpha``, ``families`` (task id to family) and ``models`` (main model keys).
    """
    alpha = float(settings["alpha"])
    published = paper_tables()
    lines = ["# Comparison with the published tables", "",
             f"Paper: {published['paper']['title']} (arXiv:{published['paper']['arxiv']}). "
             f"Differences are ours - paper. Our models: "
             + ", ".join(f"{k} ({v})" for k, v in prov["models"].items()) + ".", ""]
    for number, kind in ((1, "pairs"), (2, "triples")):
        files = list(tests.get(kind) or [])
        if not files:
            lines += [f"## Table {number}", "", "Not compared: no collected tests.", ""]
            continue
        ours = pd.concat([_read_tests(p) for p in files], ignore_index=True)
        cmp = compare_group_tests(ours, number, alpha, settings["families"])
        decided = cmp[cmp["agree"].notna()]
        n_agree = int(decided["agree"].astype(bool).sum())
        lines += [f"## Table {number}: accept/reject decisions (p > {alpha:g})", "",
                  (f"Decisions agree on {n_agree} of {len(decided)} groups tested on both "
                   f"sides (paper: p > {published['paper']['alpha']:g}; the sign of t depends "
                   "on task order, so statistics are compared by absolute value)."), ""]
        lines += _fmt_frame(cmp) if not cmp.empty else ["No group of the paper's tasks was tested."]
        lines.append("")
    for nn, path in sorted(tables.items()):
        number = int(nn)
        if number in (1, 2) or number not in published["tables"]:
            continue
        ours = pd.read_csv(path, keep_default_na=False, na_values=[""])
        spec = published["tables"][number]
        if spec["kind"] == "stl_mtl":
            cmp = compare_stl_mtl(ours, number, list(settings["families"]))
        elif spec["kind"] == "llm":
            cmp = compare_llm(ours, number, list(settings["families"]))
        elif number == 9:
            cmp = compare_datasets(ours)
        else:
            continue
        ours_rows = cmp.filter(like="_ours").notna().any(axis=1).sum()
        lines += [f"## Table {number}", "",
                  f"Paper model: {spec.get('model', '-')}. {ours_rows} of {len(cmp)} rows matched.",
                  ""]
        lines += _fmt_frame(cmp)
        lines.append("")
    lines += [f"<sub>{footer_text(prov)}</sub>", ""]
    text = "\n".join(lines)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(text)
    log.info("paper comparison -> %s", out)
    return text
