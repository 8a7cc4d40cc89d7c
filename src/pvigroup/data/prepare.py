"""The rule's function: read, validate, split and check one task, and write its prepared files."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from pvigroup.data.canonical import _check_unique_ids, canonical_split
from pvigroup.data.grouped import attach_groups, group_summary
from pvigroup.data.options import (
    COLUMNS,
    HELD_OUT,
    MIN_HELD_OUT_PER_CLASS,
    SPLITS,
    task_options,
)
from pvigroup.data.overlap import overlap_report, overlap_summary
from pvigroup.data.sources import SourceSplit, read_source
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
    name: str,
    task: Mapping[str, Any],
    out_dir: str | Path,
    *,
    base_dir: str | Path = ".",
    console: TextIO | None = None,
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
    console : text stream, optional
        Also write the WARNING lines here (the rule passes the job's console, whose log file
        gets every line anyway).

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

    ``task.json`` records under ``overlap`` the held-out rows that share text with train
    (:func:`pvigroup.data.overlap.overlap_report`, counted after subsampling, on the splits as
    written) and logs one WARNING line when there are any; with the task's ``drop_overlap`` the
    train rows sharing normalised text with dev or test are dropped (after subsampling, so
    switching it on only removes rows). A dev file without a test file is said at WARNING too.
    """
    handler = None
    if console is not None:
        handler = logging.StreamHandler(console)
        handler.setLevel(logging.WARNING)
        handler.setFormatter(logging.Formatter("pvigroup warning: %(message)s"))
        log.addHandler(handler)
    try:
        return _prepare(name, task, Path(out_dir), Path(base_dir))
    finally:
        if handler is not None:
            log.removeHandler(handler)


def _prepare(name: str, task: Mapping[str, Any], out_dir: Path, base_dir: Path) -> dict[str, Any]:
    opts = task_options(name, task)
    sources = read_source(name, task, base_dir)
    frames: dict[str, pd.DataFrame] = {}
    for src in sources:
        frame = canonical_split(src, opts)
        if opts.group_by is not None:
            frame = attach_groups(frame, src, opts.group_by, name)
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
        test_fraction=opts.test_fraction,
    )
    _say_policy(name, policy, task.get("source") or {}, opts.dev_fraction)
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
    private = bool(task.get("private", False))
    overlap, kept = overlap_report(
        splits["train"].frame,
        {s: splits[s].frame for s in HELD_OUT},
        private=private,
        drop=opts.drop_overlap,
        group_field=opts.group_by,
    )
    if overlap["dropped_from_train"]:
        dropped = overlap["dropped_from_train"]
        origin = f"{splits['train'].origin}, less {dropped} rows sharing text with dev or test"
        splits["train"] = _Split(kept, origin)
    check_splits(name, splits, opts)

    prepared = {s: splits[s].frame.loc[:, list(COLUMNS)] for s in SPLITS}
    fingerprints = {s: fingerprint_frame(prepared[s]) for s in SPLITS}
    counts = label_counts(prepared, opts.label_names)
    info = {
        "task": name,
        "labels": list(opts.label_names),
        "label_values": list(opts.label_values),
        "pair": opts.pair,
        "private": private,
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
            "test_fraction": opts.test_fraction,
            "seed": opts.split_seed,
            "stratify": opts.stratify,
            "group_by": None if opts.group_by is None else str(opts.group_by),
        },
        "groups": None
        if opts.group_by is None
        else group_summary(opts.group_by, {s: splits[s].frame for s in SPLITS}),
        "max_rows": {**opts.max_rows, "seed": opts.max_rows_seed},
        "source": _source_record(task.get("source") or {}, base_dir, sources),
        "overlap": overlap,
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
    summary = overlap_summary(name, overlap, {s: len(splits[s].frame) for s in HELD_OUT})
    if summary:
        log.warning("%s", summary)
    return json.loads(json.dumps(info, default=str))


def _say_policy(name: str, policy: str, source: Mapping[str, Any], dev_fraction: float) -> None:
    """Warn when a dev file comes without a test file: that file becomes the test set."""
    files = source.get("files") or {}
    if policy != "dev-as-test" or not files.get("dev"):
        return
    log.warning(
        "task %s: source.files has a dev file (%s) but no test file: %s becomes the test set and "
        "the dev (PVI) split is drawn from train (dev_fraction %g), the paper's split policy; "
        "give source.files.test as well to keep %s as dev",
        name,
        files["dev"],
        files["dev"],
        dev_fraction,
        files["dev"],
    )


def _source_record(
    source: Mapping[str, Any], base: Path, read: list[SourceSplit]
) -> dict[str, Any]:
    """The source as configured (a hub ``revision`` included), plus the sha256 of each local
    file, or for a hub dataset the commit its files came from (``resolved_revision``, null when
    the loader does not say: a local or saved dataset)."""
    record = json.loads(json.dumps(source, default=str))
    if "hf" in source:
        found = {s.revision for s in read}
        record["resolved_revision"] = found.pop() if len(found) == 1 else None
    files = source.get("files")
    if files:
        record["sha256"] = {
            role: fingerprint_file(Path(p) if Path(p).is_absolute() else base / p)
            for role, p in files.items()
            if p
        }
    return record
