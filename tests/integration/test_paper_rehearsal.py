"""The paper's configuration rehearsed: ``config/paper.yaml`` plus ``.test/paper/config/overlay.yaml``
(stand-in data with the declared fields and labels, tiny encoders, small amounts), through every
table and ``snakemake --report``, with the tables checked against the paper's own structure.

Marked ``rehearsal``: not in the default run; `.ci/run` runs it as its own step
(``python -m pytest -n 0 -m rehearsal``).
"""

from __future__ import annotations

import json
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
from snakerun import REPO, job_counts
from tinymodel import make_tiny_bert

from pvigroup.estimate import STAGES, estimate, load_config
from pvigroup.workflow import group_id, manual_entries_for

pytestmark = [pytest.mark.rehearsal, pytest.mark.slow]

PAPER = REPO / "config" / "paper.yaml"
HERE = REPO / ".test" / "paper"
MAIN = {3: "roberta-large", 4: "bioclinicalbert", 5: "roberta-large", 6: "bioclinicalbert",
        15: "bert-base-uncased", 16: "biobert"}
ROLE = {3: "similar", 4: "similar", 5: "dissimilar", 6: "dissimilar", 15: "similar",
        16: "similar"}


def smk(work: Path, *args: str, timeout: int = 5400) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory",
           str(work), "--cores", "2", *args, "--configfile", str(PAPER),
           str(work / "config" / "overlay.yaml")]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.pop("OPENAI_API_KEY", None)  # the paper's setting runs without an API key
    return subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    work = tmp_path_factory.mktemp("paper-rehearsal")
    shutil.copytree(HERE / "config", work / "config")
    shutil.copytree(HERE / "data", work / "data")
    make_tiny_bert(work / "resources" / "tiny-bert")
    return work


@pytest.fixture(scope="module")
def dry(work):
    """The default target's dry run, before anything exists."""
    proc = smk(work, "-n")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    return proc.stdout


@pytest.fixture(scope="module")
def run(work, dry):
    proc = smk(work, "--show-failed-logs", "tables")
    log = proc.stdout + proc.stderr
    (work / "run.log").write_text(log)
    assert proc.returncode == 0, log[-12000:]
    report = smk(work, "--report", str(work / "report.zip"), "tables")
    assert report.returncode == 0, (report.stdout + report.stderr)[-6000:]
    return work


def test_estimate_counts_the_jobs_of_the_dry_run(work, dry):
    config = load_config([PAPER, work / "config" / "overlay.yaml"], REPO)
    est = estimate(config, workdir=work)
    exact = {r.rule: r.exact for r in est.rules}
    ours = est.job_counts(exact_only=False)
    counted = job_counts(dry)
    for rule in STAGES:
        if exact[rule]:
            assert ours.get(rule, 0) == counted.get(rule, 0), (rule, ours, counted)
        else:  # MTL of the baselines' groups: chosen after a checkpoint, a bound
            assert rule == "train_mtl" and ours[rule] >= 36, (rule, ours, counted)
    assert counted["prepare_task"] == 15 and counted["finetune_gprime"] == 30


def test_index_skips_no_table(run):
    index = (run / "results" / "tables" / "index.md").read_text()
    for n in range(1, 17):
        row = next(line for line in index.splitlines() if line.startswith(f"| {n:02d} "))
        assert "skipped" not in row, row
        assert (run / "results" / "tables" / f"table{n:02d}.csv").is_file(), n


def test_tables_3_to_6_list_the_hand_listed_groups(run):
    config = load_config([PAPER, run / "config" / "overlay.yaml"], REPO)
    seen = set()
    for number, model in MAIN.items():
        table = pd.read_csv(run / "results" / "tables" / f"table{number:02d}.csv")
        listed = [e["tasks"] for e in manual_entries_for(config, model)
                  if e["role"] == ROLE[number]]
        groups = list(dict.fromkeys(table["group"]))
        assert groups == [group_id(g) for g in listed], number
        # one row per task of each group, in the group's listed order, each with a test score
        assert table["task"].tolist() == [t for g in listed for t in g], number
        assert table[["stl_acc", "mtl_acc"]].notna().all().all(), number
        # two seeds each: every cell has its 95 % interval over seeds
        assert (table[["stl_n_seeds", "mtl_n_seeds"]] == 2).all().all(), number
        assert table[["stl_acc_ci", "mtl_acc_ci", "stl_f1_ci", "mtl_f1_ci"]].notna().all().all(), number
        if number <= 6:
            seen |= set(groups)
    assert len(seen) == 27


