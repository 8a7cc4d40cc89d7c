"""bench/gpu_check.py in its CPU dry mode: every step runs on tiny models and reports numbers.

The GPU run of the same script is what docs/gpu_check.md prepares; this keeps it from rotting.
"""

import importlib.util
import json
import math
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def gpu_check():
    pytest.importorskip("accelerate", reason="transformers.Trainer needs accelerate")
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("gpu_check", BENCH / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def dry_report(gpu_check, tmp_path_factory):
    """One full dry run, steps in this process (the SIGTERM step still uses child processes)."""
    import torch

    tmp = tmp_path_factory.mktemp("gpu-check")
    threads = torch.get_num_threads()  # the dry mode trains with one thread
    try:
        report = gpu_check.main(["--dry", "--inline", "--out", str(tmp / "out"), "--work",
                                 str(tmp / "work"), "--assets", str(tmp / "no-assets")])  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    return report, tmp / "out"


def _positive(x) -> bool:
    return isinstance(x, int | float) and math.isfinite(x) and x > 0


def _result(report, step):
    entry = report["steps"][step]
    assert entry["status"] == "ok", json.dumps(entry, default=str)[-3000:]
    return entry["result"]


@pytest.mark.slow
def test_json_and_log_are_written_with_every_step(dry_report, gpu_check):
    out = dry_report[1]
    on_disk = json.loads((out / "gpu_check.json").read_text())
    assert list(on_disk["steps"]) == gpu_check.STEP_NAMES
    assert (out / "gpu_check.log").read_text().count("===== step ") == len(gpu_check.STEP_NAMES)
    assert on_disk["mode"] == "dry" and on_disk["skipped_steps"] == []
    assert "rerun" not in on_disk


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["large", "base"])
def test_engine_and_trainer_throughput(dry_report, arch):
    res = _result(dry_report[0], f"throughput_{arch}")
    for who in ("engine", "trainer"):
        run = res[who]
        assert len(run["epochs"]) == 2  # epoch 1 (compilation) and one steady epoch
        assert _positive(run["steady_samples_per_s"]) and _positive(run["peak_mem_mb"])
        assert _positive(run["final_loss"])
    assert _positive(res["speedup"]) and math.isfinite(res["final_loss_diff"])
    compiled = res["engine"]["compile"]
    assert compiled["mode"] is None and compiled["unique_graphs"] == 0  # CPU: compile off
    assert compiled["expected_max"] >= 1 and compiled["storm"] is False


@pytest.mark.slow
def test_readout_at_both_lengths(dry_report):
    res = _result(dry_report[0], "readout")
    for arch in ("large", "base", "small"):
        runs = {k: v for k, v in res[arch].items() if isinstance(v, dict)}
        assert {k for k in runs if k.startswith("le64_bs")} and "len128" in runs
        assert all(_positive(r["samples_per_s"]) and r["finite"] for r in runs.values())


@pytest.mark.slow
def test_sigterm_checkpoint_resume_gives_the_same_run(dry_report):
    res = _result(dry_report[0], "sigterm_resume")
    checks = res["checks"]
    assert res["ok"], checks
    assert res["interrupted"]["returncode"] == 143 and res["interrupted"]["checkpoint_exists"]
    assert res["resumed"]["steps_here"] == res["plan"]["total_steps"] - res["plan"]["sigterm_after_step"]
    assert abs(checks["final_loss_diff"]) < 1e-5  # deterministic on CPU


@pytest.mark.slow
def test_parity_over_three_seeds(dry_report):
    acc = _result(dry_report[0], "parity_minilm")["accuracy"]
    for who in ("engine", "trainer"):
        assert acc[who]["n"] == 3 and 0 <= acc[who]["mean"] <= 1 and acc[who]["sd"] >= 0
    assert math.isfinite(acc["mean_diff"])


@pytest.mark.slow
def test_reference_step_times_and_targets(dry_report):
    report = dry_report[0]
    res = _result(report, "ref_step")
    assert all(_positive(res[a]["step_seconds"]) for a in ("large", "base", "small"))
    assert report["gpu_step_seconds_measured"] == {a: res[a]["step_seconds"] for a in res
                                                   if a in ("large", "base", "small")}
    targets = report["targets"]
    assert targets["sigterm_resume_ok"]["pass"] is True
    assert targets["no_recompile_storm"]["pass"] is True
    assert all("pass" in t or "value" in t for t in targets.values())


