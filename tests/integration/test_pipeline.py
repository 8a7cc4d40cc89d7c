"""End to end through Snakemake with the real MiniLM model on the tiny synthetic tasks.

Asserts the parquet schema, the planted-noise finding (the noisy twin is separated from the clean
ones, the clean twins are grouped), and the incremental property: adding a task schedules only
its own jobs, the model's one pair-test and one group-test job, and the grouping (also at 30
tasks, on synthetic PVI).
"""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pandas as pd
import pytest
import yaml
from snakerun import REPO, job_counts, snakemake

from pvigroup.io import read_meta

# on one xdist worker with test_train_stage.py, which reuses this module's PVI run
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny-minilm")]

PVI_COLUMNS = ["id", "task", "split", "label", "log2_p_gprime", "log2_p_null", "pvi", "pred",
               "correct"]


@pytest.fixture(scope="module")
def tiny_run(tiny_workdir):
    snakemake(tiny_workdir, "groups", configfile=tiny_workdir / "tiny.yaml")
    return tiny_workdir


def test_pvi_files_have_the_documented_schema(tiny_run):
    for task in ("clean-a", "clean-b", "noisy"):
        path = tiny_run / "results" / "pvi" / "minilm" / f"{task}.parquet"
        df = pd.read_parquet(path)
        assert list(df.columns) == PVI_COLUMNS
        dev = pd.read_parquet(tiny_run / "results" / "data" / task / "dev.parquet")
        # one row per held-out instance, joined by id (not row order)
        assert sorted(df["id"]) == sorted(dev["id"])
        merged = df.merge(dev[["id", "label"]], on="id", suffixes=("", "_dev"))
        assert (merged["label"] == merged["label_dev"]).all()
        np.testing.assert_allclose(df["pvi"], df["log2_p_gprime"] - df["log2_p_null"])
        assert (df["correct"] == (df["pred"] == df["label"])).all()
        assert set(df["split"]) == {"dev"}
        meta = read_meta(path)
        for key in ("model", "hparams", "seed", "null_model", "data_fingerprint",
                    "package_version"):
            assert key in meta, key
        assert meta["null_model"] == "finetune"


def test_gprime_is_kept_for_taskemb_and_null_model_is_temporary(tiny_run):
    # TaskEmb (on by default, source gprime) reads g' after the PVI stage: a temporary g' would
    # be retrained, and the PVI stage rerun, by the next full run
    for task in ("clean-a", "clean-b", "noisy"):
        root = tiny_run / "results" / "pvi" / "minilm" / task
        assert (root / "gprime").is_dir(), task
        assert not (root / "null").exists(), task


def test_null_model_ignores_the_input(tiny_run):
    # g sees only the empty input: log2 g[∅](y) depends on the gold label alone
    df = pd.read_parquet(tiny_run / "results" / "pvi" / "minilm" / "clean-a.parquet")
    spread = df.groupby("label")["log2_p_null"].agg(lambda s: s.max() - s.min())
    assert (spread < 1e-4).all()


def test_planted_noise_is_found(tiny_run):
    summ = {t: json.loads((tiny_run / "results" / "pvi" / "minilm" / f"{t}.summary.json")
                          .read_text()) for t in ("clean-a", "clean-b", "noisy")}
    assert summ["clean-a"]["gprime_accuracy"] > 0.8
    assert summ["noisy"]["mean_pvi"] < summ["clean-a"]["mean_pvi"] - 0.5
    pairs = pd.read_csv(tiny_run / "results" / "stats" / "minilm" / "pairs.tsv", sep="\t")
    p = dict(zip(pairs["group"], pairs["pvalue"], strict=True))
    assert p["clean-a__clean-b"] > 0.01
    for clean in ("clean-a", "clean-b"):
        assert p[f"{clean}__noisy"] < 0.01
    similar = pd.read_csv(tiny_run / "results" / "groups" / "minilm" / "similar.tsv", sep="\t")
    dissimilar = pd.read_csv(tiny_run / "results" / "groups" / "minilm" / "dissimilar.tsv",
                             sep="\t")
    assert "clean-a__clean-b" in set(similar["group"])
    assert not any("noisy" in g for g in similar["group"])
    assert any("noisy" in g for g in dissimilar["group"])


def test_rerun_is_a_no_op(tiny_run):
    out = snakemake(tiny_run, "groups", "-n", configfile=tiny_run / "tiny.yaml").stdout
    assert "Nothing to be done" in out, out[-3000:]


def test_adding_a_task_schedules_only_its_jobs(tiny_run):
    cfg = yaml.safe_load((tiny_run / "tiny.yaml").read_text())
    cfg["tasks"]["clean-c"] = {**cfg["tasks"]["clean-a"],
                               "source": {"files": {"train": "tiny/clean-c.csv"}}}
    plus = tiny_run / "tiny_plus.yaml"
    plus.write_text(yaml.safe_dump(cfg))
    out = snakemake(tiny_run, "groups", "-n", configfile=plus).stdout
    counts = job_counts(out)
    assert counts == {
        "prepare_task": 1,
        "finetune_gprime": 1,
        "finetune_null": 1,
        "compute_pvi": 1,
        "pair_tests": 1,     # every pair of the model, one job (seconds)
        "group_tests": 1,    # every triple, one job
        "select_groups": 1,
        "groups": 1,
    }, out[-4000:]


def _scale_bench():
    spec = importlib.util.spec_from_file_location("scale", REPO / "bench" / "scale.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_adding_a_task_to_30_reruns_its_jobs_and_the_stats_jobs_only(tmp_path):
    # 30 tasks whose PVI is finished (synthetic PVI; everything upstream marked up to date, so
    # nothing trains), the tests and the grouping run for real; then a 31st task
    bench = _scale_bench()
    work = bench.prepare(tmp_path / "w", 30, resamples=100)
    bench.materialise(work, bench.synthetic_pvi(30))
    snakemake(work, "groups", configfile=work / "config.yaml")
    out = snakemake(work, "groups", "-n", configfile=work / "config.yaml").stdout
    assert "Nothing to be done" in out, out[-3000:]
    assert len(pd.read_csv(work / "results/stats/minilm/pairs.tsv", sep="\t")) == 435
    assert len(pd.read_csv(work / "results/stats/minilm/triples.tsv", sep="\t")) == 4060
    cfg = yaml.safe_load((work / "config.yaml").read_text())
    cfg["tasks"]["t030"] = cfg["tasks"]["t000"]
    plus = work / "plus.yaml"
    plus.write_text(yaml.safe_dump(cfg))
    out = snakemake(work, "groups", "-n", configfile=plus).stdout
    assert job_counts(out) == {
        "prepare_task": 1, "finetune_gprime": 1, "finetune_null": 1, "compute_pvi": 1,
        "pair_tests": 1, "group_tests": 1, "select_groups": 1, "groups": 1,
    }, out[-4000:]
    assert "wildcards: task=t030" in out