def markdown_sections(text: str) -> dict[str, list[dict[str, str]]]:
    """``## Table N`` section -> its markdown table as a list of row dicts."""
    out: dict[str, list[dict[str, str]]] = {}
    for part in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        title, *lines = part.splitlines()
        rows = [ln for ln in lines if ln.startswith("|")]
        if len(rows) < 2:
            out[title] = []
            continue
        header = [c.strip() for c in rows[0].strip("|").split("|")]
        out[title] = [dict(zip(header, [c.strip() for c in r.strip("|").split("|")],
                               strict=True)) for r in rows[2:]]
    return out


def test_paper_comparison_has_a_published_value_beside_each_computed_cell(run):
    text = (run / "results" / "tables" / "paper_comparison.md").read_text()
    sections = markdown_sections(text)
    numbers = {int(re.match(r"Table (\d+)", t).group(1)): rows for t, rows in sections.items()}
    assert set(numbers) == {1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16}, sorted(numbers)
    computed = 0
    for number, rows in numbers.items():
        assert rows, number
        for row in rows:
            if number in (1, 2):  # a tested group: the paper's decision (in its table or not)
                if row["ours_pvalue"] != "-":
                    computed += 1
                    assert row["paper_accepted"] in ("yes", "no"), (number, row)
                continue
            for col, value in row.items():
                if col.endswith("_ours") and value != "-":
                    computed += 1
                    assert row[col.replace("_ours", "_paper")] != "-", (number, col, row)
    assert computed > 100


def test_health_advice_abstracts_stay_whole_and_sizes_follow_the_policy(run):
    source = pd.read_csv(run / "data" / "health_advice" / "annotations_structured_abstract.csv")
    pmid = dict(zip(source["sentence"], source["pmid"], strict=True))
    data = run / "results" / "data" / "health-advice"
    groups = {s: {pmid[t] for t in pd.read_parquet(data / f"{s}.parquet")["text"]}
              for s in ("train", "dev", "test")}
    assert not (groups["train"] & groups["dev"] or groups["train"] & groups["test"]
                or groups["dev"] & groups["test"])
    info = json.loads((data / "task.json").read_text())
    assert info["groups"]["n_groups"] == {s: len(g) for s, g in groups.items()}
    assert info["labels"] == ["no_advice", "weak_advice", "strong_advice"]
    table9 = pd.read_csv(run / "results" / "tables" / "table09.csv").set_index("task")
    assert table9.loc["causal-language", ["train", "dev", "test"]].tolist() == [64, 16, 20]
    boolq = json.loads((run / "results" / "data" / "boolq" / "task.json").read_text())
    assert boolq["split_policy"] == "split-train-dev" and "hf" not in boolq["source"]


def test_report_has_the_tables(run):
    with zipfile.ZipFile(run / "report.zip") as z:
        text = z.read("report/report.html").decode("utf-8", "replace")
    assert "Tables" in text


def test_overlay_changes_only_data_models_and_amounts():
    overlay = yaml.safe_load((HERE / "config" / "overlay.yaml").read_text())
    assert set(overlay) <= {"tasks", "models", "engine", "pvi", "stats", "train", "llm",
                            "baselines", "diagnostics"}
    for task, spec in overlay["tasks"].items():
        assert set(spec) == {"source"} and spec["source"]["hf"] is None, task
    for model, spec in overlay["models"].items():
        assert set(spec) == {"pretrained"}, model
    assert "grouping" not in overlay and "tables" not in overlay
