"""Which tables a config writes, from which files (decided from the config alone, so Snakemake
knows every input up front), and the other targets of the ``tables`` rule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pvigroup.tables.config import display_names, stage_configured, task_family
from pvigroup.tables.paper import paper_tables, paper_task_names
from pvigroup.tables.registry import SPECS, kind_of
from pvigroup.tables.spec import TablePlan, TableSpec, skip
from pvigroup.workflow import model_tasks


def _plan_one(config: Mapping[str, Any], spec: TableSpec, results: str) -> TablePlan:
    n = spec.number
    tables_cfg = config.get("tables") or {}
    if n in (tables_cfg.get("skip") or []):
        return skip(n, "listed in tables.skip")
    alpha = float(config["stats"]["alpha"])
    base = {"number": n, "kind": spec.kind, "family": spec.family, "alpha": alpha,
            "names": display_names(config),
            "families": {t: task_family(config, t) for t in sorted(config["tasks"])},
            "decimals": int(tables_cfg.get("decimals", 3))}
    return kind_of(spec.kind).plan(config, spec, results, base)


def plan_tables(config: Mapping[str, Any], results: str = "results") -> list[TablePlan]:
    """Every table (1-16, the paper's, and 17) for ``config``: inputs and settings, or the reason
    it is skipped."""
    return [_plan_one(config, spec, results) for spec in SPECS.values()]


def plan_summary(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``[{"number", "skip"}]`` for every table, a small params value for ``make_table_index``."""
    return [{"number": p.number, "skip": p.skip} for p in plan_tables(config)]


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


def compare_with_paper(config: Mapping[str, Any]) -> bool:
    """Whether ``paper_comparison.md`` is written: ``tables.compare_paper`` (auto = when at least
    two configured task ids are the paper's)."""
    mode = (config.get("tables") or {}).get("compare_paper", "auto")
    if mode == "never":
        return False
    if mode == "always":
        return True
    return len(set(config["tasks"]) & set(paper_task_names())) >= 2


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
