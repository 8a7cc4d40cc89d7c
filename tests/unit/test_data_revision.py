"""A hub dataset's revision: the pinned one in task.json (and so in the PVI provenance), and the
commit the loaded files came from."""

from __future__ import annotations

import pytest

from pvigroup.data import prepare_task
from pvigroup.data.sources import hub_revision
from pvigroup.engine.provenance import dataset_revision

COMMIT = "bcdcba79d07bc864c1c254ccfcedcce55bcc9a8c"


@pytest.fixture
def datasets(monkeypatch, tmp_path):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    datasets.disable_progress_bars()
    return datasets


def test_hub_revision_is_read_from_the_download_checksums(datasets):
    ds = datasets.Dataset.from_dict({"sentence": ["a"], "label": [0]})
    assert hub_revision(ds) is None  # built here: no hub files
    ds.info.download_checksums = {
        f"hf://datasets/nyu-mll/glue@{COMMIT}/cola/train-00000-of-00001.parquet": {},
        f"hf://datasets/nyu-mll/glue@{COMMIT}/cola/validation-00000-of-00001.parquet": {}}
    assert hub_revision(ds) == COMMIT
    ds.info.download_checksums[f"hf://datasets/nyu-mll/glue@{'0' * 40}/x.parquet"] = {}
    assert hub_revision(ds) is None  # two commits: not one revision


def test_pinned_revision_is_recorded_in_task_json_and_provenance(tmp_path, datasets):
    rows = {"sentence": [f"s {i}" for i in range(60)], "label": [i % 2 for i in range(60)]}
    datasets.DatasetDict({"train": datasets.Dataset.from_dict(rows),
                          "validation": datasets.Dataset.from_dict(rows)}
                         ).save_to_disk(str(tmp_path / "glue-cola"))
    task = {"source": {"hf": {"id": "glue-cola", "revision": COMMIT,
                              "splits": {"train": "train", "dev": "validation", "test": None}}},
            "text": ["sentence"], "label": "label", "labels": [0, 1]}
    info = prepare_task("cola", task, tmp_path / "out", base_dir=tmp_path)
    assert info["source"]["hf"]["revision"] == COMMIT
    assert info["source"]["resolved_revision"] is None  # a saved dataset names no hub commit
    assert dataset_revision(info) == COMMIT
