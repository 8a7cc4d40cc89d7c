"""Table 17 (not the paper's): the grouping methods side by side per model, from
``results/evaluation/{model}/methods.tsv`` (:mod:`pvigroup.evaluation`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from pvigroup.io import read_tsv
from pvigroup.tables.config import model_order, stage_configured
from pvigroup.tables.formatting import fmt_diff_ci, fmt_num, fmt_share
from pvigroup.tables.inputs import require_columns
from pvigroup.tables.spec import Built, TableKind, TablePlan, TableSpec, skip

METHODS_COLUMNS = ["model", "source", "n_groups", "f1_gain", "f1_gain_lo", "f1_gain_hi",
                   "acc_gain", "acc_gain_lo", "acc_gain_hi", "f1_share_positive",
                   "f1_share_ci_above_0", "cost_job_seconds", "cost_gpu_hours_est"]


def methods_frame(methods: Mapping[str, tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """The rows of every model's ``methods.tsv`` (model to (path, frame)), in model order."""
    frames = []
    for path, df in methods.values():
        require_columns(df, METHODS_COLUMNS, path)
        frames.append(df[METHODS_COLUMNS])
    if not frames:
        return pd.DataFrame(columns=METHODS_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def plan(config: Mapping[str, Any], spec: TableSpec, results: str,
         base: dict[str, Any]) -> TablePlan:
    if not stage_configured(config, "train"):
        return skip(spec.number, "the train stage is off (train.enabled: false): no group trained")
    models = model_order(config)
    return TablePlan(spec.number, {"methods": [f"{results}/evaluation/{m}/methods.tsv"
                                               for m in models]}, {**base, "models": models})


def read(inputs: Mapping[str, Sequence[str]], settings: Mapping[str, Any]) -> dict[str, Any]:
    return {"methods": {m: (str(p), read_tsv(p))
                        for m, p in zip(settings["models"], inputs["methods"], strict=True)}}


def build(frames: Mapping[str, Any], settings: Mapping[str, Any]) -> Built:
    d = int(settings.get("decimals", 3))
    data = methods_frame(frames["methods"])
    header = ["Model", "Source", "Groups", "F1 gain [95% CI]", "Acc. gain [95% CI]",
              "F1 gain > 0", "F1 CI > 0", "Job-s", "GPU-h (est.)"]
    rows = [[r.model, r.source, str(r.n_groups),
             fmt_diff_ci(r.f1_gain, r.f1_gain_lo, r.f1_gain_hi, d),
             fmt_diff_ci(r.acc_gain, r.acc_gain_lo, r.acc_gain_hi, d),
             fmt_share(r.f1_share_positive, r.n_groups),
             fmt_share(r.f1_share_ci_above_0, r.n_groups), fmt_num(r.cost_job_seconds, 0),
             fmt_num(r.cost_gpu_hours_est, 2)] for r in data.itertuples()]
    note = "No MTL group was trained." if data.empty or not (data["n_groups"] > 0).any() else ""
    return Built(data, header, rows, note)


def caption(s: Mapping[str, Any]) -> str:
    return ("Grouping methods side by side: per model and source of MTL groups, the groups "
            "trained, the mean MTL − STL gain over the groups (each group's gain the mean "
            "over its tasks, paired by seed) with its 95% t interval over groups, the share "
            "of groups with a positive macro-F1 gain and with a 95% seed interval above 0, "
            "and the cost of computing the grouping: job-seconds measured from the "
            "benchmark files, GPU-hours estimated (- where not available).")


KIND = TableKind("methods", plan, read, build, caption)
