"""Task data: loaders, validation, split policy, ids, subsampling and the written files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pvigroup.data import (
    allocate,
    apply_split_policy,
    label_counts,
    prepare_task,
    read_table,
    split_policy,
    stratified_pick,
    value_text,
)
from pvigroup.errors import PvigroupError
from pvigroup.io import fingerprint_frame, read_meta

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "data"
COLUMNS = ["id", "text", "text_pair", "label", "label_name"]


def sentiment_task(**extra):
    task = {
        "source": {"files": {"train": "sentiment_train.csv", "test": "sentiment_test.csv"}},
        "text": ["sentence"],
        "label": "label",
        "labels": ["neg", "pos"],
    }
    task.update(extra)
    return task


def write_csv(path: Path, rows: list[tuple], header=("sentence", "label")) -> Path:
    pd.DataFrame(rows, columns=list(header)).to_csv(path, index=False)
    return path


def balanced_rows(n: int, labels=("a", "b"), start: int = 0) -> list[tuple[str, str]]:
    return [(f"sentence {i}", labels[i % len(labels)]) for i in range(start, start + n)]


def read_split(out: Path, split: str) -> pd.DataFrame:
    return pd.read_parquet(out / f"{split}.parquet")


# ----------------------------------------------------------------------------- pure helpers
def test_value_text_compares_numbers_and_text_alike():
    assert value_text(1) == value_text("1") == value_text(1.0) == value_text(np.int64(1)) == "1"
    assert value_text(-1) == "-1"
    assert value_text(True) == "True"
    assert value_text(float("nan")) is None
    assert value_text(None) is None
    assert value_text(0.5) == "0.5"


@pytest.mark.parametrize(
    ("counts", "k", "expected"),
    [
        ([50, 50], 10, [5, 5]),
        ([90, 10], 10, [9, 1]),
        ([98, 1, 1], 10, [8, 1, 1]),  # the floor of one per class
        ([5, 5], 100, [5, 5]),  # capped at what there is
        ([7, 3], 0, [0, 0]),
    ],
)
def test_allocate(counts, k, expected):
    assert allocate(counts, k).tolist() == expected


def test_allocate_drops_floor_when_k_is_below_class_count():
    alloc = allocate([10, 1, 1, 1], 2)
    assert alloc.sum() == 2
    assert (alloc <= np.array([10, 1, 1, 1])).all()


def test_stratified_pick_is_seeded_stratified_and_sorted():
    labels = np.array([0] * 80 + [1] * 20)
    a = stratified_pick(labels, 10, rng=np.random.default_rng(1))
    b = stratified_pick(labels, 10, rng=np.random.default_rng(1))
    c = stratified_pick(labels, 10, rng=np.random.default_rng(2))
    assert a.tolist() == b.tolist() and a.tolist() != c.tolist()
    assert (np.diff(a) > 0).all()
    assert np.bincount(labels[a]).tolist() == [8, 2]
    uniform = stratified_pick(labels, 10, rng=np.random.default_rng(1), stratify=False)
    assert len(uniform) == 10 and len(set(uniform.tolist())) == 10


@pytest.mark.parametrize(
    ("roles", "policy"),
    [
        (["train", "dev", "test"], "given"),
        (["train", "dev"], "dev-as-test"),
        (["train", "test"], "split-train-dev"),
        (["train"], "split-train-dev-test"),
    ],
)
def test_split_policy_names(roles, policy):
    assert split_policy(roles) == policy


def test_apply_split_policy_train_only_sizes_and_disjointness():
    frame = pd.DataFrame({"label": [0] * 60 + [1] * 40, "_row": range(100)})
    policy, splits = apply_split_policy(
        {"train": frame}, {"train": "x.csv"}, dev_fraction=0.2, seed=0
    )
    assert policy == "split-train-dev-test"
    sizes = {s: len(p.frame) for s, p in splits.items()}
    assert sizes == {"train": 60, "dev": 20, "test": 20}
    rows = [set(p.frame["_row"]) for p in splits.values()]
    assert set.union(*rows) == set(range(100))
    assert sum(len(r) for r in rows) == 100
    for split in ("dev", "test"):
        assert np.bincount(splits[split].frame["label"]).tolist() == [12, 8]


def test_label_counts_lists_every_label():
    splits = {"train": pd.DataFrame({"label": [0, 0, 2]}), "dev": pd.DataFrame({"label": [2]})}
    counts = label_counts(splits, ["a", "b", "c"])
    assert counts.columns.tolist() == ["split", "label", "label_name", "count"]
    assert counts["count"].tolist() == [2, 0, 1, 0, 0, 1]
    assert counts["label_name"].tolist() == ["a", "b", "c"] * 2


# ----------------------------------------------------------------------------- loaders
def test_csv_with_header_and_given_test_file(tmp_path):
    info = prepare_task("senti", sentiment_task(), tmp_path / "out", base_dir=FIXTURES)
    assert info["split_policy"] == "split-train-dev"
    assert info["n"] == {"train": 64, "dev": 16, "test": 24}
    test = read_split(tmp_path / "out", "test")
    source = pd.read_csv(FIXTURES / "sentiment_test.csv")
    assert test.columns.tolist() == COLUMNS
    assert test["text"].tolist() == source["sentence"].tolist()
    assert test["id"].tolist() == [f"senti:test:{i}" for i in range(len(source))]
    assert test["label_name"].tolist() == source["label"].tolist()
    assert test["label"].tolist() == [["neg", "pos"].index(v) for v in source["label"]]
    assert test["text_pair"].isna().all()
    assert str(test["label"].dtype) == "int64"
    assert info["pair"] is False and info["labels"] == ["neg", "pos"]


def test_csv_id_field_and_label_names(tmp_path):
    task = sentiment_task(id_field="id", label_names=["negative", "positive"])
    prepare_task("senti", task, tmp_path / "out", base_dir=FIXTURES)
    train = read_split(tmp_path / "out", "train")
    assert train["id"].str.fullmatch(r"r\d{3}").all()
    assert set(train["label_name"]) == {"negative", "positive"}
    info = json.loads((tmp_path / "out" / "task.json").read_text())
    assert info["labels"] == ["negative", "positive"] and info["label_values"] == ["neg", "pos"]


def test_tsv_without_header_reads_labels_as_text_and_keeps_quotes(tmp_path):
    task = {
        "source": {"files": {"train": "noheader.tsv"}, "header": False},
        "text": [1],
        "label": 0,
        "labels": [-1, 1],  # numbers in the config match "-1"/"1" read from the file
        "label_names": ["certain", "uncertain"],
    }
    info = prepare_task("unc", task, tmp_path / "out", base_dir=FIXTURES)
    assert info["split_policy"] == "split-train-dev-test"
    assert info["n"] == {"train": 30, "dev": 10, "test": 10}
    rows = pd.concat([read_split(tmp_path / "out", s) for s in ("train", "dev", "test")])
    assert len(rows) == 50 and rows["id"].is_unique
    by_id = dict(zip(rows["id"], rows["text"], strict=True))
    assert by_id["unc:train:3"] == 'sentence "3" is hedged, perhaps'
    assert by_id["unc:train:0"] == 'sentence "0" is certain'
    row3 = rows.set_index("id").loc["unc:train:3"]
    assert row3["label_name"] == "uncertain" and row3["label"] == 1


def test_jsonl_pair_task(tmp_path):
    task = {
        "source": {"files": {"train": "nli.jsonl"}},
        "text": ["premise", "hypothesis"],
        "label": "label",
        "labels": ["0", "1", "2"],  # text in the config matches ints in the file
        "label_names": ["entailment", "neutral", "contradiction"],
    }
    info = prepare_task("nli", task, tmp_path / "out", base_dir=FIXTURES)
    assert info["pair"] is True
    train = read_split(tmp_path / "out", "train")
    first = json.loads((FIXTURES / "nli.jsonl").read_text().splitlines()[0])
    row = train.set_index("id").loc["nli:train:0"]
    assert (row["text"], row["text_pair"], row["label"]) == (
        first["premise"],
        first["hypothesis"],
        first["label"],
    )
    for split in ("dev", "test"):
        assert np.bincount(read_split(tmp_path / "out", split)["label"]).tolist() == [6, 6, 6]


def test_jsonl_text_format_builds_texts(tmp_path):
    task = {
        "source": {"files": {"train": "nli.jsonl"}},
        "text": ["premise"],
        "text_format": ["P: {premise} H: {hypothesis}"],
        "label": "label",
        "labels": [0, 1, 2],
    }
    prepare_task("nlif", task, tmp_path / "out", base_dir=FIXTURES)
    train = read_split(tmp_path / "out", "train").set_index("id")
    assert (
        train.loc["nlif:train:0", "text"] == "P: a woman eats in the park H: a woman eats outside"
    )
    assert train["text_pair"].isna().all()


def test_parquet_source(tmp_path):
    frame = pd.DataFrame(
        {
            "t": [f"row {i}" for i in range(60)],
            "y": np.arange(60) % 2,
            "key": [f"k{i}" for i in range(60)],
        }
    )
    frame.to_parquet(tmp_path / "train.parquet")
    frame[:40].assign(key=[f"d{i}" for i in range(40)]).to_parquet(tmp_path / "dev.parquet")
    task = {
        "source": {"files": {"train": "train.parquet", "dev": "dev.parquet"}},
        "text": ["t"],
        "label": "y",
        "labels": [0, 1],
        "id_field": "key",
    }
    info = prepare_task("pq", task, tmp_path / "out", base_dir=tmp_path)
    assert info["split_policy"] == "dev-as-test"
    test = read_split(tmp_path / "out", "test")
    assert test["id"].tolist() == [f"d{i}" for i in range(40)]  # the source dev is the test set
    assert info["n"] == {"train": 48, "dev": 12, "test": 40}


@pytest.fixture
def hf_offline(tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True, raising=False)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    datasets.disable_progress_bars()
    return datasets


def test_hf_saved_dataset_dir_missing_test_split(tmp_path, hf_offline):
    datasets = hf_offline
    features = datasets.Features(
        {"sentence": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])}
    )
    train = {"sentence": [f"train {i}" for i in range(50)], "label": [i % 2 for i in range(50)]}
    dev = {"sentence": [f"dev {i}" for i in range(20)], "label": [i % 2 for i in range(20)]}
    datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict(train, features=features),
            "validation": datasets.Dataset.from_dict(dev, features=features),
        }
    ).save_to_disk(str(tmp_path / "saved"))
    task = {
        "source": {
            "hf": {"id": "saved", "splits": {"train": "train", "dev": "validation", "test": None}}
        },
        "text": ["sentence"],
        "label": "label",
        "labels": [0, 1],
        "label_names": ["neg", "pos"],
    }
    info = prepare_task("hfsaved", task, tmp_path / "out", base_dir=tmp_path)
    assert info["split_policy"] == "dev-as-test"
    test = read_split(tmp_path / "out", "test")
    assert test["id"].tolist() == [f"hfsaved:validation:{i}" for i in range(20)]
    assert test["text"].tolist() == dev["sentence"]
    assert info["n"] == {"train": 40, "dev": 10, "test": 20}
    assert read_split(tmp_path / "out", "dev")["id"].str.startswith("hfsaved:train:").all()


def test_hf_local_csv_builder_with_data_files(tmp_path, hf_offline):
    write_csv(tmp_path / "tr.csv", balanced_rows(40))
    write_csv(tmp_path / "va.csv", balanced_rows(12, start=100))
    write_csv(tmp_path / "te.csv", balanced_rows(12, start=200))
    task = {
        "source": {
            "hf": {
                "id": "csv",
                "data_files": {"train": "tr.csv", "validation": "va.csv", "test": "te.csv"},
                "splits": {"train": "train", "dev": "validation", "test": "test"},
            }
        },
        "text": ["sentence"],
        "label": "label",
        "labels": ["a", "b"],
    }
    info = prepare_task("hfcsv", task, tmp_path / "out", base_dir=tmp_path)
    assert info["split_policy"] == "given"
    assert info["n"] == {"train": 40, "dev": 12, "test": 12}
    assert read_split(tmp_path / "out", "test")["text"].tolist()[0] == "sentence 200"


def test_hf_unknown_split_names_the_available_ones(tmp_path, hf_offline):
    write_csv(tmp_path / "tr.csv", balanced_rows(40))
    task = {
        "source": {
            "hf": {"id": "csv", "data_files": {"train": "tr.csv"}, "splits": {"dev": "dev"}}
        },
        "text": ["sentence"],
        "label": "label",
        "labels": ["a", "b"],
    }
    with pytest.raises(
        PvigroupError, match=r"split 'dev' not in dataset 'csv' \(it has \['train'\]\)"
    ):
        prepare_task("hfbad", task, tmp_path / "out", base_dir=tmp_path)


# ----------------------------------------------------------------------------- split policy
def test_split_is_stratified_deterministic_and_byte_identical(tmp_path):
    rows = [(f"s{i}", "a" if i % 4 else "b") for i in range(200)]  # 150 a, 50 b
    write_csv(tmp_path / "train.csv", rows)
    task = {
        "source": {"files": {"train": "train.csv"}},
        "text": ["sentence"],
        "label": "label",
        "labels": ["a", "b"],
        "split": {"dev_fraction": 0.1, "seed": 3},
    }
    prepare_task("t", task, tmp_path / "one", base_dir=tmp_path)
    prepare_task("t", task, tmp_path / "two", base_dir=tmp_path)
    for name in ("train.parquet", "dev.parquet", "test.parquet", "task.json", "label_counts.tsv"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    for split in ("dev", "test"):
        frame = read_split(tmp_path / "one", split)
        assert np.bincount(frame["label"]).tolist() == [15, 5]
        rows_in_source = frame["id"].str.split(":").str[-1].astype(int)
        assert rows_in_source.is_monotonic_increasing  # source order kept
    task["split"]["seed"] = 4
    prepare_task("t", task, tmp_path / "three", base_dir=tmp_path)
    assert set(read_split(tmp_path / "one", "dev")["id"]) != set(
        read_split(tmp_path / "three", "dev")["id"]
    )


def test_written_metadata_task_json_and_label_counts(tmp_path):
    rows = balanced_rows(60, labels=("a", "b"))
    write_csv(tmp_path / "train.csv", rows)
    task = {
        "source": {"files": {"train": "train.csv"}},
        "text": ["sentence"],
        "label": "label",
        "labels": ["a", "b", "never"],
        "private": True,
    }
    info = prepare_task("m", task, tmp_path / "out", base_dir=tmp_path)
    out = tmp_path / "out"
    for split in ("train", "dev", "test"):
        meta = read_meta(out / f"{split}.parquet")
        frame = read_split(out, split)
        assert meta["task"] == "m" and meta["split"] == split
        assert meta["fingerprint"] == info["fingerprint"][split] == fingerprint_frame(frame)
    assert json.loads((out / "task.json").read_text()) == info
    assert info["private"] is True
    counts = pd.read_csv(out / "label_counts.tsv", sep="\t")
    assert counts.columns.tolist() == ["split", "label", "label_name", "count"]
    assert len(counts) == 9  # 3 splits x 3 labels, the absent label at 0
    assert counts.loc[counts["label_name"] == "never", "count"].tolist() == [0, 0, 0]
    assert counts.groupby("split", sort=False)["count"].sum().to_dict() == info["n"]
    assert info["source"]["sha256"]["train"]


def test_ids_stable_under_max_rows(tmp_path):
    rows = [(f"s{i}", "a" if i % 5 else "b") for i in range(300)]
    write_csv(tmp_path / "train.csv", rows)
    base = {
        "source": {"files": {"train": "train.csv"}},
        "text": ["sentence"],
        "label": "label",
        "labels": ["a", "b"],
    }
    prepare_task("t", base, tmp_path / "full", base_dir=tmp_path)
    small = {**base, "max_rows": {"train": 30, "dev": 20, "test": 12}}
    info = prepare_task("t", small, tmp_path / "small", base_dir=tmp_path)
    assert info["n"] == {"train": 30, "dev": 20, "test": 12}
    for split in ("train", "dev", "test"):
        full = read_split(tmp_path / "full", split).set_index("id")
        sub = read_split(tmp_path / "small", split).set_index("id")
        assert set(sub.index) <= set(full.index)  # same split, same ids, same rows
        assert (sub["text"] == full.loc[sub.index, "text"]).all()
        assert pd.Series([int(i.split(":")[-1]) for i in sub.index]).is_monotonic_increasing
        assert set(sub["label"]) == {0, 1}


def test_max_rows_keeps_rare_class(tmp_path):
    rows = [(f"s{i}", "rare" if i in (5, 77, 140, 190, 230, 260) else "common") for i in range(300)]
    write_csv(tmp_path / "train.csv", rows)
    write_csv(tmp_path / "test.csv", [(f"t{i}", "rare" if i < 3 else "common") for i in range(40)])
    task = {
        "source": {"files": {"train": "train.csv", "test": "test.csv"}},
        "text": ["sentence"],
        "label": "label",
        "labels": ["common", "rare"],
        "split": {"dev_fraction": 0.35},
        "max_rows": {"train": 10, "dev": 10, "test": 10},
    }
    prepare_task("r", task, tmp_path / "out", base_dir=tmp_path)
    assert (read_split(tmp_path / "out", "train")["label_name"] == "rare").sum() >= 1
    for split in ("dev", "test"):
        assert (read_split(tmp_path / "out", split)["label_name"] == "rare").sum() >= 2


# ----------------------------------------------------------------------------- bad input
def _bad(tmp_path, rows, *, header=("sentence", "label"), **extra):
    path = write_csv(tmp_path / "bad.csv", rows, header=header)
    task = {
        "source": {"files": {"train": "bad.csv"}},
        "text": ["sentence"],
        "label": "label",
        "labels": ["a", "b"],
    }
    task.update(extra)
    out = tmp_path / "out"
    with pytest.raises(PvigroupError) as err:
        prepare_task("badtask", task, out, base_dir=tmp_path)
    assert not out.exists(), "nothing may be written when validation fails"
    message = str(err.value)
    assert "badtask" in message and "bad.csv" in message
    return message, path


def test_missing_field_lists_the_fields(tmp_path):
    message, _ = _bad(tmp_path, balanced_rows(60), text=["sentense"])
    assert "text field 'sentense' not found" in message
    assert "sentence, label" in message


def test_absent_second_text_field(tmp_path):
    message, _ = _bad(tmp_path, balanced_rows(60), text=["sentence", "hypothesis"])
    assert "'hypothesis' not found" in message and "sentence, label" in message


def test_unknown_label_names_value_row_and_allowed(tmp_path):
    rows = balanced_rows(60)
    rows[6] = ("sentence 6", "c")
    message, _ = _bad(tmp_path, rows)
    assert "line 8" in message and "id badtask:train:6" in message
    assert "label field 'label'" in message and "'c'" in message and "['a', 'b']" in message


@pytest.mark.parametrize("text", ["", "   ", None])
def test_empty_text(tmp_path, text):
    rows = balanced_rows(60)
    rows[10] = (text, "a")
    message, _ = _bad(tmp_path, rows)
    assert "line 12" in message and "badtask:train:10" in message
    assert "text field 'sentence' is empty" in message


def test_line_numbers_count_multiline_records(tmp_path):
    rows = balanced_rows(60)
    rows[0] = ("first line\nsecond line", "a")
    rows[4] = ("sentence 4", None)
    message, _ = _bad(tmp_path, rows)
    assert "line 7" in message and "badtask:train:4" in message  # header + 2 lines for row 0
    assert "label field 'label' is empty" in message


def test_duplicate_ids(tmp_path):
    rows = [(f"id{i}", f"sentence {i}", "ab"[i % 2]) for i in range(60)]
    rows[20] = ("id3", "sentence 20", "a")
    message, _ = _bad(tmp_path, rows, header=("key", "sentence", "label"), id_field="key")
    assert "line 22" in message and "id id3" in message and "'key'" in message
    assert "line 5" in message  # where the id was first seen


def test_duplicate_ids_across_files(tmp_path):
    write_csv(
        tmp_path / "a.csv",
        [(f"k{i}", f"s{i}", "ab"[i % 2]) for i in range(60)],
        header=("key", "sentence", "label"),
    )
    write_csv(
        tmp_path / "b.csv",
        [(f"k{i}", f"t{i}", "ab"[i % 2]) for i in range(59, 80)],
        header=("key", "sentence", "label"),
    )
    task = {
        "source": {"files": {"train": "a.csv", "test": "b.csv"}},
        "text": ["sentence"],
        "label": "label",
        "labels": ["a", "b"],
        "id_field": "key",
    }
    with pytest.raises(
        PvigroupError, match=r"b\.csv, line 2 \(id k59\): the id repeats a\.csv, line 61"
    ):
        prepare_task("dup", task, tmp_path / "out", base_dir=tmp_path)


def test_split_with_one_class(tmp_path):
    write_csv(tmp_path / "tr.csv", balanced_rows(60))
    write_csv(tmp_path / "bad.csv", [(f"t{i}", "a") for i in range(20)])
    task = {
        "source": {"files": {"train": "tr.csv", "test": "bad.csv"}},
        "text": ["sentence"],
        "label": "label",
        "labels": ["a", "b"],
    }
    with pytest.raises(
        PvigroupError,
        match=r"split 'test' \(from bad\.csv\) has only one class in label field 'label'",
    ):
        prepare_task("one", task, tmp_path / "out", base_dir=tmp_path)


def test_task_too_small(tmp_path):
    message, _ = _bad(tmp_path, balanced_rows(30))  # 6 rows per held-out split
    assert "held-out split" in message and "6 rows" in message and "at least 10" in message


def test_too_few_rows_of_a_class_in_held_out_split(tmp_path):
    rows = [(f"s{i}", "b" if i in (3, 50, 90) else "a") for i in range(100)]
    message, _ = _bad(tmp_path, rows)
    assert "row(s) of class 'b'" in message and "label field 'label'" in message


def test_file_does_not_exist(tmp_path):
    task = sentiment_task(source={"files": {"train": "nope.csv"}})
    with pytest.raises(
        PvigroupError, match=r"task 'x': source\.files\.train: file nope\.csv does not exist"
    ):
        prepare_task("x", task, tmp_path / "out", base_dir=tmp_path)


def test_config_errors(tmp_path):
    with pytest.raises(PvigroupError, match=r"tasks\.x\.label_names: 1 names for 2 labels"):
        prepare_task("x", sentiment_task(label_names=["n"]), tmp_path / "o", base_dir=FIXTURES)
    with pytest.raises(
        PvigroupError, match=r"tasks\.x\.labels: values repeat when compared as text: \['1'\]"
    ):
        prepare_task("x", sentiment_task(labels=[1, "1"]), tmp_path / "o", base_dir=FIXTURES)


def test_jsonl_null_text_and_text_format_field(tmp_path):
    lines = [json.dumps({"p": f"premise {i}", "h": f"hyp {i}", "y": i % 2}) for i in range(60)]
    lines[3] = json.dumps({"p": None, "h": "hyp 3", "y": 1})
    (tmp_path / "pairs.jsonl").write_text("\n".join(lines) + "\n")
    task = {
        "source": {"files": {"train": "pairs.jsonl"}},
        "text": ["p", "h"],
        "label": "y",
        "labels": [0, 1],
    }
    with pytest.raises(
        PvigroupError, match=r"pairs\.jsonl, line 4 \(id j:train:3\): text field 'p' is empty"
    ):
        prepare_task("j", task, tmp_path / "out", base_dir=tmp_path)
    task["text_format"] = ["{p} / {q}"]
    with pytest.raises(
        PvigroupError,
        match=r"pairs\.jsonl: text_format field 'q' not found; the file has fields: p, h, y",
    ):
        prepare_task("j", task, tmp_path / "out", base_dir=tmp_path)


def test_read_table_unknown_suffix(tmp_path):
    (tmp_path / "data.txt").write_text("a,b\n")
    with pytest.raises(
        PvigroupError, match=r"data\.txt: cannot tell the format .* set source\.format"
    ):
        read_table(tmp_path / "data.txt")
    frame, _locate = read_table(tmp_path / "data.txt", "csv")
    assert frame.columns.tolist() == ["a", "b"] and len(frame) == 0


def test_jsonl_bad_line_is_named(tmp_path):
    (tmp_path / "x.jsonl").write_text('{"a": 1}\n\n{"a": \n')
    with pytest.raises(PvigroupError, match=r"x\.jsonl, line 3: not valid JSON"):
        read_table(tmp_path / "x.jsonl")
