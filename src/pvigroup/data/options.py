"""Task options: the data keys of a task entry (the schema's defaults) and text format functions."""

from __future__ import annotations

import math
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pvigroup.errors import PvigroupError

SPLITS = ("train", "dev", "test")
HELD_OUT = ("dev", "test")
COLUMNS = ("id", "text", "text_pair", "label", "label_name")
MIN_HELD_OUT_ROWS = 10
MIN_HELD_OUT_PER_CLASS = 2
_SHOWN = 8  # how many allowed values / fields an error message lists before eliding


# --------------------------------------------------------------------------------------------
# Options (the schema's defaults, so a partially filled entry behaves like a validated one)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TaskOptions:
    """The parts of a task entry that data preparation uses, with the schema's defaults."""

    name: str
    text_fields: tuple[Any, ...]
    text_format: tuple[str, ...] | None
    label_field: Any
    label_values: tuple[str, ...]
    label_names: tuple[str, ...]
    id_field: Any
    dev_fraction: float
    split_seed: int
    stratify: bool
    max_rows: Mapping[str, int | None]
    max_rows_seed: int
    drop_overlap: bool = False
    group_by: Any = None
    test_fraction: float | None = None

    @property
    def pair(self) -> bool:
        return len(self.text_format or self.text_fields) == 2


def task_options(name: str, task: Mapping[str, Any]) -> TaskOptions:
    """Read the data-related options of a task entry, checking what the schema cannot express.

    Parameters
    ----------
    name : str
        The task id (the key under ``tasks``).
    task : mapping
        The task entry; missing optional keys take the schema's defaults.

    Returns
    -------
    TaskOptions

    Raises
    ------
    PvigroupError
        When a required key is missing, ``labels`` repeat a value (compared as text),
        ``label_names`` does not match ``labels`` in length, ``text`` has not one or two fields,
        or ``split.dev_fraction`` is outside (0, 0.5).
    """
    key = f"tasks.{name}"
    for required in ("source", "text", "label", "labels"):
        if required not in task:
            raise PvigroupError(f"{key}: missing key '{required}'")
    text = task["text"]
    if isinstance(text, (str, int)):
        text = [text]
    if not 1 <= len(text) <= 2:
        raise PvigroupError(f"{key}.text: give one text field or two (a pair), got {len(text)}")
    text_format = task.get("text_format")
    if text_format is not None:
        if isinstance(text_format, str):
            text_format = [text_format]
        if not 1 <= len(text_format) <= 2:
            raise PvigroupError(
                f"{key}.text_format: give one format or two (a pair), got {len(text_format)}"
            )
        for k, fmt in enumerate(text_format):
            try:
                format_fields(fmt)
            except ValueError as err:
                raise PvigroupError(f"{key}.text_format[{k}]: bad format {fmt!r}: {err}") from None
        text_format = tuple(text_format)
    values = tuple(value_text(v) for v in task["labels"])
    if len(values) < 2:
        raise PvigroupError(f"{key}.labels: a task needs at least 2 labels, got {len(values)}")
    if any(v is None for v in values):
        raise PvigroupError(f"{key}.labels: a label value is null")
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise PvigroupError(f"{key}.labels: values repeat when compared as text: {repeated}")
    names = task.get("label_names")
    if names is None:
        names = values
    names = tuple(str(n) for n in names)
    if len(names) != len(values):
        raise PvigroupError(
            f"{key}.label_names: {len(names)} names for {len(values)} labels {list(values)}"
        )
    split = task.get("split") or {}
    frac = float(split.get("dev_fraction", 0.2))
    if not 0 < frac < 0.5:
        raise PvigroupError(f"{key}.split.dev_fraction: must be in (0, 0.5), got {frac}")
    test_frac = split.get("test_fraction")
    if test_frac is not None and not 0 < float(test_frac) < 0.5:
        raise PvigroupError(f"{key}.split.test_fraction: must be in (0, 0.5), got {test_frac}")
    max_rows = task.get("max_rows") or {}
    return TaskOptions(
        name=name,
        text_fields=tuple(text),
        text_format=text_format,
        label_field=task["label"],
        label_values=values,
        label_names=names,
        id_field=task.get("id_field"),
        dev_fraction=frac,
        split_seed=int(split.get("seed", 42)),
        stratify=bool(split.get("stratify", True)),
        max_rows={s: max_rows.get(s) for s in SPLITS},
        max_rows_seed=int(max_rows.get("seed", 42)),
        drop_overlap=bool(task.get("drop_overlap", False)),
        group_by=split.get("group_by"),
        test_fraction=None if test_frac is None else float(test_frac),
    )


def format_fields(fmt: str) -> list[str]:
    """The field names a ``text_format`` string refers to, in order of first use.

    Only plain names are allowed (``{premise}``, ``{0}``), optionally with a format spec;
    attribute and index access (``{a.b}``, ``{a[0]}``) and conversions are not.
    """
    names: list[str] = []
    for _, field, spec, conversion in string.Formatter().parse(fmt):
        if field is None:
            continue
        if field == "" or any(c in field for c in ".[]"):
            raise ValueError(f"use a plain field name in braces, not '{{{field}}}'")
        if conversion or (spec and "{" in spec):
            raise ValueError(f"no conversion or nested field in '{{{field}}}'")
        if field not in names:
            names.append(field)
    return names


def render_format(fmt: str, values: Mapping[str, str]) -> str:
    """Fill ``fmt`` (see :func:`format_fields`) from ``values`` (field name -> text)."""
    out = []
    for literal, field, spec, _ in string.Formatter().parse(fmt):
        out.append(literal)
        if field is not None:
            out.append(format(values[field], spec or ""))
    return "".join(out)


def value_text(value: Any) -> str | None:
    """A cell value as the text labels are compared by (``1``, ``1.0`` and ``"1"`` all give ``"1"``).

    Returns ``None`` for a missing value (None, NaN, ``pd.NA``).
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return None
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    return str(value)
