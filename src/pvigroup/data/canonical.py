"""Validation of a source split and its canonical prepared layout (ids, texts, label ids)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from pvigroup.data.options import _SHOWN, TaskOptions, format_fields, render_format, value_text
from pvigroup.data.sources import SourceSplit
from pvigroup.errors import PvigroupError


def _column(frame: pd.DataFrame, field: Any, *, task: str, src: SourceSplit, what: str) -> Any:
    """The frame column matching ``field`` compared as text; an error lists the fields there are."""
    for column in frame.columns:
        if str(column) == str(field):
            return column
    fields = [str(c) for c in frame.columns]
    raise PvigroupError(
        f"task '{task}': {src.where}: {what} field '{field}' not found; "
        f"the file has fields: {', '.join(fields) if fields else '(none)'}"
    )


def _row_error(
    task: str, src: SourceSplit, ids: Sequence[str], bad: np.ndarray, message: str
) -> None:
    """Raise for the first row in ``bad`` (0-based positions), saying how many rows are affected."""
    first = int(bad[0])
    more = f" ({len(bad)} rows have this problem; the first is shown)" if len(bad) > 1 else ""
    raise PvigroupError(
        f"task '{task}': {src.where}, {src.locate(first)} (id {ids[first]}): {message}{more}"
    )


def canonical_split(src: SourceSplit, opts: TaskOptions) -> pd.DataFrame:
    """Validate one source split and return it in the prepared layout (plus ``_row``).

    Parameters
    ----------
    src : SourceSplit
        The split as read.
    opts : TaskOptions
        The task's options.

    Returns
    -------
    pandas.DataFrame
        Columns ``id, text, text_pair, label, label_name, _row`` in source order (``_row`` is the
        0-based row index in the source).

    Raises
    ------
    PvigroupError
        A missing field, a missing or repeated id, an empty text, a missing label, or a label not
        among ``labels``; the message names task, file, row (line or id) and field.
    """
    frame = src.frame
    task = opts.name
    n = len(frame)
    if opts.text_format is None:
        text_cols = [_column(frame, f, task=task, src=src, what="text") for f in opts.text_fields]
    else:
        used = dict.fromkeys(f for fmt in opts.text_format for f in format_fields(fmt))
        format_cols = {f: _column(frame, f, task=task, src=src, what="text_format") for f in used}
    label_col = _column(frame, opts.label_field, task=task, src=src, what="label")
    if opts.id_field is not None:
        id_col = _column(frame, opts.id_field, task=task, src=src, what="id")
        id_values = [value_text(v) for v in frame[id_col].tolist()]
        ids = [v if v is not None else f"<missing, row {i + 1}>" for i, v in enumerate(id_values)]
        missing = np.flatnonzero([v is None or not v.strip() for v in id_values])
        if missing.size:
            _row_error(task, src, ids, missing, f"id field '{opts.id_field}' is empty")
        seen: dict[str, int] = {}
        for i, v in enumerate(id_values):
            if v in seen:
                raise PvigroupError(
                    f"task '{task}': {src.where}, {src.locate(i)} (id {v}): id field "
                    f"'{opts.id_field}' repeats the id of {src.locate(seen[v])}"
                )
            seen[v] = i
    else:
        ids = [f"{task}:{src.name}:{i}" for i in range(n)]

    texts = []
    if opts.text_format is None:
        for field, col in zip(opts.text_fields, text_cols, strict=True):
            values = [value_text(v) for v in frame[col].tolist()]
            empty = np.flatnonzero([v is None or not v.strip() for v in values])
            if empty.size:
                _row_error(task, src, ids, empty, f"text field '{field}' is empty or missing")
            texts.append(values)
    else:
        columns = {}
        for field, col in format_cols.items():
            values = [value_text(v) for v in frame[col].tolist()]
            missing_text = np.flatnonzero([v is None for v in values])
            if missing_text.size:
                _row_error(task, src, ids, missing_text, f"text_format field '{field}' is missing")
            columns[field] = values
        for k, fmt in enumerate(opts.text_format):
            fields = format_fields(fmt)
            values = [render_format(fmt, {f: columns[f][i] for f in fields}) for i in range(n)]
            empty = np.flatnonzero([not v.strip() for v in values])
            if empty.size:
                _row_error(task, src, ids, empty, f"text_format[{k}] {fmt!r} gives an empty text")
            texts.append(values)

    raw_labels = [value_text(v) for v in frame[label_col].tolist()]
    missing = np.flatnonzero([v is None for v in raw_labels])
    if missing.size:
        _row_error(task, src, ids, missing, f"label field '{opts.label_field}' is empty or missing")
    index = {v: k for k, v in enumerate(opts.label_values)}
    unknown = np.flatnonzero([v not in index for v in raw_labels])
    if unknown.size:
        allowed = list(opts.label_values)
        first = int(unknown[0])
        more = (
            f" ({unknown.size} rows have this problem; the first is shown)"
            if unknown.size > 1
            else ""
        )
        others = sorted({raw_labels[int(i)] for i in unknown})
        hint = (
            f" (-1 marks unlabelled rows in many datasets: if split '{src.name}' has no labels, "
            f"set source.hf.splits.{src.role}: null)"
            if "-1" in others and src.where.startswith("hf:")
            else ""
        )
        raise PvigroupError(
            f"task '{task}': {src.where}, {src.locate(first)} (id {ids[first]}): label field "
            f"'{opts.label_field}' has value '{raw_labels[first]}', not one of the labels {allowed}"
            f"{more}; unknown values: {others[:_SHOWN]}{hint}"
        )
    labels = np.array([index[v] for v in raw_labels], dtype=np.int64)
    return pd.DataFrame(
        {
            "id": pd.Series(ids, dtype="str"),
            "text": pd.Series(texts[0], dtype="str"),
            "text_pair": pd.Series(texts[1] if opts.pair else [None] * n, dtype="str"),
            "label": pd.Series(labels, dtype="int64"),
            "label_name": pd.Series([opts.label_names[k] for k in labels], dtype="str"),
            "_row": pd.Series(np.arange(n), dtype="int64"),
        }
    )


def _check_unique_ids(
    name: str, sources: Sequence[SourceSplit], frames: Mapping[str, pd.DataFrame]
) -> None:
    """Ids must be unique across the source's splits (within one split is checked on reading)."""
    seen: dict[str, tuple[SourceSplit, int]] = {}
    for src in sources:
        for i, ident in enumerate(frames[src.role]["id"].tolist()):
            if ident in seen:
                other, j = seen[ident]
                raise PvigroupError(
                    f"task '{name}': {src.where}, {src.locate(i)} (id {ident}): the id repeats "
                    f"{other.where}, {other.locate(j)}"
                )
            seen[ident] = (src, i)
