"""A user who places the two public files as docs/paper-data.md says runs config/paper.yaml:
the dry run builds the DAG and the prepare jobs write the splits (stand-in files with the public
files' columns and integer codes)."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from snakerun import REPO, snakemake

pytestmark = pytest.mark.slow

FILES = {"health-advice": "health_advice/annotations_structured_abstract.csv",
         "causal-language": "causal_language/pubmed_causal_language_use.csv"}


def test_placed_public_files_prepare_with_the_paper_config(tmp_path):
    for rel in FILES.values():  # the rehearsal's stand-ins: the same columns and codes
        (tmp_path / "data" / rel).parent.mkdir(parents=True)
        shutil.copy(REPO / ".test" / "paper" / "data" / rel, tmp_path / "data" / rel)
    paper = REPO / "config" / "paper.yaml"
    dry = snakemake(tmp_path, "-n", configfile=paper).stdout
    assert "prepare_task" in dry and "finetune_gprime" in dry
    targets = [f"results/data/{t}/task.json" for t in FILES]
    snakemake(tmp_path, *targets, configfile=paper)
    for task, rel in FILES.items():
        info = json.loads((tmp_path / "results" / "data" / task / "task.json").read_text())
        source = pd.read_csv(tmp_path / "data" / rel)
        assert sum(info["n"].values()) == len(source)
        assert info["split_policy"] == "split-train-dev-test"
        assert info["source"]["files"]["train"] == f"data/{rel}"
        assert len(info["source"]["sha256"]["train"]) == 64
    ha = json.loads((tmp_path / "results/data/health-advice/task.json").read_text())
    assert ha["split"]["group_by"] == "pmid"
    assert ha["overlap"]["groups"]["shared"] == {"train-dev": 0, "train-test": 0, "dev-test": 0}
