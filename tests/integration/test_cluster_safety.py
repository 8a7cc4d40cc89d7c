"""The cluster path without a cluster: ``snakemake calibrate`` (dry for the demo and the paper,
for real on the CPU for MiniLM), and a ``--profile slurm`` dry run of the paper config in which no
job submitted to the cluster needs the network."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from snakerun import REPO, TINY, job_counts, snakemake

from pvigroup import hub

pytestmark = pytest.mark.slow

#: Rules whose jobs load a model by its ``pretrained`` spec (a hub id must be fetched first).
MODEL_RULES = {"finetune_gprime", "finetune_null", "finetune_gprime_seed", "finetune_null_seed",
               "train_stl", "train_mtl", "taskemb_embed", "surrogate_run", "tag_affinity",
               "calibrate_model"}


def _dry(workdir, *args: str) -> str:
    """A dry run from the repository (the profiles are found there) in an empty ``workdir``."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OPENAI_API_KEY": "unused-in-a-dry-run"}
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--directory", str(workdir),
                           *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc.stdout + proc.stderr


@pytest.mark.parametrize("configs", [[], ["config/paper.yaml"]], ids=["demo", "paper"])
def test_calibrate_dry_run_has_one_job_per_model(configs, tmp_path):
    configs = [str(REPO / c) for c in (configs or ["config/config.yaml"])]
    out = _dry(tmp_path, "calibrate", "--cores", "1", "--configfile", *configs)
    cfg = yaml.safe_load(open(configs[0]).read())
    counts = job_counts(out)
    assert counts["calibrate_model"] == len(cfg["models"])
    hub_models = [m for m, spec in cfg["models"].items() if hub.hub_model_id(spec["pretrained"])]
    assert counts.get("fetch_hub_model", 0) == len(hub_models)  # paper: 4, demo: 0 (py: spec)
    assert set(counts) <= {"calibrate", "calibrate_model", "fetch_hub_model"}


def test_calibrate_runs_on_the_cpu_for_minilm(tmp_path):
    shutil.copytree(REPO / "tests" / "data" / "tiny", tmp_path / "tiny")
    cfg = yaml.safe_load(TINY.read_text())
    cfg["calibrate"] = {"steps": 2, "warmup_steps": 1, "readout_rows": 32}
    cfg["train"] = {"enabled": False}  # PVI's lengths only: the grid's 512 would take minutes
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    snakemake(tmp_path, "calibrate", configfile=tmp_path / "tiny.yaml", timeout=900)
    data = json.loads((tmp_path / "results" / "calibration" / "minilm.json").read_text())
    assert data["measured_on"] == "cpu" and data["label"].startswith("CPU")
    assert [b["length"] for b in data["buckets"]] == [16, 32]
    assert all(b["step_seconds"] > 0 for b in data["buckets"]) and data["ref_step_seconds"] > 0
    # the estimate now prices MiniLM's CPU jobs with it, and says so
    proc = subprocess.run([sys.executable, "-m", "pvigroup.cli", "estimate", "--configfile",
                           str(tmp_path / "tiny.yaml"), "--directory", str(tmp_path),
                           "--device", "cpu"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"model minilm: [\d.]+ s per step .*, measured on CPU", proc.stdout), proc.stdout


def _jobs(dry_run_output: str) -> list[tuple[str, str]]:
    """(rule, input line) of every job block of a dry run."""
    jobs = []
    for block in re.split(r"\n(?=\[[^\]]+\]\n|localrule |rule |checkpoint )", dry_run_output):
        m = re.search(r"^(localrule|rule|checkpoint) (\S+):", block, flags=re.M)
        if not m:
            continue
        inputs = re.search(r"^\s+input: (.*)$", block, flags=re.M)
        jobs.append((m.group(2), inputs.group(1) if inputs else ""))
    return jobs


def _local_rules(configfiles: list[Path], workdir: Path) -> set[str]:
    """The workflow's ``localrules`` as Snakemake itself reads them (a dry run prints every job
    as ``rule``: the dry-run executor runs nothing, locally or not)."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import (ConfigSettings, OutputSettings, ResourceSettings,
                                          StorageSettings)

    with SnakemakeApi(OutputSettings()) as api:
        wf = api.workflow(resource_settings=ResourceSettings(), storage_settings=StorageSettings(),
                          config_settings=ConfigSettings(configfiles=configfiles),
                          snakefile=REPO / "Snakefile", workdir=workdir)
        workflow = wf._workflow  # its is_local() is true for all here: no executor is set
        return {rule.name for rule in workflow.rules
                if rule.name in workflow._localrules or rule.norun}


def test_paper_on_slurm_submits_no_job_that_needs_the_network(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "unused-in-a-dry-run")  # paper-gpt4.yaml asks for it
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    configs = [REPO / "config/paper.yaml", REPO / "config/paper-gpt4.yaml"]
    out = _dry(tmp_path, "all", "--profile", "slurm", "--configfile", *map(str, configs))
    jobs = _jobs(out)
    assert len(jobs) > 500
    local_rules = _local_rules(configs, tmp_path)
    submitted = [(rule, inputs) for rule, inputs in jobs if rule not in local_rules]
    local = {rule for rule, _ in jobs if rule in local_rules}
    # the network rules that this config has run where snakemake runs, none on a node
    assert {"fetch_hub_model", "fetch_hub_dataset", "fetch_hub_llm", "prompt_llm_api"} <= local
    assert not {rule for rule, _ in submitted} & set(hub.NETWORK_RULES)
    # every submitted job that loads a hub model or dataset has its fetch record as input
    for rule, inputs in submitted:
        if rule in MODEL_RULES:
            assert "resources/hub/models/" in inputs, (rule, inputs)
        if rule == "prompt_llm":
            assert "resources/hub/llm/" in inputs, inputs
    paper = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    hub_tasks = {t for t, c in paper["tasks"].items() if hub.hub_dataset_source(c, REPO)}
    prepared = [inputs for rule, inputs in submitted if rule == "prepare_task"]
    assert len(prepared) == len(paper["tasks"])
    with_record = [i for i in prepared if "resources/hub/datasets/" in i]
    assert len(with_record) == len(hub_tasks) > 0
