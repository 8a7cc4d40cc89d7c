"""The rule's function: read, validate, split and check one task, and write its prepared files."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from pvigroup.data.canonical import _check_unique_ids, canonical_split
from pvigroup.data.options import COLUMNS, MIN_HELD_OUT_PER_CLASS, SPLITS, task_options
from pvigroup.data.sources import read_source
from pvigroup.data.splitting import (
    _Split,
    apply_split_policy,
    check_splits,
    label_counts,
    subsample,
)
from pvigroup.io import fingerprint_file, fingerprint_frame, write_json, write_parquet, write_tsv

log = logging.getLogger(__name__)


def prepare_task(
    name: str, task: Mapping[str, Any], out_dir: str | Path, *, base_dir: str | Path = "."
) -> dict[str, Any]:
    """Read, validate and split one task, and write its prepared files.

    Parameters
    ----------
    name : str
        The task id.
    task : mapping
        The task's config entry (schema defaults filled; missing optional keys take them too).
    out_dir : path
        Receives ``train.parquet``, ``dev.parquet``, ``test.parquet``, ``task.json`` and
        ``label_counts.tsv``.
    base_dir : path
        Relative source paths resolve against it.

    Returns
    -------
    dict
        The content of ``task.json``.

    Raises
    ------
    PvigroupError
        On any problem with the config entry or the data, before anything is written.

    Notes
    -----
    Rows keep a fixed order (by prepared split, then source split, then source row), so the same
    input gives byte-identical files. A row's id never depends on the split or subsample.
    """
    opts = task_options(name, task)
    sources = read_source(name, task, base_dir)
    frames: dict[str, pd.DataFrame] = {}
    for src in sources:
        frame = canonical_split(src, opts)
        frame["_rank"] = SPLITS.index(src.role)
        frames[src.role] = frame
    _check_unique_ids(name, sources, frames)
    wheres = {src.role: src.where for src in sources}
    policy, splits = apply_split_policy(
        frames,
        wheres,
        dev_fraction=opts.dev_fraction,
        seed=opts.split_seed,
        stratify=opts.stratify,
    )
    for stream, split in enumerate(SPLITS):
        part = splits[split]
        limit = opts.max_rows[split]
        sub = subsample(
            part.frame,
            limit,
            seed=opts.max_rows_seed,
            stream=10 + stream,
            min_per_class=1 if split == "train" else MIN_HELD_OUT_PER_CLASS,
        )
        origin = part.origin if sub is part.frame else f"{part.origin}, max_rows {limit}"
        sub = sub.sort_values(["_rank", "_row"], kind="stable").reset_index(drop=True)
        splits[split] = _Split(sub, origin)
    check_splits(name, splits, opts)

    out_dir = Path(out_dir)
    prepared = {s: splits[s].frame.loc[:, list(COLUMNS)] for s in SPLITS}
    fingerprints = {s: fingerprint_frame(prepared[s]) for s in SPLITS}
    counts = label_counts(prepared, opts.label_names)
    info = {
        "task": name,
        "labels": list(opts.label_names),
        "label_values": list(opts.label_values),
        "pair": opts.pair,
        "private": bool(task.get("private", False)),
        "domain": task.get("domain", "general"),
        "description": task.get("description", ""),
        "text_fields": [str(f) for f in opts.text_fields],
        "text_format": None if opts.text_format is None else list(opts.text_format),
        "label_field": str(opts.label_field),
        "id_field": None if opts.id_field is None else str(opts.id_field),
        "n": {s: len(prepared[s]) for s in SPLITS},
        "fingerprint": fingerprints,
        "label_counts": {
            s: {r.label_name: int(r.count) for r in counts[counts["split"] == s].itertuples()}
            for s in SPLITS
        },
        "split_policy": policy,
        "split": {
            "dev_fraction": opts.dev_fraction,
            "seed": opts.split_seed,
            "stratify": opts.stratify,
        },
        "max_rows": {**opts.max_rows, "seed": opts.max_rows_seed},
        "source": _source_record(task.get("source") or {}, Path(base_dir)),
    }
    for s in SPLITS:
        write_parquet(
            prepared[s],
            out_dir / f"{s}.parquet",
            {"task": name, "split": s, "fingerprint": fingerprints[s]},
        )
    write_tsv(counts, out_dir / "label_counts.tsv")
    write_json(info, out_dir / "task.json")
    log.info(
        "task %s: %s split policy, train/dev/test = %d/%d/%d rows, %d labels",
        name,
        policy,
        *(len(prepared[s]) for s in SPLITS),
        len(opts.label_values),
    )
    return json.loads(json.dumps(info, default=str))



def _source_record(source: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """The source as configured, plus the sha256 of each local file (provenance)."""
    record = json.loads(json.dumps(source, default=str))
    files = source.get("files")
    if files:
        record["sha256"] = {
            role: fingerprint_file(Path(p) if Path(p).is_absolute() else base / p)
            for role, p in files.items()
            if p
        }
    return record
