"""Task data: read a task's source, validate it, apply the split policy and write prepared splits.

A task entry of the config (``tasks.<name>``, see ``$defs/task`` in the config schema) names a
source (local files or a Hugging Face dataset), its text field(s), its label field and the label
values. :func:`prepare_task` turns it into ``{out_dir}/{train,dev,test}.parquet``,
``task.json`` and ``label_counts.tsv`` (formats in ``docs/architecture.md``).

Split policy (the paper's, footnote 2: the original dev set is the test set and the original
train set is split into train/dev), by which labelled splits the source has:

========================  ================================================================
source splits             prepared splits
========================  ================================================================
train, dev, test          used as they are
train, dev                test = source dev; train -> train + dev (``dev_fraction`` of train)
train, test               test = source test; train -> train + dev (``dev_fraction`` of train)
train                     train -> train + dev + test (dev and test each ``dev_fraction`` of
                          all rows, test drawn first)
========================  ================================================================

Every draw is stratified by label (unless ``split.stratify`` is false) and seeded. Nothing is
ever dropped silently: a row that cannot be used is an error naming the task, the file, the row
and the field.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from pvigroup.errors import PvigroupError
from pvigroup.io import fingerprint_file, fingerprint_frame, write_json, write_parquet, write_tsv

log = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")
HELD_OUT = ("dev", "test")
COLUMNS = ("id", "text", "text_pair", "label", "label_name")
MIN_HELD_OUT_ROWS = 10
MIN_HELD_OUT_PER_CLASS = 2
SUFFIX_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
HF_DEFAULT_SPLITS = {"train": "train", "dev": "validation", "test": None}
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


# --------------------------------------------------------------------------------------------
# Reading sources
# --------------------------------------------------------------------------------------------
@dataclass
class SourceSplit:
    """One labelled split of a task's source, as read, before validation.

    Attributes
    ----------
    role : {"train", "dev", "test"}
        What the split is in the source.
    name : str
        The split's name in ids: the role for files, the split name for Hugging Face datasets.
    where : str
        How error messages name it: the file path as configured, or ``hf:<id> split <name>``.
    frame : pandas.DataFrame
        The rows in source order.
    locate : callable
        ``locate(i)`` names row ``i`` (0-based) for messages: ``"line 7"`` or ``"row 7"``.
    """

    role: str
    name: str
    where: str
    frame: pd.DataFrame
    locate: Callable[[int], str]


def _row_locator(i: int) -> str:
    return f"row {i + 1}"


def detect_format(path: str | Path, fmt: str = "auto") -> str:
    """The file format of ``path``: ``fmt`` unless it is ``auto``, else from the suffix."""
    if fmt != "auto":
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIX_FORMATS:
        raise PvigroupError(
            f"{path}: cannot tell the format from the suffix '{suffix}' "
            f"(known: {', '.join(sorted(SUFFIX_FORMATS))}); set source.format"
        )
    return SUFFIX_FORMATS[suffix]


def read_table(
    path: str | Path, fmt: str = "auto", *, header: bool = True, encoding: str = "utf-8-sig"
) -> tuple[pd.DataFrame, Callable[[int], str]]:
    """Read one data file as written, every csv/tsv cell as text.

    Parameters
    ----------
    path : path
        The file.
    fmt : {"auto", "csv", "tsv", "jsonl", "parquet"}
        ``auto`` takes the format from the suffix.
    header : bool
        csv/tsv only: the first record names the columns; otherwise they are named 0, 1, ...
    encoding : str
        Text encoding of csv/tsv/jsonl (``utf-8-sig`` reads utf-8 with or without a BOM).

    Returns
    -------
    frame : pandas.DataFrame
        Rows in file order; an empty csv/tsv cell is NaN.
    locate : callable
        Maps a 0-based row index to ``"line N"`` (csv, tsv, jsonl; 1-based physical line where the
        record starts) or ``"row N"`` (parquet).

    Notes
    -----
    tsv is read without quote processing (the GLUE convention): a ``"`` is part of the text.
    """
    path = Path(path)
    if not path.is_file():
        raise PvigroupError(f"{path}: file does not exist")
    fmt = detect_format(path, fmt)
    if fmt in ("csv", "tsv"):
        sep = "," if fmt == "csv" else "\t"
        quoting = csv.QUOTE_MINIMAL if fmt == "csv" else csv.QUOTE_NONE
        try:
            frame = pd.read_csv(
                path,
                sep=sep,
                header=0 if header else None,
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                encoding=encoding,
                quoting=quoting,
            )
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
            raise PvigroupError(f"{path}: cannot be read as {fmt}: {err}") from None
        except UnicodeDecodeError as err:
            raise PvigroupError(
                f"{path}: not valid {encoding} ({err}); set source.encoding"
            ) from None
        return frame, _csv_locator(path, sep, quoting, header, encoding)
    if fmt == "jsonl":
        return _read_jsonl(path, encoding)
    if fmt == "parquet":
        try:
            frame = pd.read_parquet(path)
        except (OSError, ValueError, pa.ArrowException) as err:
            raise PvigroupError(f"{path}: cannot be read as parquet: {err}") from None
        return frame, _row_locator
    raise PvigroupError(f"{path}: unknown format '{fmt}'")


def _csv_locator(
    path: Path, sep: str, quoting: int, header: bool, encoding: str
) -> Callable[[int], str]:
    """A locator computing physical start lines of csv records, only when an error needs one."""
    starts: list[int] = []

    def locate(i: int) -> str:
        if not starts:
            with path.open(encoding=encoding, newline="") as fh:
                reader = csv.reader(fh, delimiter=sep, quoting=quoting)
                previous = 0
                for record in reader:
                    if record:  # pandas skips blank lines
                        starts.append(previous + 1)
                    previous = reader.line_num
            if header and starts:
                starts.pop(0)
        return f"line {starts[i]}" if i < len(starts) else f"row {i + 1}"

    return locate


def _read_jsonl(path: Path, encoding: str) -> tuple[pd.DataFrame, Callable[[int], str]]:
    records: list[dict[str, Any]] = []
    lines: list[int] = []
    try:
        with path.open(encoding=encoding) as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as err:
                    raise PvigroupError(f"{path}, line {number}: not valid JSON ({err})") from None
                if not isinstance(obj, dict):
                    raise PvigroupError(
                        f"{path}, line {number}: expected a JSON object, got {type(obj).__name__}"
                    )
                records.append(obj)
                lines.append(number)
    except UnicodeDecodeError as err:
        raise PvigroupError(f"{path}: not valid {encoding} ({err}); set source.encoding") from None
    frame = pd.DataFrame.from_records(records)
    return frame, lambda i: f"line {lines[i]}"


def read_source(
    name: str, task: Mapping[str, Any], base_dir: str | Path = "."
) -> list[SourceSplit]:
    """Read the labelled splits of a task's source (files or Hugging Face), in role order.

    Parameters
    ----------
    name : str
        The task id, for messages.
    task : mapping
        The task entry (``source`` is used).
    base_dir : path
        Relative file paths (and a relative local dataset directory) resolve against it.

    Returns
    -------
    list of SourceSplit
        ``train`` first, then ``dev`` and ``test`` where the source has them.
    """
    source = task.get("source") or {}
    base = Path(base_dir)
    has_files, has_hf = "files" in source, "hf" in source
    if has_files == has_hf:
        raise PvigroupError(f"tasks.{name}.source: give exactly one of 'files' or 'hf'")
    if has_files:
        return _read_files(name, source, base)
    return _read_hf(name, source["hf"], base)


def _read_files(name: str, source: Mapping[str, Any], base: Path) -> list[SourceSplit]:
    files = source["files"] or {}
    if not files.get("train"):
        raise PvigroupError(f"tasks.{name}.source.files.train: a task needs a training file")
    out = []
    for role in SPLITS:
        given = files.get(role)
        if not given:
            continue
        path = Path(given)
        if not path.is_absolute():
            path = base / path
        if not path.is_file():
            raise PvigroupError(
                f"task '{name}': source.files.{role}: file {given} does not exist (looked at {path})"
            )
        frame, locate = read_table(
            path,
            source.get("format", "auto"),
            header=source.get("header", True),
            encoding=source.get("encoding", "utf-8-sig"),
        )
        out.append(SourceSplit(role=role, name=role, where=str(given), frame=frame, locate=locate))
    return out


def _read_hf(name: str, hf: Mapping[str, Any], base: Path) -> list[SourceSplit]:
    import datasets  # heavy: imported only for Hugging Face sources

    key = f"tasks.{name}.source.hf"
    ident = hf.get("id")
    if not ident:
        raise PvigroupError(f"{key}.id: missing")
    splits = {**HF_DEFAULT_SPLITS, **(hf.get("splits") or {})}
    if not splits.get("train"):
        raise PvigroupError(f"{key}.splits.train: a task needs a training split")
    local = Path(ident) if Path(ident).is_absolute() else base / ident
    data_files = hf.get("data_files")
    if data_files is not None:
        data_files = _resolve_data_files(data_files, base)
    try:
        if local.is_dir() and (
            (local / "dataset_dict.json").is_file() or (local / "state.json").is_file()
        ):
            loaded = datasets.load_from_disk(str(local))
        else:
            path = str(local) if local.exists() else ident
            loaded = datasets.load_dataset(
                path, hf.get("name"), revision=hf.get("revision"), data_files=data_files
            )
    except Exception as err:  # noqa: BLE001 - datasets raises many types, all "cannot load"
        raise PvigroupError(
            f"task '{name}': {key}: cannot load dataset '{ident}'"
            f"{' (' + hf['name'] + ')' if hf.get('name') else ''}: {type(err).__name__}: {err}. "
            "Offline, the dataset must be a local directory or already in the Hugging Face cache."
        ) from None
    if isinstance(loaded, datasets.Dataset):
        loaded = datasets.DatasetDict({"train": loaded})
    out = []
    for role in SPLITS:
        split = splits.get(role)
        if not split:
            continue
        if split not in loaded:
            raise PvigroupError(
                f"task '{name}': {key}.splits.{role}: split '{split}' not in dataset '{ident}' "
                f"(it has {sorted(loaded)})"
            )
        frame = loaded[split].to_pandas()
        out.append(
            SourceSplit(
                role=role,
                name=split,
                where=f"hf:{ident} split {split}",
                frame=frame,
                locate=_row_locator,
            )
        )
    return out


def _resolve_data_files(data_files: Any, base: Path) -> Any:
    def one(p: str) -> str:
        return p if Path(p).is_absolute() else str(base / p)

    if isinstance(data_files, str):
        return one(data_files)
    if isinstance(data_files, Mapping):
        return {k: _resolve_data_files(v, base) for k, v in data_files.items()}
    return [one(p) for p in data_files]


# --------------------------------------------------------------------------------------------
# Validation and the canonical frame
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# Splitting and subsampling (pure)
# --------------------------------------------------------------------------------------------
def _rng(seed: int, *stream: int) -> np.random.Generator:
    """A generator for ``seed`` and a fixed stream number (any integer seed, negative included)."""
    return np.random.default_rng([seed % 2**64, *stream])


def allocate(counts: Sequence[int], k: int, *, min_per_class: int = 1) -> np.ndarray:
    """Split ``k`` draws among classes in proportion to their ``counts`` (largest remainder).

    Each class with rows gets at least ``min(min_per_class, count)`` draws when ``k`` allows it
    for every class, and never more than its count.

    Parameters
    ----------
    counts : sequence of int
        Rows per class.
    k : int
        Draws in all (capped at the total).
    min_per_class : int
        Floor per non-empty class, applied only when every class can get it.

    Returns
    -------
    numpy.ndarray of int64
        Draws per class, summing to ``min(k, sum(counts))``.
    """
    n_c = np.asarray(counts, dtype=np.int64)
    total = int(n_c.sum())
    k = min(int(k), total)
    if k <= 0 or total == 0:
        return np.zeros_like(n_c)
    quota = k * n_c / total
    alloc = np.floor(quota).astype(np.int64)
    floor = np.minimum(min_per_class, n_c)
    if floor.sum() <= k:
        alloc = np.maximum(alloc, floor)
    else:
        floor = np.zeros_like(n_c)
    while alloc.sum() > k:  # only after raising to the floor: take from the most over-served
        room = np.where(alloc > floor, alloc - quota, -np.inf)
        alloc[int(np.argmax(room))] -= 1
    while alloc.sum() < k:  # largest remainder first; ties go to the earlier class
        room = np.where(alloc < n_c, quota - alloc, -np.inf)
        alloc[int(np.argmax(room))] += 1
    return alloc


def stratified_pick(
    labels: Sequence[int] | np.ndarray,
    k: int,
    *,
    rng: np.random.Generator,
    stratify: bool = True,
    min_per_class: int = 1,
) -> np.ndarray:
    """Positions of ``k`` rows drawn without replacement, stratified by label.

    Parameters
    ----------
    labels : array of int
        Label id of each row.
    k : int
        Rows to draw (all rows when ``k`` is at least their number).
    rng : numpy.random.Generator
        Source of randomness (seeded by the caller).
    stratify : bool
        Keep class proportions (per :func:`allocate`); otherwise a uniform draw.
    min_per_class : int
        See :func:`allocate`.

    Returns
    -------
    numpy.ndarray of int64
        Sorted positions of the drawn rows.
    """
    labels = np.asarray(labels)
    n = len(labels)
    if k >= n:
        return np.arange(n, dtype=np.int64)
    if not stratify:
        return np.sort(rng.permutation(n)[:k]).astype(np.int64)
    classes = np.unique(labels)
    members = [np.flatnonzero(labels == c) for c in classes]
    alloc = allocate([len(m) for m in members], k, min_per_class=min_per_class)
    picked = [rng.permutation(m)[:a] for m, a in zip(members, alloc, strict=True)]
    return np.sort(np.concatenate(picked)).astype(np.int64)


def split_policy(roles: Sequence[str]) -> str:
    """Name of the split policy for a source with labelled splits ``roles`` (see module docs)."""
    present = set(roles)
    if "train" not in present:
        raise PvigroupError("a task's source needs a training split")
    if {"dev", "test"} <= present:
        return "given"
    if "dev" in present:
        return "dev-as-test"
    if "test" in present:
        return "split-train-dev"
    return "split-train-dev-test"


@dataclass
class _Split:
    frame: pd.DataFrame
    origin: str  # for messages: where the rows come from


def apply_split_policy(
    frames: Mapping[str, pd.DataFrame],
    wheres: Mapping[str, str],
    *,
    dev_fraction: float,
    seed: int,
    stratify: bool = True,
) -> tuple[str, dict[str, _Split]]:
    """Turn the source's labelled splits (by role) into train/dev/test.

    Returns the policy name (:func:`split_policy`) and, per prepared split, its rows (the source
    frames' rows, source order kept) and a description of their origin for messages.
    """
    policy = split_policy(list(frames))
    train = frames["train"]
    if policy == "given":
        return policy, {s: _Split(frames[s], wheres[s]) for s in SPLITS}

    def carve(frame: pd.DataFrame, k: int, stream: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        pick = stratified_pick(
            frame["label"].to_numpy(), k, rng=_rng(seed, stream), stratify=stratify
        )
        mask = np.zeros(len(frame), dtype=bool)
        mask[pick] = True
        return frame[~mask].reset_index(drop=True), frame[mask].reset_index(drop=True)

    frac_txt = f"dev_fraction {dev_fraction:g}"
    if policy in ("dev-as-test", "split-train-dev"):
        test_role = "dev" if policy == "dev-as-test" else "test"
        rest, dev = carve(train, round(dev_fraction * len(train)), 1)
        return policy, {
            "train": _Split(rest, f"{wheres['train']} (less the dev rows)"),
            "dev": _Split(dev, f"{wheres['train']} ({frac_txt} of it)"),
            "test": _Split(frames[test_role], wheres[test_role]),
        }
    k = round(dev_fraction * len(train))
    rest, test = carve(train, k, 2)
    rest, dev = carve(rest, k, 3)
    return policy, {
        "train": _Split(rest, f"{wheres['train']} (less the dev and test rows)"),
        "dev": _Split(dev, f"{wheres['train']} ({frac_txt} of it)"),
        "test": _Split(test, f"{wheres['train']} ({frac_txt} of it)"),
    }


def subsample(
    frame: pd.DataFrame, max_rows: int | None, *, seed: int, stream: int, min_per_class: int = 1
) -> pd.DataFrame:
    """At most ``max_rows`` rows of ``frame`` (seeded, stratified by ``label``), order kept."""
    if max_rows is None or len(frame) <= max_rows:
        return frame
    pick = stratified_pick(
        frame["label"].to_numpy(), max_rows, rng=_rng(seed, stream), min_per_class=min_per_class
    )
    return frame.iloc[pick].reset_index(drop=True)


def label_counts(splits: Mapping[str, pd.DataFrame], label_names: Sequence[str]) -> pd.DataFrame:
    """Rows per (split, label), every label listed, zero counts included.

    Returns
    -------
    pandas.DataFrame
        Columns ``split, label, label_name, count`` in split then label order.
    """
    rows = []
    for split, frame in splits.items():
        counts = np.bincount(frame["label"].to_numpy(), minlength=len(label_names))
        for k, name in enumerate(label_names):
            rows.append({"split": split, "label": k, "label_name": name, "count": int(counts[k])})
    return pd.DataFrame(rows, columns=["split", "label", "label_name", "count"])


def check_splits(task: str, splits: Mapping[str, _Split], opts: TaskOptions) -> None:
    """Raise when a split has one class or a held-out split is too small to test on.

    A held-out split (dev, test) needs at least ``MIN_HELD_OUT_ROWS`` rows and at least
    ``MIN_HELD_OUT_PER_CLASS`` rows of every class the training split has.
    """
    field = opts.label_field
    train_classes = np.unique(splits["train"].frame["label"].to_numpy())
    for split, part in splits.items():
        labels = part.frame["label"].to_numpy()
        present = np.unique(labels)
        if len(present) < 2:
            only = opts.label_names[int(present[0])] if len(present) else "(no rows)"
            raise PvigroupError(
                f"task '{task}': split '{split}' (from {part.origin}) has only one class in label "
                f"field '{field}': {only!r} ({len(labels)} rows)"
            )
        if split not in HELD_OUT:
            continue
        hint = "; use more rows (max_rows, split.dev_fraction) or another source split"
        if len(labels) < MIN_HELD_OUT_ROWS:
            raise PvigroupError(
                f"task '{task}': held-out split '{split}' (from {part.origin}) has {len(labels)} "
                f"rows, too few to test on (at least {MIN_HELD_OUT_ROWS}){hint}"
            )
        counts = np.bincount(labels, minlength=len(opts.label_values))
        for c in train_classes:
            if counts[c] < MIN_HELD_OUT_PER_CLASS:
                raise PvigroupError(
                    f"task '{task}': held-out split '{split}' (from {part.origin}) has "
                    f"{counts[c]} row(s) of class {opts.label_names[c]!r} in label field "
                    f"'{field}', too few to test on (at least {MIN_HELD_OUT_PER_CLASS}){hint}"
                )


# --------------------------------------------------------------------------------------------
# The rule's function
# --------------------------------------------------------------------------------------------
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
