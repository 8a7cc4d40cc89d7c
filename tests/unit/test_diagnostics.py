"""Diagnostics from per-instance PVI on a planted-noise task whose wrong labels are known.

The fixture is real data end to end: a tiny topic corpus (tests/data/tiny/clean-a.csv) gets 30 %
of its labels flipped by the demo's own ``make_noisy_twin`` (which writes the flip record), is
prepared by ``prepare_task``, and g' is a multinomial naive Bayes fitted on the (noisy) training
rows, g the training label frequencies; PVI = log2 g'(y|x) - log2 g(y) on the dev split.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from pvigroup import cli
from pvigroup import diagnostics as dg
from pvigroup.data import prepare_task
from pvigroup.demo import flip_record, make_noisy_twin
from pvigroup.errors import PvigroupError
from pvigroup.io import read_json, write_json, write_parquet

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "tests" / "data" / "tiny"
TOPICS = ["food", "music", "sport", "weather"]
TASK = "planted"


def brute_auroc(scores, positive) -> float:
    """P(score of a positive > score of a negative) + 1/2 P(tie), by counting every pair."""
    pos = [s for s, p in zip(scores, positive, strict=True) if p]
    neg = [s for s, p in zip(scores, positive, strict=True) if not p]
    wins = sum((a > b) + 0.5 * (a == b) for a, b in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def naive_bayes_pvi(train: pd.DataFrame, held_out: pd.DataFrame, n_labels: int) -> pd.DataFrame:
    """PVI rows (the PVI stage's columns) of a word-count naive Bayes g' and a label-prior g."""
    vocab = sorted({w for t in train["text"] for w in t.split()})
    index = {w: i for i, w in enumerate(vocab)}
    counts = np.ones((n_labels, len(vocab)))  # Laplace smoothing
    for text, y in zip(train["text"], train["label"], strict=True):
        for w in text.split():
            counts[y, index[w]] += 1
    log_word = np.log(counts / counts.sum(axis=1, keepdims=True))
    prior = np.bincount(train["label"], minlength=n_labels) / len(train)
    scores = np.array([[np.log(prior[y]) + sum(log_word[y, index[w]] for w in t.split()
                                               if w in index) for y in range(n_labels)]
                       for t in held_out["text"]])
    logp = scores - np.logaddexp.reduce(scores, axis=1, keepdims=True)
    labels = held_out["label"].to_numpy(dtype=np.int64)
    out = pd.DataFrame({"id": held_out["id"].to_numpy(), "task": TASK, "split": "dev",
                        "label": labels,
                        "log2_p_gprime": logp[np.arange(len(labels)), labels] / math.log(2),
                        "log2_p_null": np.log2(prior[labels])})
    out["pvi"] = out["log2_p_gprime"] - out["log2_p_null"]
    out["pred"] = logp.argmax(axis=1).astype(np.int64)
    out["correct"] = out["pred"] == out["label"]
    return out


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A prepared planted-noise task with real PVI, its flip record and the known flipped ids."""
    root = tmp_path_factory.mktemp("planted")
    src = root / "corpus.csv"
    pd.read_csv(TINY / "clean-a.csv").rename(columns={"sentence": "text", "topic": "label"})[
        ["text", "label"]].to_csv(src, index=False)
    twin = root / "tiny-part0of1-noise30.csv"
    make_noisy_twin(src, twin, noise=0.3, seed=5, part=0, parts=1, flipped_tsv=flip_record(twin))
    task = {"source": {"files": {"train": str(twin)}}, "text": ["text"], "label": "label",
            "labels": TOPICS, "split": {"dev_fraction": 0.4}}
    prepare_task(TASK, task, root / "results" / "data" / TASK, base_dir=root)
    data = root / "results" / "data" / TASK
    pvi = naive_bayes_pvi(pd.read_parquet(data / "train.parquet"),
                          pd.read_parquet(data / "dev.parquet"), len(TOPICS))
    pvi_path = root / "results" / "pvi" / "nb" / f"{TASK}.parquet"
    write_parquet(pvi, pvi_path, {"split": "dev"})
    noisy = pd.read_csv(twin)["noisy"].to_numpy()  # the twin's own column, not the record
    flipped = {f"{TASK}:train:{i}" for i in np.flatnonzero(noisy == 1)}
    return {"root": root, "task": task, "data": data, "pvi": pvi_path, "flipped": flipped,
            "records": dg.flip_records(task)}


def run_diagnostics(planted, out: Path, **kwargs) -> dict:
    return dg.task_diagnostics(planted["pvi"], planted["data"] / "dev.parquet",
                               planted["data"] / "task.json", out / "s.tsv", out / "s.json",
                               model="nb", flip_records=planted["records"], **kwargs)


# ----------------------------------------------------------------------------- AUROC
def test_auroc_is_the_mann_whitney_probability_with_ties():
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 5, 60).astype(float)  # many ties
    positive = rng.random(60) < 0.3
    assert dg.auroc(scores, positive) == pytest.approx(brute_auroc(scores, positive))
    assert dg.auroc([1, 2, 3, 4], [False, False, True, True]) == 1.0
    assert dg.auroc([1, 2, 3, 4], [True, True, False, False]) == 0.0
    assert dg.auroc([2, 2, 2], [True, False, False]) == 0.5
    assert math.isnan(dg.auroc([1, 2], [False, False]))
    with pytest.raises(PvigroupError, match="3 scores but 2 labels"):
        dg.auroc([1, 2, 3], [True, False])


