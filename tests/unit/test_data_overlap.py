"""Train/dev/test text overlap: counted in task.json, warned about, optionally dropped from train."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pytest

from pvigroup.data import NORMALISATION, normalise_text, overlap_report, prepare_task


def read_split(out: Path, split: str) -> pd.DataFrame:
    return pd.read_parquet(out / f"{split}.parquet")


def test_normalise_text_folds_case_width_punctuation_and_space():
    assert normalise_text("It's  a CHARMING,\tjourney!") == "it s a charming journey"
    assert normalise_text("it 's a charming , journey .") == "it s a charming journey"
    assert normalise_text("ＦＵＬＬ\u00a0width — «quoted»") == "full width quoted"  # NFKC
    assert normalise_text("Straße") == normalise_text("STRASSE")  # casefold, not lower
    assert normalise_text("a-b") == "a b" and normalise_text("a b") == "a b"
    assert normalise_text("!!!") == ""


def _single_task(tmp_path: Path, **extra) -> dict:
    """A task with given train/dev/test files: train as csv, dev and test as parquet.

    dev rows 0-2 repeat train texts exactly, dev rows 3-4 only after normalisation, the rest are
    new; test row 0 repeats a train text exactly (a text two train rows share), test row 1 after
    normalisation.
    """
    train = [(f"t{i}", f"Train sentence number {i}.", "ab"[i % 2]) for i in range(40)]
    train.append(("t40", "Train sentence number 7.", "a"))  # a second train row with text 7
    dev = [(f"d{i}", f"Held-out dev sentence {i}", "ab"[i % 2]) for i in range(12)]
    dev[0] = ("d0", "Train sentence number 1.", "b")
    dev[1] = ("d1", "Train sentence number 2.", "a")
    dev[2] = ("d2", "Train sentence number 3.", "b")
    dev[3] = ("d3", "TRAIN sentence,  number 4", "b")
    dev[4] = ("d4", "train sentence number 5!", "a")
    test = [(f"s{i}", f"Held-out test sentence {i}", "ab"[i % 2]) for i in range(12)]
    test[0] = ("s0", "Train sentence number 7.", "a")
    test[1] = ("s1", "train  SENTENCE number 9", "b")
    cols = ["key", "sentence", "label"]
    pd.DataFrame(train, columns=cols).to_csv(tmp_path / "train.csv", index=False)
    pd.DataFrame(dev, columns=cols).to_parquet(tmp_path / "dev.parquet")
    pd.DataFrame(test, columns=cols).to_parquet(tmp_path / "test.parquet")
    task = {
        "source": {"files": {"train": "train.csv", "dev": "dev.parquet", "test": "test.parquet"}},
        "text": ["sentence"],
        "label": "label",
        "labels": ["a", "b"],
        "id_field": "key",
    }
    task.update(extra)
    return task


def test_overlap_counted_with_examples_and_warned(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="pvigroup.data"):
        info = prepare_task("ov", _single_task(tmp_path), tmp_path / "out", base_dir=tmp_path)
    overlap = info["overlap"]
    assert set(overlap) == {"normalisation", "dev", "test", "dropped_from_train", "drop"}
    assert overlap["normalisation"] == NORMALISATION
    assert (overlap["dev"]["exact"], overlap["dev"]["normalised"]) == (3, 5)
    assert (overlap["test"]["exact"], overlap["test"]["normalised"]) == (1, 2)
    assert overlap["dropped_from_train"] == 0 and overlap["drop"] is False
    assert overlap["dev"]["examples"] == [
        {"id": "d0", "train_id": "t1", "text": "Train sentence number 1."},
        {"id": "d1", "train_id": "t2", "text": "Train sentence number 2."},
        {"id": "d2", "train_id": "t3", "text": "Train sentence number 3."},
        {"id": "d3", "train_id": "t4", "text": "TRAIN sentence,  number 4"},
        {"id": "d4", "train_id": "t5", "text": "train sentence number 5!"},
    ]
    assert [e["train_id"] for e in overlap["test"]["examples"]] == ["t7", "t9"]  # the first t7
    assert json.loads((tmp_path / "out" / "task.json").read_text())["overlap"] == overlap
    assert info["n"]["train"] == 41  # nothing dropped by default
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    line = warnings[0].getMessage()
    assert "task ov" in line and "\n" not in line
    assert "dev 3 exact / 5 normalised of 12 rows" in line
    assert "test 1 exact / 2 normalised of 12 rows" in line
    assert "drop_overlap" in line


def test_drop_overlap_removes_exactly_the_shared_train_rows(tmp_path, caplog):
    kept = prepare_task("ov", _single_task(tmp_path), tmp_path / "keep", base_dir=tmp_path)
    with caplog.at_level(logging.WARNING, logger="pvigroup.data"):
        info = prepare_task(
            "ov", _single_task(tmp_path, drop_overlap=True), tmp_path / "drop", base_dir=tmp_path
        )
    overlap = info["overlap"]
    assert overlap["drop"] is True
    # t1-t5 (dev), t7 and t40 (test s0, same text), t9 (test s1): counted before dropping
    assert overlap["dropped_from_train"] == 8
    assert (overlap["dev"]["normalised"], overlap["test"]["normalised"]) == (5, 2)
    train = read_split(tmp_path / "drop", "train")
    full = read_split(tmp_path / "keep", "train")
    assert set(full["id"]) - set(train["id"]) == {"t1", "t2", "t3", "t4", "t5", "t7", "t9", "t40"}
    assert train["id"].tolist() == [i for i in full["id"] if i in set(train["id"])]  # order kept
    assert info["n"]["train"] == kept["n"]["train"] - 8 == 33
    assert info["label_counts"]["train"] == train["label_name"].value_counts().to_dict()
    # after dropping, train shares no normalised text with dev or test
    held = pd.concat([read_split(tmp_path / "drop", s) for s in ("dev", "test")])
    assert not {normalise_text(t) for t in train["text"]} & {normalise_text(t) for t in held["text"]}
    assert "dropped 8 train rows" in caplog.text


def test_private_task_examples_and_log_carry_no_text(tmp_path, caplog):
    task = _single_task(tmp_path, private=True)
    with caplog.at_level(logging.DEBUG, logger="pvigroup"):
        info = prepare_task("priv", task, tmp_path / "out", base_dir=tmp_path)
    examples = info["overlap"]["dev"]["examples"] + info["overlap"]["test"]["examples"]
    assert len(examples) == 7
    assert all(e["text"] is None for e in examples) and all(e["train_id"] for e in examples)
    assert "sentence" not in caplog.text.lower()  # counts only, no text
    assert "task priv" in caplog.text


def test_no_overlap_no_warning(tmp_path, caplog):
    rows = [(f"unique sentence {i}", "ab"[i % 2]) for i in range(100)]
    pd.DataFrame(rows, columns=["sentence", "label"]).to_csv(tmp_path / "t.csv", index=False)
    task = {
        "source": {"files": {"train": "t.csv"}},
        "text": ["sentence"],
        "label": "label",
        "labels": ["a", "b"],
        "drop_overlap": True,
    }
    with caplog.at_level(logging.WARNING, logger="pvigroup.data"):
        info = prepare_task("clean", task, tmp_path / "out", base_dir=tmp_path)
    overlap = info["overlap"]
    assert overlap["dev"] == {"exact": 0, "normalised": 0, "examples": []}
    assert overlap["test"] == {"exact": 0, "normalised": 0, "examples": []}
    assert overlap["dropped_from_train"] == 0 and overlap["drop"] is True
    assert not caplog.records


def test_pairs_compare_both_texts_together(tmp_path):
    train = [{"p": f"premise {i}", "h": f"hypothesis {i}", "y": i % 2} for i in range(30)]
    dev = [{"p": f"dev premise {i}", "h": f"dev hypothesis {i}", "y": i % 2} for i in range(12)]
    dev[0] = {"p": "premise 1", "h": "hypothesis 1", "y": 1}  # the same pair
    dev[1] = {"p": "Premise 2.", "h": "HYPOTHESIS 2", "y": 0}  # the same pair, normalised
    dev[2] = {"p": "premise 3", "h": "another hypothesis", "y": 1}  # same premise only
    dev[3] = {"p": "premise 4", "h": "hypothesis 5", "y": 1}  # both texts occur, not as a pair
    test = [{"p": f"test premise {i}", "h": f"h {i}", "y": i % 2} for i in range(12)]
    for name, rows in (("train", train), ("dev", dev), ("test", test)):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    task = {
        "source": {"files": {s: f"{s}.jsonl" for s in ("train", "dev", "test")}},
        "text": ["p", "h"],
        "label": "y",
        "labels": [0, 1],
    }
    info = prepare_task("nli", task, tmp_path / "out", base_dir=tmp_path)
    dev_overlap = info["overlap"]["dev"]
    assert (dev_overlap["exact"], dev_overlap["normalised"]) == (1, 2)
    assert dev_overlap["examples"] == [
        {"id": "nli:dev:0", "train_id": "nli:train:1", "text": "premise 1 || hypothesis 1"},
        {"id": "nli:dev:1", "train_id": "nli:train:2", "text": "Premise 2. || HYPOTHESIS 2"},
    ]


def test_overlap_report_truncates_examples_and_keeps_five():
    long = "x" * 500
    train = pd.DataFrame(
        {"id": [f"t{i}" for i in range(8)], "text": [f"{long} {i}" for i in range(8)]}
    ).assign(text_pair=None)
    dev = train.assign(id=[f"d{i}" for i in range(8)])
    report, kept = overlap_report(train, {"dev": dev, "test": dev.iloc[:0]})
    assert report["dev"]["exact"] == report["dev"]["normalised"] == 8
    assert len(report["dev"]["examples"]) == 5
    assert all(len(e["text"]) == 200 for e in report["dev"]["examples"])
    assert report["test"] == {"exact": 0, "normalised": 0, "examples": []}
    assert kept is train


def test_punctuation_only_texts_are_not_all_one_duplicate():
    train = pd.DataFrame({"id": ["t0", "t1"], "text": ["!!!", ":-)"], "text_pair": [None, None]})
    dev = pd.DataFrame({"id": ["d0", "d1"], "text": ["???", ":-)"], "text_pair": [None, None]})
    report, _ = overlap_report(train, {"dev": dev})
    assert (report["dev"]["exact"], report["dev"]["normalised"]) == (1, 1)


@pytest.mark.parametrize("drop", [False, True])
def test_drop_never_changes_dev_or_test(tmp_path, drop):
    info = prepare_task(
        "ov", _single_task(tmp_path, drop_overlap=drop), tmp_path / "out", base_dir=tmp_path
    )
    assert info["n"]["dev"] == 12 and info["n"]["test"] == 12
    assert read_split(tmp_path / "out", "dev")["id"].tolist() == [f"d{i}" for i in range(12)]
