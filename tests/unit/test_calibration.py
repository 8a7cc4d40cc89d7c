"""calibrate on a real (tiny) model on the CPU, and its file in the cost model: rule resources
and ``pvigroup estimate`` with and without a calibration file."""

import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pvigroup import resources as res
from pvigroup.calibration import (
    calibrate,
    calibrated_cost,
    calibration_path,
    plan,
    read_calibration,
    reference_step,
)
from pvigroup.errors import PvigroupError


def _config(pretrained, **engine):
    return {
        "tasks": {"t": {"max_rows": {"train": 4000, "dev": 500, "test": 500}}},
        "models": {"m": {"pretrained": pretrained}},
        "pvi": {"train": {"epochs": 3, "batch_size": 8, "lr": 1e-3, "max_length": 32}},
        "train": {"batch_size": 4, "grid": {"max_length": [16]}},
        "engine": {"device": "cpu", "buckets": [8, 16, 64], "compile": "off", **engine},
        "calibrate": {"steps": 3, "warmup_steps": 1, "readout_rows": 40},
    }


def test_plan_takes_the_buckets_and_batch_the_jobs_use():
    p = plan(_config("x"), "m")
    assert p["buckets"] == [8, 16, 32] and p["batch_size"] == 8  # 64 > longest max_length 32
    assert (p["steps"], p["warmup_steps"], p["readout_rows"]) == (3, 1, 40)
    with pytest.raises(PvigroupError, match="not in config key models"):
        plan(_config("x"), "other")
    cfg = _config("x")
    cfg["train"] = {"batch_size": 64, "grid": {"max_length": [64]}}
    assert plan(cfg, "m")["buckets"] == [8, 16, 32, 64] and plan(cfg, "m")["batch_size"] == 64
    cfg["train"]["enabled"] = False  # no STL/MTL jobs: their grid and batch are not measured
    assert plan(cfg, "m")["buckets"] == [8, 16, 32] and plan(cfg, "m")["batch_size"] == 8


def test_reference_step_is_the_fitted_line_at_the_reference_tokens():
    pts = [{"tokens_per_step": t, "step_seconds": 0.01 + 1e-5 * t} for t in (256, 512, 1024)]
    assert reference_step(pts, 4096) == pytest.approx(0.01 + 1e-5 * 4096)
    assert reference_step(pts[:1], 512) == pytest.approx((0.01 + 1e-5 * 256) * 2)
    flat = [{"tokens_per_step": t, "step_seconds": s} for t, s in ((256, 0.2), (512, 0.1))]
    assert reference_step(flat, 4096) == 0.2  # overhead-bound: the slowest step
    assert reference_step([], 4096) is None


def test_calibrate_on_the_cpu_writes_a_labelled_file(tiny_bert, tmp_path):
    out = tmp_path / "results" / "calibration" / "m.json"
    cfg = _config(tiny_bert)
    got = calibrate("m", out, pretrained=tiny_bert, config=cfg, engine=cfg["engine"])
    data = json.loads(out.read_text())
    assert data == json.loads(json.dumps(got))
    assert data["measured_on"] == "cpu" and data["label"].startswith("CPU")
    assert data["precision"] == "fp32" and data["compile"] == "off"
    assert [b["length"] for b in data["buckets"]] == [8, 16, 32]
    for b in data["buckets"]:
        assert b["step_seconds"] > 0 and b["steps_timed"] == 3
        assert b["tokens_per_step"] == 8 * b["length"] and b["micro_batch"] == 8
        assert b["readout_rows_per_s"] > 0 and b["gpu_peak_mb"] is None
    assert data["ref_step_seconds"] > 0 and data["host_peak_mb"] > 100
    assert data["torch"] and data["transformers"] and data["cuda"] is None
    cal = read_calibration("m", tmp_path)
    assert cal.measured_on == "cpu" and cal.ref_step_seconds == data["ref_step_seconds"]


