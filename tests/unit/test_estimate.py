"""The cost estimate: job counts and hours by hand on small configs."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from pvigroup.errors import PvigroupError
from pvigroup.estimate import STARTUP_SECONDS, estimate, load_config

REPO_ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def make_config(tmp_path, n_tasks=4, rows=(160, 120, 100), **sections):
    tasks = {
        f"t{i}": {"source": {"files": {"train": f"t{i}.csv"}}, "text": ["text"], "label": "label",
                  "labels": ["a", "b"], "max_rows": dict(zip(("train", "dev", "test"), rows, strict=True))}
        for i in range(n_tasks)
    }
    cfg = {"tasks": tasks,
           "models": {"minilm": {"pretrained": "sentence-transformers/all-MiniLM-L6-v2",
                                 "family": "bert"}},
           "pvi": {"train": {"epochs": 4, "batch_size": 16, "lr": 1e-4, "max_length": 64}},
           "engine": {"buckets": [16, 32, 64]},
           "train": {"seeds": [1, 2], "grid": {"epochs": [2], "lr": [1e-4], "max_length": [64]},
                     "batch_size": 16, "sources": ["pvi-similar", "pvi-dissimilar"]},
           "baselines": {"taskemb": {"enabled": False}}}
    cfg.update(sections)
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return load_config(path, REPO_ROOT)


def test_job_counts_by_hand(tmp_path):
    est = estimate(make_config(tmp_path, n_tasks=5))
    assert est.job_counts() == {
        "prepare_task": 5, "finetune_gprime": 5, "finetune_null": 5, "compute_pvi": 5,
        "pair_test": math.comb(5, 2), "triple_test": math.comb(5, 3), "train_stl": 5 * 2,
    }
    # two sources of disjoint groups, at most 5 // 2 groups each, two seeds
    assert est.job_counts(exact_only=False)["train_mtl"] == 2 * 2 * 2
    assert not next(r for r in est.rules if r.rule == "train_mtl").exact


def test_max_dissimilar_lowers_the_mtl_bound(tmp_path):
    def mtl(est):
        r = next(r for r in est.rules if r.rule == "train_mtl")
        return r.jobs, r.hours

    full = mtl(estimate(make_config(tmp_path, n_tasks=5)))
    one = mtl(estimate(make_config(tmp_path, n_tasks=5,
                                   grouping={"max_dissimilar": 1, "dissimilar_sizes": [2]})))
    none = mtl(estimate(make_config(tmp_path, n_tasks=5, grouping={"max_dissimilar": 0})))
    # similar: 2 groups; dissimilar: 2, 1 or 0 groups; two seeds each
    assert (full[0], one[0], none[0]) == (8, 6, 4)
    assert full[1] > one[1] > none[1]


def test_hours_of_one_finetune_by_hand(tmp_path):
    est = estimate(make_config(tmp_path, n_tasks=2), device="gpu")
    gprime = next(r for r in est.rules if r.rule == "finetune_gprime")
    # small size class: 0.03 s per 32 x 128-token step; 16 x 64 tokens is a quarter of that
    step = 0.03 * 16 * 64 / (32 * 128)
    per_epoch = math.ceil(160 / 16) + math.ceil(120 / 16) / 3
    one = STARTUP_SECONDS["gpu"] + 4 * per_epoch * step
    assert gprime.hours == pytest.approx(2 * one / 3600, rel=1e-3)
    # the empty-input g trains on the shortest bucket (16 of 64 tokens)
    null = next(r for r in est.rules if r.rule == "finetune_null")
    one_null = STARTUP_SECONDS["gpu"] + 4 * per_epoch * step * 16 / 64
    assert null.hours == pytest.approx(2 * one_null / 3600, rel=1e-3)


def test_cpu_prices_higher_than_gpu_and_prior_needs_no_training(tmp_path):
    # large enough that training, not the per-job start-up, dominates
    cfg = make_config(tmp_path, rows=(20000, 2000, 2000), pvi={"null_model": "empirical-prior",
                                     "train": {"epochs": 4, "batch_size": 16, "max_length": 64}})
    gpu, cpu = estimate(cfg, device="gpu"), estimate(cfg, device="cpu")
    assert cpu.gpu_hours > gpu.gpu_hours
    counts = gpu.job_counts()
    assert counts["fit_empirical_prior"] == 4 and "finetune_null" not in counts
    with pytest.raises(PvigroupError, match="device"):
        estimate(cfg, device="tpu")


def test_prepared_sizes_and_paper_sizes_are_used(tmp_path):
    cfg = make_config(tmp_path, n_tasks=2)
    data = tmp_path / "data"
    (data / "t0").mkdir(parents=True)
    (data / "t0" / "task.json").write_text(json.dumps({"n": {"train": 1000, "dev": 10,
                                                             "test": 10}}))
    small = estimate(cfg, data_dir=tmp_path / "none")
    big = estimate(cfg, data_dir=data)
    stl = {e: next(r for r in x.rules if r.rule == "train_stl").hours
           for e, x in (("small", small), ("big", big))}
    assert stl["big"] > stl["small"]
    assert any("prepared" in a and str(data) in a and "t0" in a for a in big.assumptions)
    # a paper task id without max_rows takes its size from Table 9 (cb: 200 train rows)
    cfg["tasks"]["cb"] = {**cfg["tasks"]["t1"]}
    del cfg["tasks"]["cb"]["max_rows"]
    est = estimate(cfg, data_dir=tmp_path / "none")
    assert any(a.startswith("split sizes from paper Table 9") and "cb" in a
               for a in est.assumptions)


def test_epoch_search_runs_costs_every_epoch_value(tmp_path):
    base = make_config(tmp_path)
    base["train"]["grid"]["epochs"] = [2, 3]
    select = next(r for r in estimate(base).rules if r.rule == "train_stl").hours
    base["train"]["epoch_search"] = "runs"
    runs = next(r for r in estimate(base).rules if r.rule == "train_stl").hours
    assert runs > select


def test_text_report_and_bad_config(tmp_path):
    text = estimate(make_config(tmp_path)).to_text()
    assert "train_stl" in text and "<=" in text and "assumptions:" in text
    cfg = yaml.safe_load((tmp_path / "cfg.yaml").read_text())
    cfg["stats"] = {"alpha": 2}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    with pytest.raises(PvigroupError, match=r"bad\.yaml: stats\.alpha"):
        load_config(bad, REPO_ROOT)
    with pytest.raises(PvigroupError, match="not found"):
        load_config(tmp_path / "missing.yaml", REPO_ROOT)
