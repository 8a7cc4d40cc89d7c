"""The workflow on a real one-node Slurm cluster, through the project's `slurm` profile.

Runs the tiny config twice, locally and with ``--profile slurm`` from the repository root (plus
tests/slurm/profile, which only shortens waits), and checks that jobs went through sbatch, GPU
rules asked for a GPU, the pair/triple tests were batched, and the results are the local ones.
Then cancels a training job with ``scancel`` mid-run and checks that the retry resumes from the
checkpoint the engine writes on SIGTERM and completes.

Needs the cluster: ``tests/slurm/cluster.sh start`` (root; started here when it is down).
Every Snakemake call runs under a hard ``timeout -s KILL``: a wrong status command hangs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CLUSTER = REPO / "tests" / "slurm" / "cluster.sh"
STATE = Path(os.environ.get("PVIGROUP_SLURM_STATE", "/tmp/pvigroup-slurm"))
TASKS = ("clean-a", "clean-b", "noisy")
MODEL = "minilm"
GPU_RULES = {"finetune_gprime", "finetune_null", "compute_pvi"}
LOCAL_RULES = {"select_groups", "manual_groups", "groups"}
HARD_LIMIT_S = 1800

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

ENV = {
    # without HF_DATASETS_OFFLINE (tests/conftest.py sets it): the cluster jobs must set it
    # themselves (test_cluster_jobs_read_the_hub_cache_only); the tiny tasks are local files
    **{k: v for k, v in os.environ.items() if k != "HF_DATASETS_OFFLINE"},
    "HF_HUB_OFFLINE": "1",
    "OMP_NUM_THREADS": "1",  # the same threads locally and in jobs (sbatch --export=ALL)
    "TOKENIZERS_PARALLELISM": "false",
}


@pytest.fixture(scope="module")
def cluster():
    """A running one-node cluster; started (and afterwards stopped) here if it is down."""
    # CI sets PVIGROUP_REQUIRE_SLURM: there, a suite that cannot run fails instead of skipping
    cannot_run = pytest.fail if os.environ.get("PVIGROUP_REQUIRE_SLURM") else pytest.skip
    if shutil.which("sbatch") is None:
        cannot_run(
            "Slurm is not installed: apt-get install -y slurmctld slurmd slurm-client munge"
        )
    if subprocess.run([CLUSTER, "status"], capture_output=True, check=False).returncode == 0:
        yield
        return
    if os.geteuid() != 0:
        cannot_run("the Slurm cluster is down and starting it needs root")
    ours = not (STATE / "started").exists()
    subprocess.run([CLUSTER, "start"], check=True, timeout=120)
    yield
    if ours:
        subprocess.run([CLUSTER, "stop"], check=False, timeout=60)


def workdir(tmp_path_factory, name: str, **pvi_train) -> Path:
    """A working directory with the tiny data and config (``pvi.train`` values overridden)."""
    work = tmp_path_factory.mktemp(name)
    shutil.copytree(REPO / "tests" / "data" / "tiny", work / "tiny")
    cfg = yaml.safe_load((REPO / "tests" / "data" / "tiny.yaml").read_text())
    cfg["pvi"]["train"].update(pvi_train)
    # the sbatch GPU flags are under test: the default engine.device (auto), one GPU per
    # training job, not the tiny config's one-core CPU jobs
    cfg["engine"].pop("device", None)
    (work / "tiny.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return work


def snakemake_cmd(work: Path, *args: str, slurm: bool) -> list[str]:
    cmd = [sys.executable, "-m", "snakemake", "--directory", str(work)]
    cmd += ["--configfile", str(work / "tiny.yaml")]
    if slurm:
        # the project's profile as users run it, plus test-only shorter waits
        cmd += ["--profile", "slurm", "--profile", "tests/slurm/profile", "--verbose"]
    else:
        cmd += ["--cores", "2"]
    return ["timeout", "-s", "KILL", str(HARD_LIMIT_S), *cmd, *args]


def run(work: Path, *args: str, slurm: bool) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        snakemake_cmd(work, *args, slurm=slurm),
        cwd=REPO,
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    (work / ("slurm-run.log" if slurm else "local-run.log")).write_text(proc.stdout + proc.stderr)
    assert proc.returncode == 0, f"snakemake failed ({proc.returncode}):\n{proc.stderr[-8000:]}"
    return proc


def sbatch_calls(log: str) -> list[str]:
    return [line for line in log.splitlines() if line.startswith("sbatch call: ")]


def rules_of(call: str) -> list[str]:
    """Rule names of one sbatch call (all members of a group job)."""
    targets = re.search(r"--target-jobs ((?:'[^']*' ?)+)", call)
    assert targets, call
    return [t.split(":")[0] for t in re.findall(r"'([^']*)'", targets.group(1))]


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    work = workdir(tmp_path_factory, "local")
    run(work, "groups", slurm=False)
    return work


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory):
    work = workdir(tmp_path_factory, "slurm")
    proc = run(work, "groups", slurm=True)
    return work, proc.stdout + proc.stderr


def test_jobs_went_through_sbatch_with_gpu_requests(slurm_run):
    work, log = slurm_run
    calls = sbatch_calls(log)
    assert calls, "no sbatch call in the verbose log"
    submitted: dict[str, int] = {}
    for call in calls:
        rules = rules_of(call)
        for rule in rules:
            submitted[rule] = submitted.get(rule, 0) + 1
        assert "-p main" in call  # the cluster's default partition, found with sinfo
        gpu = re.search(r"--gpus=(?:[A-Za-z0-9_.]+:)?(\d+)", call)
        if set(rules) & GPU_RULES:
            assert gpu and gpu.group(1) == "1", call
            assert "--ntasks" not in call
        else:
            assert gpu is None, call
    assert submitted == {
        "prepare_task": 3,
        "finetune_gprime": 3,
        "finetune_null": 3,
        "compute_pvi": 3,
        "pair_tests": 1,
        "group_tests": 1,
    }
    # the model's pair-test job and group-test job went to Slurm as one batch (group "stats")
    grouped = [c for c in calls if "pair_tests" in rules_of(c)]
    assert len(grouped) == 1 and sorted(rules_of(grouped[0])) == ["group_tests", "pair_tests"]
    assert "--cpus-per-task=2" in grouped[0]
    assert not set(submitted) & LOCAL_RULES
    logs = work / ".snakemake" / "slurm_logs"
    assert len(list((logs / "rule_finetune_gprime").rglob("*.log"))) == 3
    assert len([p for d in logs.glob("group_stats*") for p in d.rglob("*.log")]) == 1


def test_cluster_jobs_read_the_hub_cache_only(slurm_run, local_run):
    """Jobs on a cluster node run with the hub's offline variables; the local run does not set
    them (ENV has HF_HUB_OFFLINE only, never HF_DATASETS_OFFLINE)."""
    assert "HF_DATASETS_OFFLINE" not in ENV
    for work, want in ((slurm_run[0], "HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1"),
                       (local_run, "HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=unset")):
        for name in ("data/clean-a/prepare_task.log", f"pvi/{MODEL}/clean-a/finetune_gprime.log"):
            text = (work / "logs" / name).read_text()
            assert f"hub access: {want}" in text, (work, name)


def test_results_equal_the_local_run(slurm_run, local_run):
    work, _ = slurm_run
    for task in TASKS:
        got = pd.read_parquet(work / f"results/pvi/{MODEL}/{task}.parquet").sort_values("id")
        want = pd.read_parquet(local_run / f"results/pvi/{MODEL}/{task}.parquet").sort_values("id")
        assert list(got["id"]) == list(want["id"])
        for col in ("label", "pred", "correct"):
            assert (got[col].to_numpy() == want[col].to_numpy()).all(), (task, col)
        for col in ("log2_p_gprime", "log2_p_null", "pvi"):
            np.testing.assert_allclose(got[col], want[col], rtol=1e-5, atol=1e-6)
    for name, rows in (("pairs.tsv", 3), ("triples.tsv", 1)):  # 3 tasks: 3 pairs, 1 triple
        got = pd.read_csv(work / f"results/stats/{MODEL}/{name}", sep="\t")
        want = pd.read_csv(local_run / f"results/stats/{MODEL}/{name}", sep="\t")
        assert len(want) == rows, name
        key = ["group", "tasks", "test", "n_total"]
        assert got[key].equals(want[key]), name
        np.testing.assert_allclose(got[["statistic", "pvalue"]].to_numpy(),
                                   want[["statistic", "pvalue"]].to_numpy(), rtol=1e-4)
    for name in ("similar.tsv", "dissimilar.tsv"):
        got = pd.read_csv(work / f"results/groups/{MODEL}/{name}", sep="\t")
        want = pd.read_csv(local_run / f"results/groups/{MODEL}/{name}", sep="\t")
        assert list(got["group"]) == list(want["group"]), name


def squeue_jobs() -> list[tuple[str, str, str]]:
    """(job id, state, comment) of every job squeue still knows."""
    out = subprocess.run(
        ["squeue", "-h", "-t", "all", "-o", "%i|%T|%k"], capture_output=True, text=True, check=True
    ).stdout
    return [tuple(line.split("|", 2)) for line in out.splitlines() if line.strip()]


def checkpoint_epoch(path: Path) -> int:
    """Epochs completed according to the engine's checkpoint at ``path`` (0 when there is none)."""
    import torch

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (FileNotFoundError, RuntimeError, EOFError):  # not written yet, or just replaced
        return 0
    return int(ckpt["progress"]["epoch"])


