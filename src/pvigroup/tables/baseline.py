"""Tables 11-14: our PVI grouping vs the TaskEmb or surrogate-model grouping on a family's tasks,
from ``results/baselines/{method}/{model}/comparison.tsv``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from pvigroup.tables.config import baseline_methods, family_model_settings, stage_configured
from pvigroup.tables.formatting import fmt_ci, group_label
from pvigroup.tables.inputs import read_single, require_columns
from pvigroup.tables.spec import FAMILY_TEXT, Built, TableKind, TablePlan, TableSpec, skip

BASELINE_TEXT = {"taskemb": "TaskEmb", "surrogate": "surrogate models"}
BASELINE_COLUMNS = ["group", "task", "ours_acc", "ours_acc_ci", "ours_f1", "ours_f1_ci",
                    "base_acc", "base_acc_ci", "base_f1", "base_f1_ci"]


def baseline_frame(df: pd.DataFrame, tasks: Sequence[str], path: str = "comparison.tsv") -> pd.DataFrame:
    """Rows of a baselines ``comparison.tsv`` whose task is in ``tasks``, in file order."""
    require_columns(df, BASELINE_COLUMNS, path)
    out = df[df["task"].isin(set(tasks))][BASELINE_COLUMNS].reset_index(drop=True)
    for c in BASELINE_COLUMNS[2:]:
        out[c] = out[c].astype(float)
    return out


def plan(config: Mapping[str, Any], spec: TableSpec, results: str,
         base: dict[str, Any]) -> TablePlan:
    n = spec.number
    settings = family_model_settings(config, spec, base)
    if isinstance(settings, TablePlan):
        return settings
    if not stage_configured(config, "train"):
        return skip(n, "the train stage is off (train.enabled: false): no baseline groups trained")
    if spec.method not in baseline_methods(config):
        return skip(n, f"the {spec.method} baseline is not configured (baselines section)")
    model = settings["model"]
    return TablePlan(
        n, {"comparison": [f"{results}/baselines/{spec.method}/{model}/comparison.tsv"]},
        {**settings, "method": spec.method})


def read(inputs: Mapping[str, Sequence[str]], settings: Mapping[str, Any]) -> dict[str, Any]:
    return read_single(inputs, "comparison")


def build(frames: Mapping[str, Any], settings: Mapping[str, Any]) -> Built:
    names = settings["names"]
    d = int(settings.get("decimals", 3))
    data = baseline_frame(frames["comparison"], settings["tasks"],
                          frames.get("comparison_path", "comparison.tsv"))
    base = BASELINE_TEXT[settings["method"]]
    header = ["Task group", "Task", "Ours acc.", "Ours F1", f"{base} acc.", f"{base} F1"]
    rows = [[group_label(r.group, names), names.get(r.task, r.task),
             fmt_ci(r.ours_acc, r.ours_acc_ci, d), fmt_ci(r.ours_f1, r.ours_f1_ci, d),
             fmt_ci(r.base_acc, r.base_acc_ci, d), fmt_ci(r.base_f1, r.base_f1_ci, d)]
            for r in data.itertuples()]
    return Built(data, header, rows)


def caption(s: Mapping[str, Any]) -> str:
    fam = FAMILY_TEXT.get(s.get("family") or "", "")
    return (f"Our PVI grouping vs the {BASELINE_TEXT[s['method']]} grouping on the {fam} "
            f"tasks; mean (± 95% CI half-width). Both fine-tuned from {s.get('model', '')} "
            f"({s['pretrained']}).")


KIND = TableKind("baseline", plan, read, build, caption)
