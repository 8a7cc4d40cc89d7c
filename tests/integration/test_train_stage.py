"""The STL/MTL stage through Snakemake: `snakemake train` on the tiny tasks, then adding a task.

The MTL groups are known only after the checkpoint select_groups. The test trains every group of
similar.tsv and dissimilar.tsv, and one group listed by hand, for real (one seed, one epoch, the
real MiniLM), then adds task clean-c, reruns the grouping for real and asserts from the dry run of
`snakemake train` that only clean-c's STL runs and the MTL runs of groups that were not trained
before are scheduled. The hand-listed group stays a target after the task is added, so an old
group that is still wanted is seen not to retrain, whatever the new PVI grouping is.
"""

from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest
import yaml
from snakerun import job_counts, snakemake

# on one xdist worker with test_pipeline.py, whose PVI run this module reuses
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny-minilm")]

MODEL = "minilm"
SEEDS = [42]
OLD_TASKS = ("clean-a", "clean-b", "noisy")
TRAIN = {
    "seeds": SEEDS,
    "grid": {"epochs": [1], "lr": [1.0e-4], "max_length": [32]},
    "batch_size": 16,
    "grad_accum": 1,
    "sources": ["pvi-similar", "pvi-dissimilar", "manual"],
}
# also a similar group of the tiny tasks (tests/integration/test_pipeline.py): no extra run
MANUAL = ["clean-a", "clean-b"]
RUN = re.compile(rf"results/train/{MODEL}/(stl|mtl)/([^/\s,]+)/seed(\d+)/metrics\.json")


def mtl_groups(workdir) -> set[str]:
    """The MTL groups (two tasks or more) of similar.tsv, dissimilar.tsv and manual.tsv."""
    out = set()
    for name in ("similar", "dissimilar", "manual"):
        df = pd.read_csv(workdir / "results" / "groups" / MODEL / f"{name}.tsv", sep="\t")
        out |= {g for g, size in zip(df["group"], df["size"], strict=True) if int(size) >= 2}
    return out


def scheduled_runs(dry_run: str) -> dict[str, set[tuple[str, int]]]:
    """{kind: {(group, seed)}} of the train_stl/train_mtl jobs a dry run lists (their outputs)."""
    out: dict[str, set[tuple[str, int]]] = {"stl": set(), "mtl": set()}
    for line in dry_run.splitlines():
        if line.strip().startswith("output:"):
            for kind, group, seed in RUN.findall(line):
                out[kind].add((group, int(seed)))
    return out


@pytest.fixture(scope="module")
def trained(tiny_workdir, tmp_path_factory):
    """A copy of the tiny working directory (with its PVI run, if another test left one) in which
    `snakemake train` has run for the tiny config plus a one-seed, one-epoch train section."""
    work = tmp_path_factory.mktemp("train-stage") / "work"
    shutil.copytree(tiny_workdir, work, symlinks=True,
                    ignore=shutil.ignore_patterns("locks"))
    cfg = yaml.safe_load((work / "tiny.yaml").read_text())
    cfg["train"] = TRAIN
    cfg["grouping"] = {"manual": [MANUAL]}
    (work / "train.yaml").write_text(yaml.safe_dump(cfg))
    snakemake(work, "train", configfile=work / "train.yaml")
    return work


def test_train_runs_every_task_and_group(trained):
    groups = mtl_groups(trained)
    assert groups, "the tiny tasks give at least one similar or dissimilar group"
    runs = trained / "results" / "train" / MODEL
    assert {p.name for p in (runs / "stl").iterdir()} == set(OLD_TASKS)
    assert {p.name for p in (runs / "mtl").iterdir()} == groups
    for kind, names in (("stl", OLD_TASKS), ("mtl", groups)):
        for name in names:
            m = json.loads((runs / kind / name / "seed42" / "metrics.json").read_text())
            assert m["kind"] == kind and m["group"] == name and m["seed"] == 42
            assert set(m["test"]) == set(name.split("__"))
            assert m["selected"] == {"epochs": 1, "lr": 1.0e-4, "max_length": 32}
            assert m["epoch_selection"] == {"search": "select", "allowed": [1], "selected": 1}
            assert (runs / kind / name / "seed42" / "predictions.parquet").exists()
    summary = pd.read_csv(runs / "summary.tsv", sep="\t")
    assert set(summary.loc[summary["kind"] == "mtl", "group"]) == groups
    assert set(summary.loc[summary["kind"] == "stl", "task"]) == set(OLD_TASKS)
    # the train target stops there: no LLM, baseline or table stage ran
    for stage in ("llm", "baselines", "tables"):
        assert not (trained / "results" / stage).exists(), stage


def test_rerun_is_a_no_op(trained):
    out = snakemake(trained, "train", "-n", configfile=trained / "train.yaml").stdout
    assert "Nothing to be done" in out, out[-3000:]


def test_adding_a_task_retrains_only_changed_groups(trained):
    before = mtl_groups(trained)
    assert "__".join(MANUAL) in before
    cfg = yaml.safe_load((trained / "train.yaml").read_text())
    cfg["tasks"]["clean-c"] = {**cfg["tasks"]["clean-a"],
                               "source": {"files": {"train": "tiny/clean-c.csv"}}}
    plus = trained / "train_plus.yaml"
    plus.write_text(yaml.safe_dump(cfg))
    snakemake(trained, "groups", configfile=plus)  # the PVI stage and the grouping, for real
    after = mtl_groups(trained)
    new_groups = after - before
    kept = after & before
    assert "__".join(MANUAL) in kept  # still a target, already trained

    proc = snakemake(trained, "train", "-n", configfile=plus)
    out = proc.stdout + proc.stderr
    runs = scheduled_runs(out)
    assert runs["stl"] == {("clean-c", s) for s in SEEDS}, out[-4000:]
    assert runs["mtl"] == {(g, s) for g in new_groups for s in SEEDS}, out[-4000:]
    # no group trained before is scheduled again (those still wanted are reused), and no old
    # task's STL run
    assert not {g for g, _ in runs["mtl"]} & before
    for group in kept:
        assert (trained / "results" / "train" / MODEL / "mtl" / group / "seed42"
                / "metrics.json").exists()
    expected = {"train_stl": len(SEEDS), "collect_train": 1, "train": 1}
    if new_groups:
        expected["train_mtl"] = len(new_groups) * len(SEEDS)
    assert job_counts(proc.stdout) == expected, out[-4000:]
