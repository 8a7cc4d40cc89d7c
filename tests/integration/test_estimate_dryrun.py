"""The cost estimate counts the same jobs as Snakemake's own dry run of the same config."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from snakerun import REPO, job_counts, snakemake

from pvigroup.estimate import STAGES, estimate, load_config

pytestmark = pytest.mark.slow


def demo_with_everything(tmp_path):
    """The demo config with the surrogate baseline on, a hand-listed group and a second seed
    count and two PVI seed replicates, so every stage of the estimate has jobs."""
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["baselines"]["surrogate"]["enabled"] = True
    cfg["baselines"]["surrogate"]["n_subsets"] = 5
    cfg["baselines"]["tag"] = {"enabled": True}
    cfg["train"]["seeds"] = [1, 2, 3]
    cfg["pvi"]["variability_seeds"] = [7, 8]
    cfg["grouping"] = {**cfg.get("grouping", {}), "manual": [["polarity", "uncertainty"]]}
    path = tmp_path / "everything.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.parametrize("which", ["paper", "demo-everything"])
def test_estimate_job_counts_equal_the_dry_run(which, tmp_path):
    configfile = (REPO / "config" / "paper.yaml" if which == "paper"
                  else demo_with_everything(tmp_path))
    work = tmp_path / "work"
    work.mkdir()
    out = snakemake(work, "-n", configfile=configfile).stdout
    dry = job_counts(out)
    assert dry, out[-3000:]
    est = estimate(load_config(configfile, REPO), data_dir=work / "results" / "data")
    ours = est.job_counts()
    # train_mtl comes after the grouping checkpoint: a dry run cannot list it yet
    for rule in STAGES:
        if rule == "train_mtl":
            assert rule not in dry
            continue
        assert ours.get(rule, 0) == dry.get(rule, 0), (rule, ours, dry)
    assert est.job_counts(exact_only=False).get("train_mtl", 0) > 0


def test_estimate_command_prints_the_paper_estimate():
    proc = subprocess.run([sys.executable, "-m", "pvigroup.cli", "estimate", "--configfile",
                           "config/paper.yaml"], cwd=REPO, capture_output=True, text=True, check=False,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "finetune_gprime" in proc.stdout and "GPU-h" in proc.stdout
    assert "paper Table 9" in proc.stdout


def test_estimate_command_names_a_bad_config(tmp_path):
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["stats"]["alpha"] = 2
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    proc = subprocess.run([sys.executable, "-m", "pvigroup.cli", "estimate", "--configfile",
                           str(bad)], cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("pvigroup: ") and "bad.yaml: stats.alpha" in proc.stderr
    assert "Traceback" not in proc.stderr