def test_cancelled_training_resumes(cluster, tmp_path_factory):
    # long enough to be cancelled in the middle (an epoch of the tiny task takes a few seconds)
    work = workdir(tmp_path_factory, "cancel", epochs=12)
    target = f"results/pvi/{MODEL}/clean-a/gprime"
    rule_log = work / f"logs/pvi/{MODEL}/clean-a/finetune_gprime.log"
    proc = subprocess.Popen(
        snakemake_cmd(work, target, slurm=True),
        cwd=REPO,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    first = ""  # the rule log of the cancelled attempt (Snakemake clears it for the retry)
    try:
        cancelled = None
        deadline = time.monotonic() + 900
        while cancelled is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
            # the event: the checkpoint written after the second epoch (atomically replaced),
            # so the SIGTERM lands in the third epoch or later, whatever the machine's speed
            text = rule_log.read_text() if rule_log.exists() else ""
            if "epoch 2/12" not in text:  # cheap: only then read the checkpoint
                continue
            if checkpoint_epoch(work / f"{target}.resume" / "checkpoint.pt") < 2:
                continue
            for job_id, state, comment in squeue_jobs():
                if comment.startswith("rule_finetune_gprime") and state == "RUNNING":
                    subprocess.run(["scancel", job_id], check=True)
                    cancelled = job_id
        assert cancelled, "the training job was never seen running after its second epoch"
        deadline = time.monotonic() + 60
        while "; exiting" not in first and time.monotonic() < deadline:
            text = rule_log.read_text() if rule_log.exists() else ""
            first = text if len(text) > len(first) else first
            time.sleep(0.2)
        out, _ = proc.communicate(timeout=HARD_LIMIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    (work / "slurm-run.log").write_text(out)
    assert proc.returncode == 0, out[-8000:]
    # scancel sent SIGTERM (SIGKILL follows KillWait seconds later): the engine wrote a checkpoint
    assert "SIGTERM received" in first, first[-3000:]
    assert re.search(r"checkpoint written to .*; exiting", first), first[-3000:]
    assert "exit status 143" in out  # the engine's preemption status
    # the retry (profile: retries 1) resumed from <out_dir>.resume/ instead of starting afresh
    text = rule_log.read_text()
    resumed = re.search(r"resuming .* at epoch (\d+), batch (\d+)/(\d+)", text)
    assert resumed and int(resumed.group(1)) >= 3, text[-3000:]
    assert "epoch 12/12" in text and "epoch 1/12" not in text
    calls = [c for c in sbatch_calls(out) if "finetune_gprime" in c]
    assert len(calls) == 2 and "--attempt 2" in calls[1]
    meta = json.loads((work / target / "meta.json").read_text())
    assert len(meta["history"]) == 12
    assert not (work / f"{target}.resume").exists()
