"""Errors and warnings of task preparation: tab-separated csv, task names, a dev file alone."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pandas as pd
import pytest

from pvigroup.config import check_config, validate_config
from pvigroup.data import prepare_task, read_table
from pvigroup.errors import PvigroupError
from pvigroup.workflow import NAME_RE

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


def _task(train: str, **files) -> dict:
    return {
        "source": {"files": {"train": train, **files}},
        "text": ["sentence"],
        "label": "label",
        "labels": ["a", "b"],
    }


# ----------------------------------------------------------------------------- tsv read as csv
@pytest.mark.parametrize(
    "texts",
    [
        [f"sentence {i}" for i in range(60)],  # read as csv: one column
        [f"sentence {i}" + ", more" * (i % 3) for i in range(60)],  # read as csv: parse error
    ],
)
def test_tab_separated_file_read_as_csv_says_set_format_tsv(tmp_path, texts):
    rows = "".join(f"{t}\t{'ab'[i % 2]}\n" for i, t in enumerate(texts))
    (tmp_path / "train.csv").write_text("sentence\tlabel\n" + rows)
    with pytest.raises(PvigroupError) as err:
        prepare_task("tabs", _task("train.csv"), tmp_path / "out", base_dir=tmp_path)
    message = str(err.value)
    assert "train.csv" in message and "this looks tab-separated: set format: tsv" in message
    assert "\n" not in message
    task = _task("train.csv")
    task["source"]["format"] = "tsv"  # the advice works
    info = prepare_task("tabs", task, tmp_path / "out", base_dir=tmp_path)
    assert sum(info["n"].values()) == 60


def test_csv_with_tabs_inside_its_texts_is_still_csv(tmp_path):
    frame = pd.DataFrame({"sentence": [f"a\ttabbed\ttext {i}" for i in range(5)], "label": "a"})
    frame.to_csv(tmp_path / "tabs.csv", index=False)  # header line has no tab
    read, _ = read_table(tmp_path / "tabs.csv")
    assert read["sentence"].tolist() == frame["sentence"].tolist()
    headless = tmp_path / "headless.csv"
    headless.write_text("".join(f'"x\ty {i}",a,b\n' for i in range(5)))  # 3 csv columns > 2
    read, _ = read_table(headless, header=False)
    assert read.shape == (5, 3)


# ----------------------------------------------------------------------------- task names
def _config(bad: str) -> dict:
    task = {"source": {"files": {"train": "x.csv"}}, "text": ["t"], "label": "y", "labels": [0, 1]}
    return {"tasks": {bad: task}, "models": {"m": {"pretrained": "x"}}}


@pytest.mark.parametrize("bad", ["a__b", "_a", "a b", "a+b"])
def test_task_name_error_states_the_rule_in_words(bad):
    assert not NAME_RE.match(bad)
    for check in (check_config, lambda c: validate_config(c, SCHEMA)):
        with pytest.raises(PvigroupError) as err:
            check(_config(bad))
        message = str(err.value)
        assert f"name {bad!r} is not allowed" in message
        assert "letters, digits, hyphens and single underscores" in message
        assert "start with a letter or digit" in message and "double underscore" in message
        assert NAME_RE.pattern not in message and "(?:" not in message


# ----------------------------------------------------------------------------- dev without test
def _write(path: Path, n: int, start: int = 0) -> str:
    rows = [(f"sentence {i}", "ab"[i % 2]) for i in range(start, start + n)]
    pd.DataFrame(rows, columns=["sentence", "label"]).to_csv(path, index=False)
    return path.name


def test_dev_file_without_test_file_is_a_warning_on_the_console(tmp_path, caplog):
    train = _write(tmp_path / "train.csv", 60)
    dev = _write(tmp_path / "mydev.csv", 20, start=100)
    console = io.StringIO()
    with caplog.at_level(logging.WARNING, logger="pvigroup.data"):
        info = prepare_task(
            "devonly", _task(train, dev=dev), tmp_path / "out", base_dir=tmp_path, console=console
        )
    assert info["split_policy"] == "dev-as-test"
    lines = console.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("pvigroup warning: task devonly: source.files has a dev file")
    assert "mydev.csv becomes the test set" in lines[0] and "source.files.test" in lines[0]
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert not logging.getLogger("pvigroup.data.prepare").handlers  # the console handler is gone


def test_no_warning_when_dev_and_test_are_given_or_only_test(tmp_path, caplog):
    train = _write(tmp_path / "train.csv", 60)
    dev = _write(tmp_path / "dev.csv", 20, start=100)
    test = _write(tmp_path / "test.csv", 20, start=200)
    console = io.StringIO()
    with caplog.at_level(logging.WARNING, logger="pvigroup.data"):
        prepare_task("both", _task(train, dev=dev, test=test), tmp_path / "o1",
                     base_dir=tmp_path, console=console)
        prepare_task("testonly", _task(train, test=test), tmp_path / "o2",
                     base_dir=tmp_path, console=console)
    assert console.getvalue() == "" and not caplog.records


@pytest.mark.slow
def test_prepare_rule_shows_the_warnings_on_the_snakemake_console(tmp_path):
    """A real Snakemake run of the prepare rule: the WARNING lines reach the console (and log)."""
    import os
    import subprocess
    import sys

    import yaml

    repo = Path(__file__).resolve().parents[2]
    train = _write(tmp_path / "train.csv", 60)
    dev = _write(tmp_path / "dev.csv", 20, start=100)
    leaky = tmp_path / "leaky.csv"  # the first 20 train rows again
    pd.read_csv(tmp_path / "train.csv").iloc[:20].to_csv(leaky, index=False)
    config = yaml.safe_load((repo / "tests" / "data" / "tiny.yaml").read_text())
    config["tasks"] = {
        "devonly": _task(train, dev=dev),
        "leaky": {**_task(train, dev=dev, test=leaky.name), "drop_overlap": True},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    targets = [f"results/data/{t}/task.json" for t in config["tasks"]]
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", *targets, "-s", str(repo / "Snakefile"),
         "--directory", str(tmp_path), "--cores", "1", "--configfile", str(tmp_path / "config.yaml")],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    console = proc.stdout + proc.stderr
    assert proc.returncode == 0, console[-4000:]
    assert "pvigroup warning: task devonly: source.files has a dev file (dev.csv)" in console
    assert "pvigroup warning: task leaky: held-out rows share text with train: " in console
    assert "test 20 exact / 20 normalised of 20 rows; dropped 20 train rows" in console
    log = (tmp_path / "logs" / "data" / "leaky" / "prepare_task.log").read_text()
    assert "WARNING" in log and "dropped 20 train rows" in log