def test_precision_at_counts_the_top_k():
    assert dg.precision_at([True, False, True, True], 2) == 0.5
    assert math.isnan(dg.precision_at([True], 0))
    with pytest.raises(PvigroupError, match="k = 3"):
        dg.precision_at([True, False], 3)


# ----------------------------------------------------------------------------- planted noise
def test_flip_record_maps_to_the_prepared_ids(planted):
    assert set(planted["records"]) == {"train"}
    info = read_json(planted["data"] / "task.json")
    assert dg.flipped_ids(planted["records"], info) == planted["flipped"]


def test_flipped_rows_rank_above_the_clean_ones(planted, tmp_path):
    summary = run_diagnostics(planted, tmp_path, max_rows=None, max_pvi=None)
    pvi = pd.read_parquet(planted["pvi"])
    flags = pvi["id"].isin(planted["flipped"]).to_numpy()
    assert 10 <= flags.sum() <= len(flags) - 10  # both classes present in the dev split
    expected = brute_auroc(-pvi["pvi"].to_numpy(), flags)
    assert expected > 0.8  # the signal is there, far above chance (0.5)
    flips = summary["flips"]
    assert flips["auroc"] == pytest.approx(expected)
    assert flips["flipped"] == flags.sum() and flips["k"] == flags.sum()
    ranked = pd.read_csv(tmp_path / "s.tsv", sep="\t")  # every row listed: the full ranking
    assert ranked["rank"].tolist() == list(range(1, len(pvi) + 1))
    is_flipped = ranked["id"].isin(planted["flipped"])
    assert ranked.loc[is_flipped, "rank"].mean() < ranked.loc[~is_flipped, "rank"].mean()
    top_k = is_flipped.head(flips["k"]).mean()
    assert flips["precision_at_k"] == pytest.approx(top_k)
    assert top_k > flags.mean() + 0.3  # far better than picking rows at random
    assert ranked["flipped"].tolist() == is_flipped.astype(int).tolist()


