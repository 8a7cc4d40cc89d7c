"""The same config run twice from scratch on CPU gives byte-identical tables, PVI and statistics.

Two tiny tasks (a clean one and one with planted label noise) with a tiny random-init encoder
(tests/integration/tinymodel.py: determinism is a property of the code, not of the model, and
the real MiniLM's planted-noise finding is tests/integration/test_pipeline.py), the PVI stage and
the paper tables it allows, plus one PVI seed replicate (pvi.variability_seeds), so the
seed-variability columns of vinfo.tsv are also checked end to end.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import yaml
from snakerun import REPO, TINY, snakemake
from tinymodel import make_tiny_bert

pytestmark = pytest.mark.slow


def run_from_scratch(root, name):
    work = root / name
    shutil.copytree(REPO / "tests" / "data" / "tiny", work / "tiny")
    cfg = yaml.safe_load(TINY.read_text())
    cfg["tasks"] = {t: cfg["tasks"][t] for t in ("clean-a", "noisy")}
    cfg["models"] = {"minilm": {"pretrained": str(make_tiny_bert(root / "tiny-bert")),
                                "family": "bert"}}
    cfg["pvi"]["train"].update(epochs=10, lr=5e-3)
    cfg["pvi"]["allow_collapsed"] = True  # the noisy task may defeat a random 2-layer encoder
    cfg["pvi"]["variability_seeds"] = [7]
    cfg["train"] = {"enabled": False}
    cfg["baselines"] = {"taskemb": {"enabled": False}}
    (work / "repro.yaml").write_text(yaml.safe_dump(cfg))
    # the tables these stages allow (the figures' determinism is a unit test)
    tables = [f"results/tables/table{nn}.{ext}" for nn in ("01", "09", "10")
              for ext in ("csv", "md", "tex")]
    snakemake(work, *tables, "results/tables/index.md", "results/stats/minilm/vinfo.tsv",
              configfile=work / "repro.yaml")
    return work


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("repro")
    return run_from_scratch(root, "one"), run_from_scratch(root, "two")


def outputs(work):
    res = work / "results"
    files = [*(res / "tables").glob("*.*"), *(res / "pvi" / "minilm").glob("*.parquet"),
             *(res / "pvi" / "minilm").glob("seed*/*.parquet"),
             *(res / "stats" / "minilm").glob("*.tsv")]
    return {str(f.relative_to(work)): f.read_bytes() for f in files}


def test_tables_and_pvi_are_byte_identical(two_runs):
    one, two = map(outputs, two_runs)
    assert "results/tables/table01.csv" in one and "results/tables/table09.md" in one
    assert "results/pvi/minilm/seed7/noisy.parquet" in one
    assert sorted(one) == sorted(two)
    differ = [name for name in one if one[name] != two[name]]
    assert not differ, differ


def test_seed_replicate_reaches_vinfo(two_runs):
    work = two_runs[0]
    vinfo = pd.read_csv(work / "results" / "stats" / "minilm" / "vinfo.tsv", sep="\t")
    assert list(vinfo["task"]) == ["clean-a", "noisy"]
    assert list(vinfo["seeds"]) == ["7,42", "7,42"] and list(vinfo["n_seeds"]) == [2, 2]
    rep = pd.read_parquet(work / "results" / "pvi" / "minilm" / "seed7" / "noisy.parquet")
    main = pd.read_parquet(work / "results" / "pvi" / "minilm" / "noisy.parquet")
    # the same held-out instances, another training seed: other PVI values
    assert list(rep["id"]) == list(main["id"])
    assert not rep["pvi"].equals(main["pvi"])
    means = [float(v) for v in vinfo.loc[1, "seed_means"].split(",")]
    assert means == pytest.approx([rep["pvi"].mean(), main["pvi"].mean()], abs=1e-5)
    # the noisy task stays much less learnable than the clean one under either seed
    assert vinfo.loc[1, "combined_ci_high"] < vinfo.loc[0, "combined_ci_low"]
