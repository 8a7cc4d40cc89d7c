"""``pvi.null_model: empirical-prior`` end to end: no null model is trained, each task's prior is
its train label frequencies, PVI uses it, and the statistics and groups run on that PVI."""

from __future__ import annotations

import json
import math
import shutil

import pandas as pd
import pytest
import yaml
from snakerun import REPO, TINY, snakemake
from tinymodel import make_tiny_bert

from pvigroup.io import read_meta

pytestmark = pytest.mark.slow


def test_empirical_prior_run(tmp_path):
    shutil.copytree(REPO / "tests" / "data" / "tiny", tmp_path / "tiny")
    cfg = yaml.safe_load(TINY.read_text())
    del cfg["tasks"]["noisy"]
    cfg["pvi"]["null_model"] = "empirical-prior"
    cfg["pvi"]["train"].update(epochs=2, lr=3e-3)
    # a tiny random encoder: this test is about the null model's wiring, not about MiniLM
    cfg["models"] = {"minilm": {"pretrained": str(make_tiny_bert(tmp_path / "tiny-bert")),
                                "family": "bert"}}
    cfg["pvi"]["allow_collapsed"] = True
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    proc = snakemake(tmp_path, "stats", configfile=tmp_path / "config.yaml")
    out = proc.stdout + proc.stderr
    assert "rule fit_empirical_prior:" in out or "localrule fit_empirical_prior:" in out
    assert "finetune_null" not in out
    for task in ("clean-a", "clean-b"):
        root = tmp_path / "results" / "pvi" / "minilm"
        assert not (root / task / "null").exists()
        prior = json.loads((root / task / "prior.json").read_text())
        train = pd.read_parquet(tmp_path / "results" / "data" / task / "train.parquet")
        counts = train["label"].value_counts().reindex(range(4), fill_value=0).tolist()
        assert prior["counts"] == counts and prior["null_model"] == "empirical-prior"
        pvi = pd.read_parquet(root / f"{task}.parquet")
        want = [math.log2(counts[y] / sum(counts)) for y in pvi["label"]]
        assert pvi["log2_p_null"].tolist() == pytest.approx(want, abs=1e-9)
        assert (pvi["pvi"] - (pvi["log2_p_gprime"] - pvi["log2_p_null"])).abs().max() < 1e-9
        assert read_meta(root / f"{task}.parquet")["null_model"] == "empirical-prior"
        summary = json.loads((root / f"{task}.summary.json").read_text())
        assert summary["null_model"] == "empirical-prior"
    pairs = pd.read_csv(tmp_path / "results" / "stats" / "minilm" / "pairs.tsv", sep="\t")
    assert len(pairs) == 1