def test_suspects_table_columns_order_and_limits(planted, tmp_path):
    summary = run_diagnostics(planted, tmp_path, max_rows=5, max_pvi=0.0, text_chars=20)
    table = pd.read_csv(tmp_path / "s.tsv", sep="\t")
    assert table.columns.tolist() == ["rank", "id", "pvi", "log2_p_gprime", "gold", "predicted",
                                      "text", "flipped"]
    pvi = pd.read_parquet(planted["pvi"])
    negative = pvi.sort_values(["pvi", "id"])
    negative = negative[negative["pvi"] < 0]
    assert len(table) == min(5, len(negative)) == summary["suspects"]["listed"]
    assert table["id"].tolist() == negative["id"].head(5).tolist()
    assert (table["pvi"] < 0).all() and table["pvi"].is_monotonic_increasing
    assert table["text"].str.len().max() <= 20
    dev = pd.read_parquet(planted["data"] / "dev.parquet").set_index("id")
    gold = dev.loc[table["id"], "label_name"].tolist()
    assert table["gold"].tolist() == gold
    assert summary["negative"] == int((pvi["pvi"] < 0).sum())
    by = summary["by_correct"]
    assert by["gold"]["n"] + by["other"]["n"] == len(pvi)
    assert by["other"]["n"] == int((~pvi["correct"]).sum())


def test_private_task_text_stays_in_the_table_not_in_logs_or_report(planted, tmp_path, caplog):
    data = tmp_path / "data"
    shutil.copytree(planted["data"], data)
    info = read_json(data / "task.json")
    write_json({**info, "private": True}, data / "task.json")
    with caplog.at_level(logging.DEBUG):
        dg.task_diagnostics(planted["pvi"], data / "dev.parquet", data / "task.json",
                            tmp_path / "s.tsv", tmp_path / "s.json", model="nb",
                            flip_records=planted["records"], max_rows=10, max_pvi=None)
    texts = pd.read_csv(tmp_path / "s.tsv", sep="\t")["text"].tolist()
    assert len(texts) == 10 and all(texts)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "10 suspects listed" in logged
    assert not any(t[:15] in logged for t in texts)
    dg.plot_pvi_by_correct(planted["pvi"], tmp_path / "f.png", task=TASK, model="nb")
    dg.task_page(tmp_path / "s.json", tmp_path / "s.tsv", tmp_path / "f.png",
                 tmp_path / "p.html", rows=10)
    page = (tmp_path / "p.html").read_text()
    assert "text withheld" in page and not any(t[:15] in page for t in texts)
    assert "AUROC" in page


def test_overlap_shown_when_prepared_with_the_check(planted, tmp_path):
    overlap = {"normalisation": "nfkc-casefold", "drop": False, "dropped_from_train": 0,
               "dev": {"exact": 2, "normalised": 3,
                       "examples": [{"id": "a", "train_id": "b", "text": "shared sentence"}]},
               "test": {"exact": 0, "normalised": 0, "examples": []}}
    run_diagnostics(planted, tmp_path)
    summary = read_json(tmp_path / "s.json")
    write_json({**summary, "overlap": overlap}, tmp_path / "o.json")
    write_json({**summary, "overlap": None}, tmp_path / "n.json")  # data prepared before the check
    dg.plot_pvi_by_correct(planted["pvi"], tmp_path / "f.png", task=TASK, model="nb")
    dg.task_page(tmp_path / "o.json", tmp_path / "s.tsv", tmp_path / "f.png", tmp_path / "p.html")
    page = (tmp_path / "p.html").read_text()
    assert "2 exact, 3 after normalisation" in page and "shared sentence" in page
    dg.task_page(tmp_path / "n.json", tmp_path / "s.tsv", tmp_path / "f.png", tmp_path / "n.html")
    assert "overlap: <b>not checked</b>" in (tmp_path / "n.html").read_text()
    frame = dg.summarise({"with": tmp_path / "o.json", "without": tmp_path / "n.json"},
                         tmp_path / "sum.tsv", tmp_path / "neg.png", model="nb")
    assert frame["overlap_dev"].tolist() == ["2 exact / 3 normalised", "not checked"]
    table = pd.read_csv(tmp_path / "sum.tsv", sep="\t")
    assert table.columns.tolist() == list(dg.report.SUMMARY_COLUMNS)
    assert table["auroc"].iloc[0] == pytest.approx(summary["flips"]["auroc"])
    assert (tmp_path / "neg.png").stat().st_size > 0


