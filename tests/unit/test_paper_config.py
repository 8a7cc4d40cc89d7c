"""config/paper.yaml against its sources: the public files' columns and codes, the hub datasets'
documented fields and labels, pinned revisions, and the groups of Tables 15-16."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from pvigroup import tables as tb
from pvigroup.config import validate_config
from pvigroup.data import prepare_task
from pvigroup.data.options import format_fields
from pvigroup.errors import PvigroupError
from pvigroup.estimate import load_config
from pvigroup.workflow import manual_entries_for

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
PAPER = REPO / "config" / "paper.yaml"

# Features of the hub datasets as their dataset cards document them (huggingface.co/datasets/
# aps/super_glue and nyu-mll/glue, "Data Fields"): the fields of a row and the ClassLabel names.
DOCUMENTED = {
    ("aps/super_glue", "boolq"): (["question", "passage", "idx", "label"], ["False", "True"]),
    ("aps/super_glue", "cb"): (["premise", "hypothesis", "idx", "label"],
                               ["entailment", "contradiction", "neutral"]),
    ("aps/super_glue", "rte"): (["premise", "hypothesis", "idx", "label"],
                                ["entailment", "not_entailment"]),
    ("aps/super_glue", "copa"): (["premise", "choice1", "choice2", "question", "idx", "label"],
                                 ["choice1", "choice2"]),
    ("aps/super_glue", "wic"): (["word", "sentence1", "sentence2", "start1", "start2", "end1",
                                 "end2", "idx", "label"], ["False", "True"]),
    ("nyu-mll/glue", "cola"): (["sentence", "label", "idx"], ["unacceptable", "acceptable"]),
    ("nyu-mll/glue", "sst2"): (["sentence", "label", "idx"], ["negative", "positive"]),
}
# The authors' public files (docs/paper-data.md): path under data/, columns, label codes.
PUBLIC = {
    "health-advice": ("health_advice/annotations_structured_abstract.csv",
                      ["label", "pmid", "sentence", "design"], 3),
    "causal-language": ("causal_language/pubmed_causal_language_use.csv", ["sentence", "label"], 4),
}


@pytest.fixture(scope="module")
def paper():
    return load_config(PAPER, REPO)


def test_hub_tasks_match_the_documented_fields_and_labels(paper):
    hub = {t: spec for t, spec in paper["tasks"].items() if "hf" in spec["source"]}
    assert sorted(hub) == ["boolq", "cb", "cola", "copa", "rte", "sst2", "wic"]
    for task, spec in hub.items():
        hf = spec["source"]["hf"]
        fields, names = DOCUMENTED[(hf["id"], hf["name"])]
        used = spec["text"] if not spec.get("text_format") else [
            f for fmt in spec["text_format"] for f in format_fields(fmt)]
        assert set(used) <= set(fields) and spec["label"] in fields, task
        assert spec["labels"] == list(range(len(names))), task
        if spec.get("label_names") is not None:
            assert spec["label_names"] == names, task
        # pinned: a full commit id, recorded in task.json's source and so in the PVI provenance
        assert len(hf["revision"]) == 40 and int(hf["revision"], 16) >= 0, task
        # no labelled test split on the hub: validation becomes test (the paper's footnote 2)
        assert hf["splits"] == {"train": "train", "dev": "validation", "test": None}, task


def standin(task: str, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Rows with the public file's columns and integer codes (texts made up)."""
    _, columns, k = PUBLIC[task]
    labels = rng.integers(0, k, size=n)
    frame = pd.DataFrame({"label": labels,
                          "sentence": [f"finding {i} with code {c} in words" for i, c in
                                       enumerate(labels)]})
    if "pmid" in columns:
        frame["pmid"] = 20000000 + np.sort(rng.integers(0, n // 4, size=n))
        frame["design"] = "observational"
    return frame[columns]


def test_public_files_placed_as_documented_prepare(tmp_path, paper):
    """The two public files, placed where docs/paper-data.md says, prepare with paper.yaml's
    declarations: integer codes named, the paper's split policy, abstracts kept whole."""
    rng = np.random.default_rng(5)
    sizes = {"health-advice": 5982, "causal-language": 3061}  # the files' row counts
    for task, (rel, _, _) in PUBLIC.items():
        path = tmp_path / "data" / rel
        path.parent.mkdir(parents=True)
        standin(task, sizes[task], rng).to_csv(path, index=False)
    infos = {t: prepare_task(t, paper["tasks"][t], tmp_path / "out" / t, base_dir=tmp_path)
             for t in PUBLIC}
    assert infos["health-advice"]["labels"] == ["no_advice", "weak_advice", "strong_advice"]
    assert infos["causal-language"]["labels"] == [
        "no_relationship", "direct_causal", "conditional_causal", "correlational"]
    for info in infos.values():
        assert info["split_policy"] == "split-train-dev-test"
    # the paper's Table 9: test 20 % of the rows, dev 20 % of the rest
    assert infos["causal-language"]["n"] == {"train": 1959, "dev": 490, "test": 612}
    ha = infos["health-advice"]
    assert sum(ha["n"].values()) == 5982
    assert abs(ha["n"]["test"] - 1196) <= 12 and abs(ha["n"]["dev"] - 957) <= 12
    assert ha["groups"]["field"] == "pmid"
    assert ha["overlap"]["groups"]["shared"] == {"train-dev": 0, "train-test": 0, "dev-test": 0}


def test_public_file_with_text_labels_is_refused_naming_the_values(tmp_path, paper):
    """A file whose labels are names, not the public codes, stops with the allowed values."""
    rel, _, _ = PUBLIC["causal-language"]
    path = tmp_path / "data" / rel
    path.parent.mkdir(parents=True)
    pd.DataFrame({"sentence": [f"s {i}" for i in range(40)],
                  "label": ["correlational"] * 40}).to_csv(path, index=False)
    with pytest.raises(PvigroupError, match=r"pubmed_causal_language_use\.csv, line 2 .*label"):
        prepare_task("causal-language", paper["tasks"]["causal-language"], tmp_path / "o",
                     base_dir=tmp_path)


def test_second_models_train_the_groups_of_tables_15_and_16(paper):
    published = tb.paper_tables()["tables"]
    for number, model in ((15, "bert-base-uncased"), (16, "biobert")):
        rows = []
        for row in published[number]["rows"]:
            if row[0] not in rows:
                rows.append(row[0])
        similar = [e["tasks"] for e in manual_entries_for(paper, model) if e["role"] == "similar"]
        assert similar == rows, number
        assert not [e for e in manual_entries_for(paper, model) if e["role"] == "dissimilar"]
    plans = {p.number: p for p in tb.plan_tables(paper)}
    assert plans[15].settings["model"] == "bert-base-uncased"
    assert plans[16].settings["model"] == "biobert"
    assert {n for n, p in plans.items() if p.skip} == set(), {
        n: p.skip for n, p in plans.items() if p.skip}


def test_manual_models_restrict_a_group_and_unknown_models_are_refused(paper):
    listed = {e["name"] for e in manual_entries_for(paper, "roberta-large")}
    assert "table3-boolq-rte" in listed and "table15-boolq-rte" not in listed
    cfg = yaml.safe_load(PAPER.read_text())
    cfg["grouping"]["manual"][0]["models"] = ["roberta-base"]
    with pytest.raises(PvigroupError, match=r"grouping\.manual\[0\]\.models names unknown model "
                                            r"'roberta-base'"):
        validate_config(cfg, SCHEMA)


def test_llm_baselines_keep_private_tasks_local(paper):
    llms = paper["llm"]["models"]
    assert {k: v["backend"] for k, v in llms.items()} == {"llama2-7b": "local",
                                                         "llama2-70b": "local"}
    from pvigroup.llm.spec import api_key_envvars, llm_jobs

    private = {t for t, s in paper["tasks"].items() if s.get("private")}
    assert len(private) == 6
    assert {t for m, t in llm_jobs(paper) if m == "llama2-7b"} == set(paper["tasks"])
    assert api_key_envvars(paper) == []  # paper.yaml runs without an API key
    # GPT-4 (config/paper-gpt4.yaml) sees only the public tasks, and needs its key
    with_gpt4 = load_config([PAPER, REPO / "config" / "paper-gpt4.yaml"], REPO)
    assert {t for m, t in llm_jobs(with_gpt4) if m == "gpt-4"} == set(paper["tasks"]) - private
    assert api_key_envvars(with_gpt4) == ["OPENAI_API_KEY"]
