"""Per-instance diagnostics from PVI: suspect labels, their scores against known flips, and
the train/dev/test overlap found at preparation (see :mod:`pvigroup.diagnostics.core`).

Outputs per model ``m`` and task ``t`` (``results/diagnostics/m/``): ``t.suspects.tsv``,
``t.json``, ``t.pvi_by_correct.png``, ``t.html``; per model ``summary.tsv`` and
``negative_share.png``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from pvigroup.demo import flip_record
from pvigroup.diagnostics.core import (
    auroc,
    check_flips,
    flip_scores,
    flipped_ids,
    precision_at,
    ranked_instances,
    suspects,
    task_diagnostics,
    truncate,
)
from pvigroup.diagnostics.report import plot_pvi_by_correct, summarise, summary_frame, task_page
from pvigroup.errors import PvigroupError
from pvigroup.io import read_json

__all__ = [
    "auroc", "check_flips", "flip_records", "flip_scores", "flipped_ids", "plot_pvi_by_correct",
    "precision_at", "print_suspects", "ranked_instances", "summarise", "summary_frame",
    "suspects", "targets", "task_diagnostics", "task_files", "task_page", "truncate",
]

ROOT = "results/diagnostics"


def flip_records(task: Mapping[str, Any]) -> dict[str, str]:
    """Source role to the flip record of each of a task's source files that is a noisy twin
    made by the workflow (``pvigroup.demo.flip_record``); empty for any other task."""
    files = (task.get("source") or {}).get("files") or {}
    out = {}
    for role, path in sorted(files.items()):
        record = flip_record(path) if path else None
        if record is not None:
            out[role] = str(record)
    return out


def task_files(model: str, task: str) -> dict[str, str]:
    """The diagnostics files of one task and model."""
    base = f"{ROOT}/{model}/{task}"
    return {"suspects": f"{base}.suspects.tsv", "json": f"{base}.json",
            "figure": f"{base}.pvi_by_correct.png", "page": f"{base}.html"}


def targets(config: Mapping[str, Any]) -> list[str]:
    """Every diagnostics output of the config (none when ``diagnostics.enabled`` is false)."""
    if not (config.get("diagnostics") or {}).get("enabled", True):
        return []
    from pvigroup.workflow import model_tasks

    out = []
    for model in sorted(config["models"]):
        for task in model_tasks(config, model):
            out += list(task_files(model, task).values())
        out += [f"{ROOT}/{model}/summary.tsv", f"{ROOT}/{model}/negative_share.png"]
    return out


def print_suspects(model: str, task: str, *, results: str | Path = "results", n: int = 20,
                   text_chars: int = 80) -> pd.DataFrame:
    """The ``n`` lowest-PVI instances of a task, read from the PVI and prepared parquet files
    (no Snakemake needed): what ``pvigroup suspects`` prints."""
    results = Path(results)
    info_path = results / "data" / task / "task.json"
    pvi = results / "pvi" / model / f"{task}.parquet"
    if not pvi.is_file():
        raise PvigroupError(f"{pvi}: file not found (run the PVI stage: snakemake pvi)")
    info = read_json(info_path)
    from pvigroup.io import read_meta

    split = read_meta(pvi).get("split") or "dev"
    ranked = ranked_instances(pvi, results / "data" / task / f"{split}.parquet", info)
    return suspects(ranked, max_rows=n, max_pvi=None, text_chars=text_chars,
                    pair=bool(info.get("pair")))
