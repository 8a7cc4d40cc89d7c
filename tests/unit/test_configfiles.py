"""Config files merged as Snakemake merges them, and overlays that replace a task's source."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pvigroup.cli import main
from pvigroup.config import validate_config
from pvigroup.configfiles import drop_replaced_sources, load_configfiles
from pvigroup.errors import PvigroupError
from pvigroup.estimate import load_config

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
PAPER = REPO / "config" / "paper.yaml"

OVERLAY = {
    "tasks": {
        # a hub task moved to local files: `hf: null` drops the hub source of paper.yaml
        "boolq": {"source": {"hf": None, "files": {"train": "data/boolq/train.jsonl",
                                                    "test": "data/boolq/val.jsonl"}}},
        "cb": {"max_rows": {"train": 50}},
    },
    "train": {"seeds": [1, 2]},          # a list replaces the earlier list
    "pvi": {"train": {"epochs": 2}},     # a mapping merges key by key
}


def write(path: Path, obj) -> Path:
    path.write_text(yaml.safe_dump(obj, sort_keys=False))
    return path


def test_merge_equals_snakemakes_own(tmp_path):
    """The merged config of ``--configfile paper.yaml overlay.yaml`` is the one Snakemake's
    workflow sees (a Snakefile that writes out its ``config``)."""
    overlay = write(tmp_path / "overlay.yaml", OVERLAY)
    snakefile = tmp_path / "Snakefile"
    out = tmp_path / "config.json"
    snakefile.write_text(
        "import json\n"
        f"json.dump(config, open({str(out)!r}, 'w'), sort_keys=True)\n"
        "rule all:\n    output: []\n")
    subprocess.run([sys.executable, "-m", "snakemake", "-s", str(snakefile), "-n", "--cores",
                    "1", "--configfile", str(PAPER), str(overlay)], cwd=tmp_path, check=True,
                   capture_output=True, text=True, timeout=300)
    seen_by_snakemake = json.loads(out.read_text())
    ours = json.loads(json.dumps(load_configfiles([PAPER, overlay]), sort_keys=True))
    assert ours == seen_by_snakemake
    # what the merge did: the overlay's values won, the rest of paper.yaml stayed
    assert ours["train"]["seeds"] == [1, 2]
    assert ours["pvi"]["train"] == {**yaml.safe_load(PAPER.read_text())["pvi"]["train"],
                                    "epochs": 2}
    assert ours["tasks"]["boolq"]["source"]["hf"] is None
    assert ours["tasks"]["cb"]["source"]["hf"]["id"] == "aps/super_glue"


def test_an_overlay_replaces_a_hub_source_by_files(tmp_path):
    overlay = write(tmp_path / "overlay.yaml", OVERLAY)
    config = load_config([PAPER, overlay], REPO)
    assert config["tasks"]["boolq"]["source"]["files"]["train"] == "data/boolq/train.jsonl"
    assert "hf" not in config["tasks"]["boolq"]["source"]
    assert "files" not in config["tasks"]["cb"]["source"]
    assert config["tasks"]["cb"]["max_rows"]["train"] == 50


def test_without_hf_null_the_merged_source_is_refused_naming_the_task(tmp_path):
    overlay = dict(OVERLAY, tasks={"boolq": {"source": {"files": {"train": "x.csv"}}}})
    path = write(tmp_path / "overlay.yaml", overlay)
    with pytest.raises(PvigroupError, match=r"overlay\.yaml: tasks\.boolq\.source"):
        load_config([PAPER, path], REPO)


def test_a_source_with_neither_kind_left_is_refused():
    config = {"tasks": {"t": {"source": {"hf": None}, "text": ["x"], "label": "y",
                              "labels": [0, 1]}},
              "models": {"m": {"pretrained": "p"}}}
    assert drop_replaced_sources(config) == ["tasks.t.source.hf"]
    config["tasks"]["t"]["source"] = {"hf": None}
    with pytest.raises(PvigroupError, match=r"tasks\.t\.source"):
        validate_config(config, SCHEMA)


def test_bad_files_are_named(tmp_path):
    with pytest.raises(PvigroupError, match="missing.yaml: config file not found"):
        load_configfiles([PAPER, tmp_path / "missing.yaml"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("tasks: [a\n")
    with pytest.raises(PvigroupError, match="bad.yaml"):
        load_configfiles([bad])
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n")
    with pytest.raises(PvigroupError, match="list.yaml"):
        load_configfiles([listed])


def test_estimate_takes_several_config_files(tmp_path, capsys):
    overlay = write(tmp_path / "overlay.yaml", {"train": {"seeds": [1, 2]}})
    assert main(["estimate", "--configfile", str(PAPER), str(overlay)]) == 0
    two_seeds = capsys.readouterr().out
    assert main(["estimate", "--configfile", str(PAPER)]) == 0
    five_seeds = capsys.readouterr().out

    def stl_jobs(text: str) -> int:
        line = next(ln for ln in text.splitlines() if " train_stl " in ln)
        return int(line.split()[2])

    # one STL run per seed and (model, task): 9 + 6 tasks, each under two models
    assert stl_jobs(five_seeds) == 5 * 30 and stl_jobs(two_seeds) == 2 * 30
