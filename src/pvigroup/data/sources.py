"""Reading a task's source: local files (csv, tsv, jsonl, parquet) or a Hugging Face dataset."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from pvigroup.data.options import SPLITS
from pvigroup.errors import PvigroupError

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
    revision: str | None = None  # the hub commit the rows came from, when the loader says


_HUB_FILE = re.compile(r"^hf://datasets/[^@]+@([0-9a-f]{40})/")


def hub_revision(dataset: Any) -> str | None:
    """The hub commit a loaded split was read from, or None (a local or saved dataset).

    ``datasets`` records every file it downloaded in ``info.download_checksums`` as
    ``hf://datasets/<id>@<commit>/<path>``; the commit is what a ``revision`` (or the newest,
    without one) resolved to.
    """
    info = getattr(dataset, "info", None)
    keys = list(getattr(info, "download_checksums", None) or {})
    found = {m.group(1) for m in map(_HUB_FILE.match, keys) if m}
    return found.pop() if len(found) == 1 else None


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
            if fmt == "csv":
                _refuse_if_tab_separated(path, encoding, columns=0)
            raise PvigroupError(f"{path}: cannot be read as {fmt}: {err}") from None
        except UnicodeDecodeError as err:
            raise PvigroupError(
                f"{path}: not valid {encoding} ({err}); set source.encoding"
            ) from None
        if fmt == "csv":
            _refuse_if_tab_separated(path, encoding, columns=frame.shape[1])
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


def tab_fields(path: str | Path, encoding: str = "utf-8-sig", lines: int = 20) -> int:
    """Fields per line when the first ``lines`` non-blank lines of ``path`` are tab-separated.

    Returns the number of tab-separated fields when every one of those lines has a tab and all
    have the same number of fields, else 0.
    """
    counts = set()
    with Path(path).open(encoding=encoding, errors="replace", newline="") as fh:
        for line in fh:
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            if "\t" not in line:
                return 0
            counts.add(line.count("\t") + 1)
            if len(counts) > 1:
                return 0
            lines -= 1
            if lines == 0:
                break
    return counts.pop() if counts else 0


def _refuse_if_tab_separated(path: Path, encoding: str, *, columns: int) -> None:
    """Raise when a file read as csv looks tab-separated: its lines have consistently more
    tab-separated fields than the ``columns`` the csv reading found (0: it failed)."""
    fields = tab_fields(path, encoding)
    if fields >= 2 and columns < fields:
        raise PvigroupError(
            f"{path}: this looks tab-separated: set format: tsv (source.format); read as csv it "
            f"has {columns or 'no readable'} column(s), its lines have {fields} tab-separated "
            "fields"
        )


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
                revision=hub_revision(loaded[split]),
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
