"""split.group_by: whole groups (an abstract's sentences) in one split, stratified, seeded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pvigroup.data import prepare_task
from pvigroup.data.grouped import grouped_pick
from pvigroup.errors import PvigroupError

WORDS = ("should", "may", "patients", "therapy", "risk", "we", "recommend", "suggest", "trial",
         "dose", "outcome", "reduced", "associated", "clinicians", "consider", "screening")


def abstracts(n_groups: int = 150, seed: int = 0) -> pd.DataFrame:
    """Rows shaped like the health-advice file: ``label,pmid,sentence,design``, labels 0/1/2,
    1-9 sentences per abstract, the label mix varying by abstract."""
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(n_groups):
        pmid = 30000000 + 17 * g
        p = rng.dirichlet([3.0, 1.3, 0.8])
        for s in range(int(rng.integers(1, 10))):
            words = " ".join(rng.choice(WORDS, size=8))
            rows.append({"label": int(rng.choice(3, p=p)), "pmid": pmid,
                         "sentence": f"{words} ({pmid}.{s})", "design": "rct"})
    return pd.DataFrame(rows)


def health_task(path: Path, **split) -> dict:
    return {"source": {"files": {"train": str(path)}}, "text": ["sentence"], "label": "label",
            "labels": [0, 1, 2], "label_names": ["no_advice", "weak_advice", "strong_advice"],
            "split": {"dev_fraction": 0.2, "seed": 42, "group_by": "pmid", **split}}


def prepared(out: Path) -> dict[str, pd.DataFrame]:
    return {s: pd.read_parquet(out / f"{s}.parquet") for s in ("train", "dev", "test")}


def pmids_of(frame: pd.DataFrame, source: pd.DataFrame) -> set[int]:
    by_text = dict(zip(source["sentence"], source["pmid"], strict=True))
    return {by_text[t] for t in frame["text"]}


@pytest.fixture
def source(tmp_path):
    frame = abstracts()
    path = tmp_path / "annotations_structured_abstract.csv"
    frame.to_csv(path, index=False)
    return frame, path


def test_no_group_in_two_splits_and_task_json_reports_groups(tmp_path, source):
    frame, path = source
    info = prepare_task("health-advice", health_task(path), tmp_path / "out")
    splits = prepared(tmp_path / "out")
    groups = {s: pmids_of(f, frame) for s, f in splits.items()}
    assert not groups["train"] & groups["dev"]
    assert not groups["train"] & groups["test"]
    assert not groups["dev"] & groups["test"]
    # every row used once: nothing dropped
    assert sum(len(f) for f in splits.values()) == len(frame)
    assert set().union(*groups.values()) == set(frame["pmid"])
    assert info["split"]["group_by"] == "pmid" and info["split_policy"] == "split-train-dev-test"
    record = info["groups"]
    assert record["field"] == "pmid"
    assert record["n_groups"] == {s: len(groups[s]) for s in groups}
    for s, f in splits.items():
        sizes = frame[frame["sentence"].isin(f["text"])].groupby("pmid").size()
        assert record["largest"][s]["rows"] == sizes.max()
    assert info["overlap"]["groups"]["shared"] == {"train-dev": 0, "train-test": 0,
                                                   "dev-test": 0}
    on_disk = json.loads((tmp_path / "out" / "task.json").read_text())
    assert on_disk["groups"] == record


def test_stratified_within_tolerance(tmp_path, source):
    frame, path = source
    prepare_task("health-advice", health_task(path), tmp_path / "out")
    overall = frame["label"].value_counts(normalize=True).sort_index().to_numpy()
    n = len(frame)
    for split, part in prepared(tmp_path / "out").items():
        share = np.bincount(part["label"], minlength=3) / len(part)
        assert np.abs(share - overall).max() < 0.03, (split, share, overall)
        wanted = 0.6 * n if split == "train" else 0.2 * n
        assert abs(len(part) - wanted) <= 0.03 * n, (split, len(part), wanted)


def test_seeded_determinism(tmp_path, source):
    _, path = source
    prepare_task("health-advice", health_task(path), tmp_path / "a")
    prepare_task("health-advice", health_task(path), tmp_path / "b")
    prepare_task("health-advice", health_task(path, seed=7), tmp_path / "c")
    for s in ("train", "dev", "test"):
        assert (tmp_path / "a" / f"{s}.parquet").read_bytes() == \
               (tmp_path / "b" / f"{s}.parquet").read_bytes()
    assert set(prepared(tmp_path / "a")["dev"]["id"]) != set(prepared(tmp_path / "c")["dev"]["id"])


def test_a_random_split_would_leak_abstracts(tmp_path, source):
    """The same data without group_by: sentences of one abstract land in train and dev, and the
    report cannot count it (no group field) - what group_by is for."""
    frame, path = source
    task = health_task(path)
    del task["split"]["group_by"]
    info = prepare_task("health-advice", task, tmp_path / "out")
    splits = prepared(tmp_path / "out")
    assert pmids_of(splits["train"], frame) & pmids_of(splits["dev"], frame)
    assert info["groups"] is None and "groups" not in info["overlap"]


def test_missing_group_field_is_a_clear_error(tmp_path, source):
    _, path = source
    with pytest.raises(PvigroupError, match=r"task 'health-advice': .*annotations_structured"
                       r"_abstract\.csv: split\.group_by field 'abstract_id' not found; the file "
                       r"has fields: label, pmid, sentence, design"):
        prepare_task("health-advice", health_task(path, group_by="abstract_id"), tmp_path / "o")


def test_empty_group_value_names_the_line(tmp_path, source):
    frame, path = source
    frame = frame.astype({"pmid": object})
    frame.loc[5, "pmid"] = None
    frame.to_csv(path, index=False)
    with pytest.raises(PvigroupError, match=r"line 7 .*split\.group_by field 'pmid' is empty"):
        prepare_task("health-advice", health_task(path), tmp_path / "o")


def test_given_splits_sharing_groups_are_counted_and_said(tmp_path, source, capsys):
    """A source with its own test file is not redrawn: abstracts shared with it are counted."""
    import io

    frame, _ = source
    train_path, test_path = tmp_path / "train.csv", tmp_path / "test.csv"
    sizes = frame.groupby("pmid").size()
    test_pmids = sizes.index[:40]
    shared = [p for p in test_pmids if sizes[p] >= 2][:3]  # one sentence moved to train
    test = frame[frame["pmid"].isin(test_pmids)]
    train = frame.drop(test.index)
    test = test.drop(test[test["pmid"].isin(shared)].groupby("pmid").head(1).index)
    train = pd.concat([train, frame[frame["pmid"].isin(shared)].groupby("pmid").head(1)])
    train.to_csv(train_path, index=False)
    test.to_csv(test_path, index=False)
    task = health_task(train_path)
    task["source"]["files"]["test"] = str(test_path)
    console = io.StringIO()
    info = prepare_task("health-advice", task, tmp_path / "out", console=console)
    assert info["split_policy"] == "split-train-dev"
    counted = info["overlap"]["groups"]["shared"]
    # the train file's rows of a shared abstract stay together in train or in the drawn dev
    assert counted["train-dev"] == 0 and counted["train-test"] + counted["dev-test"] == 3
    assert info["overlap"]["groups"]["examples"] == sorted(str(p) for p in shared)
    said = console.getvalue()
    assert "split.group_by field 'pmid'" in said and f"train-test {counted['train-test']}" in said


def test_grouped_pick_takes_whole_groups():
    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(40), rng.integers(1, 6, size=40))
    labels = rng.integers(0, 2, size=len(groups))
    pick = grouped_pick(labels, groups, 30, rng=np.random.default_rng(3))
    drawn = set(groups[pick])
    assert set(np.flatnonzero(np.isin(groups, list(drawn)))) == set(pick)
    assert abs(len(pick) - 30) <= 3
    assert np.array_equal(pick, grouped_pick(labels, groups, 30, rng=np.random.default_rng(3)))
    one = grouped_pick(labels, np.zeros(len(labels)), 5, rng=np.random.default_rng(3))
    assert len(one) in (0, len(labels))  # a single group cannot be cut
