"""A preempted epoch-selecting run (STL and MTL) resumed in a new process saves what an
uninterrupted run saves: the best epoch's weights, its epoch number and the same history.

The interrupted and the resumed run are separate processes (``resume_job.py``), the reference
runs in the test's process. SIGTERM lands in the middle of the third epoch, after the best
epoch has been chosen, so only the checkpoint carries the kept weights.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

from pvigroup.engine import PREEMPTED_STATUS
from pvigroup.io import read_json

JOB = Path(__file__).with_name("resume_job.py")


def reference(level, kind, pretrained, out):
    """The uninterrupted run, in this process (the same code and seeds as ``job`` without a
    kill): a saved process start per test."""
    spec = importlib.util.spec_from_file_location("resume_job", JOB)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.run_here(level, kind, pretrained, out)


def job(level, kind, pretrained, out, kill_epoch=None):
    cmd = [sys.executable, str(JOB), level, kind, pretrained, str(out)]
    if kill_epoch is not None:
        cmd.append(str(kill_epoch))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, check=False)


def weights(model_dir: Path) -> dict:
    files = sorted(model_dir.rglob("*.safetensors"))
    assert files, f"no weights under {model_dir}"
    return {f"{f.relative_to(model_dir)}:{k}": v.numpy()
            for f in files for k, v in load_file(str(f)).items()}


def assert_same_weights(got: Path, want: Path) -> None:
    a, b = weights(got), weights(want)
    assert a.keys() == b.keys()
    changed = [k for k in a if not np.array_equal(a[k], b[k])]
    assert not changed, f"{len(changed)} tensors differ, e.g. {changed[:3]}"


def without_timing(history):
    return [{k: v for k, v in h.items() if k not in ("samples_per_s", "loss")} for h in history]


def interrupted_then_resumed(level, kind, pretrained, out):
    killed = job(level, kind, pretrained, out, kill_epoch=2)
    assert killed.returncode == PREEMPTED_STATUS, killed.stderr[-3000:]
    assert "checkpoint written" in killed.stderr and "epoch 3, batch" in killed.stderr, (
        "SIGTERM did not land in the middle of the third epoch:\n" + killed.stderr[-3000:])
    resumed = job(level, kind, pretrained, out)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming" in resumed.stderr and "at epoch 3, batch 2" in resumed.stderr, (
        "the second process did not resume from the checkpoint:\n" + resumed.stderr[-3000:])
    return resumed


@pytest.mark.parametrize("kind", ["stl", "mtl"])
def test_engine_resume_keeps_the_best_epoch_of_an_interrupted_run(tiny_bert, tmp_path, kind):
    reference("engine", kind, tiny_bert, tmp_path / "ref")
    want = read_json(tmp_path / "ref" / "model" / "meta.json")
    # the case that matters: the kept epoch (1 or 2) is over when the job is preempted in epoch 3
    assert want["best_epoch"] in (1, 2) and len(want["history"]) == 3

    interrupted_then_resumed("engine", kind, tiny_bert, tmp_path / "run")
    got = read_json(tmp_path / "run" / "model" / "meta.json")
    assert got["best_epoch"] == want["best_epoch"]
    assert got["dev_score"] == want["dev_score"]
    assert without_timing(got["history"]) == without_timing(want["history"])
    assert [h["loss"] for h in got["history"]] == pytest.approx(
        [h["loss"] for h in want["history"]], rel=1e-6)
    assert_same_weights(tmp_path / "run" / "model", tmp_path / "ref" / "model")
    assert not (tmp_path / "run" / "model.resume").exists()


@pytest.mark.parametrize("kind", ["stl", "mtl"])
def test_stl_mtl_job_resumes_after_preemption(tiny_bert, tmp_path, kind):
    # the whole STL/MTL job (grid search, selection on dev, test read-out), as its rule runs it
    reference("train", kind, tiny_bert, tmp_path / "ref")
    resumed = interrupted_then_resumed("train", kind, tiny_bert, tmp_path / "run")
    assert "grid point 0: finished before the restart" in resumed.stderr  # not trained again
    assert "grid point 1:" in resumed.stderr
    want, got = (read_json(tmp_path / d / "metrics.json") for d in ("ref", "run"))
    assert got["selected"] == want["selected"] and got["test"] == want["test"]
    assert got["dev_score"] == want["dev_score"]
    assert [without_timing(r["history"]) for r in got["grid"]] == [
        without_timing(r["history"]) for r in want["grid"]]
    assert_same_weights(tmp_path / "run" / "model", tmp_path / "ref" / "model")