def _write_cal(workdir, model="m", step=2.0, kind="cpu", peak=9000.0):
    path = calibration_path(model, workdir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"measured_on": kind, "label": "test card", "ref_step_seconds": step,
                                "host_peak_mb": peak, "date": "2026-12-06T00:00:00Z"}))
    return path


def test_a_broken_calibration_file_is_named(tmp_path):
    path = calibration_path("m", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("{}")
    with pytest.raises(PvigroupError, match=r"m\.json: not a calibration file"):
        read_calibration("m", tmp_path)


def test_calibrated_cost_uses_the_same_device_kind_and_never_overrides_the_config(tmp_path):
    cost = res.SIZES["small"]
    cfg = _config("x")
    assert calibrated_cost(cost, "m", cfg, gpu=False, workdir=tmp_path)[0] == cost
    _write_cal(tmp_path, step=2.0, kind="cpu")
    new, note = calibrated_cost(cost, "m", cfg, gpu=False, workdir=tmp_path)
    assert new.cpu_step_seconds == 2.0 and new.host_mem_mb == pytest.approx(9000 * 1.25)
    assert note.startswith("measured on test card")
    same, note = calibrated_cost(cost, "m", cfg, gpu=True, workdir=tmp_path)  # CPU file, GPU job
    assert same == cost and "measured on the CPU" in note
    cfg["resources"] = {"models": {"m": {"cpu_step_seconds": 7}}}
    assert calibrated_cost(cost, "m", cfg, gpu=False, workdir=tmp_path)[0] == cost


def test_rule_resources_use_the_calibration_file(tmp_path):
    cfg = _config("tiny-model")  # size class small: 4 s per CPU reference step by default
    wc = SimpleNamespace(model="m", task="t")
    before = res.rule_resources("finetune", cfg, data_dir=tmp_path / "none", workdir=tmp_path)
    runtime0, mem0 = before["runtime"](wc, 1), before["mem_mb"](wc, 1)
    _write_cal(tmp_path, step=40.0, kind="cpu", peak=20000.0)  # ten times slower, 20 GB
    after = res.rule_resources("finetune", cfg, data_dir=tmp_path / "none", workdir=tmp_path)
    runtime1, mem1 = after["runtime"](wc, 1), after["mem_mb"](wc, 1)
    assert runtime1 > 5 * runtime0
    assert mem1 >= 25000 > mem0
    assert after["runtime"](wc, 2) == 2 * runtime1  # the retry still doubles


def test_estimate_says_measured_and_prices_with_the_file(tmp_path):
    from pvigroup.config import validate_config
    from pvigroup.estimate import estimate

    schema = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"
    cfg = {"tasks": {f"t{i}": {"text": ["text"], "label": "label", "labels": ["a", "b"],
                               "source": {"files": {"train": f"data/t{i}.csv"}},
                               "max_rows": {"train": 1000, "dev": 200, "test": 200}}
                     for i in range(2)},
           "models": {"m": {"pretrained": "tiny-model"}}, "engine": {"device": "cpu"}}
    validate_config(cfg, schema)
    plain = estimate(cfg, device="cpu", workdir=tmp_path)
    assert any("default" in a and "snakemake calibrate" in a for a in plain.assumptions)
    _write_cal(tmp_path, step=40.0, kind="cpu")
    measured = estimate(cfg, device="cpu", workdir=tmp_path)
    line = next(a for a in measured.assumptions if a.startswith("model m:"))
    assert "40 s per step" in line and "measured on test card" in line
    hours = lambda e, rule: e.frame().set_index("rule").loc[rule, "hours"]  # noqa: E731
    assert hours(measured, "finetune_gprime") > 5 * hours(plain, "finetune_gprime")
    gpu = estimate(cfg, device="gpu", workdir=tmp_path)  # the CPU file does not price GPU jobs
    assert any("measured on the CPU" in a for a in gpu.assumptions)
