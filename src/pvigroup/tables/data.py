"""Tables 9 (dataset sizes) and 10 (label distributions), from ``results/data/{task}/task.json``
and ``label_counts.tsv``: two kinds of one family, one row set per configured task."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from pvigroup.io import read_json, read_tsv
from pvigroup.tables.inputs import require_columns
from pvigroup.tables.spec import Built, TableKind, TablePlan, TableSpec


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
        require_columns(df, ["split", "label", "label_name", "count"], f"label_counts.tsv of {task}")
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


def _plan(file: str):
    def plan(config: Mapping[str, Any], spec: TableSpec, results: str,
             base: dict[str, Any]) -> TablePlan:
        tasks = sorted(config["tasks"])
        settings = {**base, "tasks": tasks,
                    "descriptions": {t: str(config["tasks"][t].get("description", ""))
                                     for t in tasks},
                    "domains": {t: config["tasks"][t].get("domain", "general") for t in tasks}}
        return TablePlan(spec.number, {"files": [f"{results}/data/{t}/{file}" for t in tasks]},
                         settings)
    return plan


def read_datasets(inputs: Mapping[str, Sequence[str]], settings: Mapping[str, Any]) -> dict[str, Any]:
    return {"task_info": {t: read_json(p)
                          for t, p in zip(settings["tasks"], inputs["files"], strict=True)}}


def read_label_counts(inputs: Mapping[str, Sequence[str]],
                      settings: Mapping[str, Any]) -> dict[str, Any]:
    return {"label_counts": {t: read_tsv(p)
                             for t, p in zip(settings["tasks"], inputs["files"], strict=True)}}


def build_datasets(frames: Mapping[str, Any], settings: Mapping[str, Any]) -> Built:
    names = settings["names"]
    data = datasets_frame(frames["task_info"], settings["domains"], settings["descriptions"])
    header = ["Dataset", "Domain", "Train", "Dev", "Test", "Type of task", "Classes"]
    rows = [[names.get(r.task, r.task), r.domain.capitalize(), str(r.train), str(r.dev),
             str(r.test), r.description, str(r.classes)] for r in data.itertuples()]
    return Built(data, header, rows)


def build_label_counts(frames: Mapping[str, Any], settings: Mapping[str, Any]) -> Built:
    names = settings["names"]
    data = label_counts_frame(frames["label_counts"])
    header = ["Task", "Label", "Train", "Dev", "Test"]
    rows, prev = [], None
    for r in data.itertuples():
        rows.append([names.get(r.task, r.task) if r.task != prev else "", str(r.label_name),
                     str(r.train), str(r.dev), str(r.test)])
        prev = r.task
    return Built(data, header, rows)


DATASETS = TableKind(
    "datasets", _plan("task.json"), read_datasets, build_datasets,
    lambda s: "Datasets: domain, train/dev/test sizes, description and number of classes.")
LABEL_COUNTS = TableKind(
    "label_counts", _plan("label_counts.tsv"), read_label_counts, build_label_counts,
    lambda s: "Label distribution of each dataset (instances per split).")