# ----------------------------------------------------------------------------- bad input
def test_pvi_id_missing_from_the_split_is_named(planted, tmp_path):
    pvi = pd.read_parquet(planted["pvi"])
    pvi.loc[0, "id"] = "nowhere:1"
    write_parquet(pvi, tmp_path / "bad.parquet")
    with pytest.raises(PvigroupError, match=r"bad.parquet: id nowhere:1 is not in .*dev.parquet"):
        dg.ranked_instances(tmp_path / "bad.parquet", planted["data"] / "dev.parquet",
                            read_json(planted["data"] / "task.json"))


def test_flip_record_of_other_data_is_refused(planted, tmp_path):
    record = pd.read_csv(planted["records"]["train"], sep="\t")
    dev_ids = set(pd.read_parquet(planted["data"] / "dev.parquet")["id"])
    row = next(r for r in range(240) if f"{TASK}:train:{r}" in dev_ids
               and f"{TASK}:train:{r}" not in planted["flipped"])
    wrong = pd.concat([record, pd.DataFrame({"row": [row], "label": ["nonsense"],
                                             "orig_label": ["food"], "source_row": [row]})])
    wrong.to_csv(tmp_path / "x.flipped.tsv", sep="\t", index=False)
    with pytest.raises(PvigroupError, match=rf"id {TASK}:train:{row} has label .* planted "
                                            r"'nonsense'"):
        dg.task_diagnostics(planted["pvi"], planted["data"] / "dev.parquet",
                            planted["data"] / "task.json", tmp_path / "s.tsv",
                            tmp_path / "s.json", model="nb",
                            flip_records={"train": tmp_path / "x.flipped.tsv"})
    with pytest.raises(PvigroupError, match="id_field 'uid'"):
        dg.flipped_ids({"train": tmp_path / "x.flipped.tsv"}, {"task": TASK, "id_field": "uid"})


def test_only_noisy_twins_have_a_flip_record():
    assert dg.flip_records({"source": {"files": {"train": "resources/demo/bbc-part2of3-noise30.csv"}}}
                           ) == {"train": "resources/demo/bbc-part2of3-noise30.flipped.tsv"}
    assert dg.flip_records({"source": {"files": {"train": "data/mine.csv"}}}) == {}
    assert dg.flip_records({"source": {"hf": {"id": "glue"}}}) == {}


# ----------------------------------------------------------------------------- command line
def test_suspects_command_prints_the_lowest_pvi_rows(planted, capsys):
    rc = cli.main(["suspects", "--model", "nb", "--task", TASK, "--results",
                   str(planted["root"] / "results"), "-n", "3"])
    out = capsys.readouterr().out.splitlines()
    assert rc == 0 and len(out) == 4  # header + 3 rows
    lowest = pd.read_parquet(planted["pvi"]).sort_values(["pvi", "id"])["id"].head(3)
    for line, ident in zip(out[1:], lowest, strict=True):
        assert ident in line
    rc = cli.main(["suspects", "--model", "nb", "--task", "absent", "--results",
                   str(planted["root"] / "results")])
    assert rc == 1 and "absent.parquet: file not found" in capsys.readouterr().err