@pytest.mark.slow
def test_snakemake_demo_is_planned_or_skipped_with_its_reason(dry_report):
    entry = dry_report[0]["steps"]["snakemake_demo"]
    res = entry["result"]
    if "skipped" in res:
        assert "snakemake cannot be imported" in res["skipped"]
        return
    assert entry["status"] == "ok" and res["returncode"] == 0 and res["ran"] is False
    assert res["job_counts"]["finetune_gprime"] == 5 and res["job_counts"]["compute_pvi"] == 5
    assert "--cores 16" in res["command"] and res["engine_device"] == "cpu"


def test_budget_guard_skips_every_step_with_its_reason(gpu_check, tmp_path):
    report = gpu_check.main(["--dry", "--budget-s", "0", "--out", str(tmp_path)])
    assert report["skipped_steps"] == gpu_check.STEP_NAMES
    assert all("time budget 0 s spent" in e["skipped"] for e in report["steps"].values())
    assert report["rerun"].startswith("bash bench/gpu_check.sh --steps env,")
    assert report["targets"]["large_engine_speedup_over_trainer"]["pass"] is None


def test_step_in_its_own_process(gpu_check, tmp_path):
    report = gpu_check.main(["--dry", "--steps", "env", "--out", str(tmp_path / "out"),
                             "--assets", str(tmp_path / "none")])  # fmt: skip
    entry = report["steps"]["env"]
    assert entry["status"] == "ok" and entry["returncode"] == 0
    assert entry["result"]["torch"] and entry["result"]["dry"] is True


def test_a_failing_part_leaves_the_others(gpu_check, tmp_path):
    from gpu_check_lib import Ctx

    ctx = Ctx(dry=True, work=tmp_path, assets=tmp_path, result_path=tmp_path / "r.json")

    def broken():
        raise RuntimeError("CUDA error: an illegal memory access")

    ctx.part("bad", broken)
    ctx.part("good", lambda: {"samples_per_s": 1.0})
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["bad"]["error"] == "RuntimeError: CUDA error: an illegal memory access"
    assert "Traceback" in saved["bad"]["traceback"] and saved["good"]["samples_per_s"] == 1.0
    assert gpu_check._status(saved) == "partial"


def test_unknown_step_is_named(gpu_check, capsys):
    with pytest.raises(SystemExit):
        gpu_check.parse_args(["--steps", "env,warp"])
    assert "unknown step(s) warp" in capsys.readouterr().err


def test_job_times_and_counts_are_read(gpu_check, tmp_path):
    from gpu_check_steps import job_counts, job_times

    for task, s in (("a", 3.5), ("b", 5.0)):
        path = tmp_path / "benchmarks" / "pvi" / "minilm" / task / "finetune_gprime.tsv"
        path.parent.mkdir(parents=True)
        path.write_text("s\th:m:s\tmax_rss\n" f"{s}\t0:00:0{int(s)}\t812.4\n")
    assert job_times(tmp_path) == {"finetune_gprime": {"jobs": 2, "sum_s": 8.5, "max_s": 5.0}}
    text = "Job stats:\njob      count\n-----  -----\nfinetune_gprime  5\ntotal  5\n\nReasons:"
    assert job_counts(text) == {"finetune_gprime": 5, "total": 5}


def test_recompile_storm_is_counted_from_dynamo(gpu_check):
    import torch
    from gpu_check_lib import compile_counts, reset_compile

    reset_compile()
    double = torch.compile(lambda x: x * 2, backend="eager", dynamic=False)
    for n in (2, 3, 4):  # three static shapes: three graphs where one was expected
        double(torch.ones(n))
    counts = compile_counts(1, "eager")
    reset_compile()
    assert counts["unique_graphs"] == 3 and counts["storm"] is True
    assert compile_counts(1, None) == {**counts, "mode": None, "unique_graphs": 0,
                                       "storm": False, "inductor_cudagraph_counters": {}}
