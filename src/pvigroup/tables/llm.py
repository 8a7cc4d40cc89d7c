"""Tables 7 and 8: few-shot LLM performance on a family's tasks, from
``results/llm/table07.tsv`` / ``table08.tsv``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from pvigroup.tables.config import family_tasks, stage_configured
from pvigroup.tables.formatting import fmt_ci
from pvigroup.tables.inputs import read_single, require_columns
from pvigroup.tables.spec import FAMILY_TEXT, Built, TableKind, TablePlan, TableSpec, skip


def llm_frame(df: pd.DataFrame, tasks: Sequence[str], path: str = "llm table") -> pd.DataFrame:
    """Rows of the LLM table whose task is in ``tasks`` (ci columns kept when present)."""
    require_columns(df, ["task", "model", "accuracy", "macro_f1"], path)
    df = df.rename(columns={"acc_ci": "accuracy_ci", "f1_ci": "macro_f1_ci"})
    cols = ["task", "model", "accuracy"] + (["accuracy_ci"] if "accuracy_ci" in df else []) + \
        ["macro_f1"] + (["macro_f1_ci"] if "macro_f1_ci" in df else [])
    order = {t: i for i, t in enumerate(tasks)}
    out = df[df["task"].isin(order)][cols].copy()
    out["_o"] = out["task"].map(order)
    return out.sort_values(["_o", "model"], kind="stable").drop(columns="_o").reset_index(drop=True)


def plan(config: Mapping[str, Any], spec: TableSpec, results: str,
         base: dict[str, Any]) -> TablePlan:
    tasks = family_tasks(config, spec)
    if isinstance(tasks, TablePlan):
        return tasks
    if not stage_configured(config, "llm"):
        return skip(spec.number, "the llm stage is not configured (llm.models lists no LLM)")
    return TablePlan(spec.number, {"llm": [f"{results}/llm/table{spec.number:02d}.tsv"]},
                     {**base, "tasks": tasks})


def read(inputs: Mapping[str, Sequence[str]], settings: Mapping[str, Any]) -> dict[str, Any]:
    return read_single(inputs, "llm")


def build(frames: Mapping[str, Any], settings: Mapping[str, Any]) -> Built:
    names = settings["names"]
    d = int(settings.get("decimals", 3))
    data = llm_frame(frames["llm"], settings["tasks"], frames.get("llm_path", "llm table"))
    header = ["Dataset", "Model", "Acc.", "F1"]
    rows = []
    prev = None
    for r in data.to_dict("records"):
        label = names.get(r["task"], r["task"]) if r["task"] != prev else ""
        prev = r["task"]
        rows.append([label, str(r["model"]), fmt_ci(r["accuracy"], r.get("accuracy_ci"), d),
                     fmt_ci(r["macro_f1"], r.get("macro_f1_ci"), d)])
    return Built(data, header, rows)


def caption(s: Mapping[str, Any]) -> str:
    return f"Few-shot LLM performance on the {FAMILY_TEXT.get(s.get('family') or '', '')} tasks (test split)."


KIND = TableKind("llm", plan, read, build, caption)