# ----------------------------------------------------------------------------- workflow
@pytest.mark.slow
def test_adding_a_task_adds_only_its_diagnostics_jobs(tmp_path):
    """Real Snakemake: diagnostics of three tiny tasks (PVI files written directly, as the PVI
    stage would), then a dry run with a fourth task schedules only that task's jobs."""
    shutil.copytree(TINY, tmp_path / "tiny")
    cfg = yaml.safe_load((REPO / "tests" / "data" / "tiny.yaml").read_text())
    cfg["baselines"] = {"enabled": False}
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    for task in cfg["tasks"]:
        out = tmp_path / "results" / "data" / task
        prepare_task(task, cfg["tasks"][task], out, base_dir=tmp_path)
        train, dev = pd.read_parquet(out / "train.parquet"), pd.read_parquet(out / "dev.parquet")
        write_parquet(naive_bayes_pvi(train, dev, len(TOPICS)),
                      tmp_path / "results" / "pvi" / "minilm" / f"{task}.parquet", {"split": "dev"})
    cfg["tasks"]["clean-c"] = {**cfg["tasks"]["clean-a"],
                               "source": {"files": {"train": "tiny/clean-c.csv"}}}
    (tmp_path / "plus.yaml").write_text(yaml.safe_dump(cfg))

    def snakemake(*args: str) -> str:
        cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory",
               str(tmp_path), "--cores", "2", "diagnostics", *args]
        proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=900,
                              env={**os.environ, "HF_HUB_OFFLINE": "1"}, check=False)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
        return proc.stdout

    snakemake("--configfile", str(tmp_path / "tiny.yaml"))
    summary = pd.read_csv(tmp_path / "results" / "diagnostics" / "minilm" / "summary.tsv", sep="\t")
    assert summary["task"].tolist() == ["clean-a", "clean-b", "noisy"]
    out = snakemake("--configfile", str(tmp_path / "plus.yaml"), "-n")
    lines = out.splitlines()
    start = lines.index("Job stats:") + 3
    counts = {}
    for line in lines[start:]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        counts[parts[0]] = int(parts[1])
    counts.pop("total", None)
    assert counts == {"prepare_task": 1, "finetune_gprime": 1, "finetune_null": 1,
                      "compute_pvi": 1, "diagnose_task": 1, "plot_task_diagnostics": 1,
                      "diagnostics_page": 1, "diagnostics_summary": 1, "diagnostics": 1}, out[-3000:]
    tasks = {part.split("=", 1)[1] for line in lines if line.strip().startswith("wildcards:")
             for part in line.replace(",", " ").split() if part.startswith("task=")}
    assert tasks == {"clean-c"}, out[-3000:]


def test_pair_task_lists_both_texts(tmp_path):
    split = pd.DataFrame({"id": ["p:0", "p:1", "p:2"], "text": ["premise a", "premise b", "c"],
                          "text_pair": ["hyp a", "hyp b", "hyp c"], "label": [0, 1, 1],
                          "label_name": ["no", "yes", "yes"]})
    write_parquet(split, tmp_path / "dev.parquet")
    pvi = pd.DataFrame({"id": ["p:2", "p:0", "p:1"], "label": [1, 0, 1],
                        "log2_p_gprime": [-3.0, -0.1, -0.5], "log2_p_null": [-1.0] * 3,
                        "pvi": [-2.0, 0.9, 0.5], "pred": [0, 0, 1], "correct": [False, True, True]})
    write_parquet(pvi, tmp_path / "pvi.parquet")
    write_json({"task": "p", "labels": ["no", "yes"], "pair": True}, tmp_path / "task.json")
    summary = dg.task_diagnostics(tmp_path / "pvi.parquet", tmp_path / "dev.parquet",
                                  tmp_path / "task.json", tmp_path / "s.tsv", tmp_path / "s.json",
                                  model="m")
    table = pd.read_csv(tmp_path / "s.tsv", sep="\t")
    assert table.columns.tolist() == ["rank", "id", "pvi", "log2_p_gprime", "gold", "predicted",
                                      "text", "text_pair"]
    assert table.to_dict("records") == [{"rank": 1, "id": "p:2", "pvi": -2.0, "log2_p_gprime": -3.0,
                                         "gold": "yes", "predicted": "no", "text": "c",
                                         "text_pair": "hyp c"}]
    assert summary["flips"] is None and summary["overlap"] is None
    assert summary["by_correct"]["other"] == {"n": 1, "mean_pvi": -2.0, "negative": 1}


def test_targets_per_task_and_model_and_switch():
    cfg = {"models": {"m": {"tasks": ["b", "a"]}, "k": {}}, "tasks": {"a": {}, "b": {}, "c": {}}}
    out = dg.targets(cfg)
    assert "results/diagnostics/m/a.suspects.tsv" in out and "results/diagnostics/k/c.html" in out
    assert not any(t.startswith("results/diagnostics/m/c.") for t in out)
    assert out.count("results/diagnostics/m/summary.tsv") == 1
    assert len(out) == 4 * (2 + 3) + 2 * 2
    assert dg.targets({**cfg, "diagnostics": {"enabled": False}}) == []
