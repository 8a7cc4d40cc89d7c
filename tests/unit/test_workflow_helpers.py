"""Job enumeration and config checks used by the Snakefile."""

import re

import pytest

from pvigroup import workflow as wf
from pvigroup.config import check_config, resolve_pretrained, task_hparams
from pvigroup.errors import PvigroupError


def _config(**extra):
    task = {"source": {"files": {"train": "x.csv"}}, "text": ["text"], "label": "label",
            "labels": ["a", "b"], "overrides": {}}
    cfg = {"tasks": {t: dict(task) for t in ("c", "a", "b", "d")},
           "models": {"m": {"pretrained": "x", "tasks": None}},
           "stats": {"max_group_size": 3}, "grouping": {"manual": []},
           "pvi": {"train": {"epochs": 3, "lr": 1e-4, "batch_size": 16, "max_length": 64,
                             "grad_accum": 1, "warmup_ratio": 0.0, "weight_decay": 0.0,
                             "seed": 1}}}
    cfg.update(extra)
    return cfg


def test_combos_and_group_ids_are_sorted():
    assert wf.combos(["b", "a", "c"], 2) == ["a__b", "a__c", "b__c"]
    assert wf.group_id(["c", "a"]) == "a__c"
    assert wf.group_tasks("a__c") == ["a", "c"]


def test_one_of_matches_only_listed_ids():
    rx = re.compile(f"^(?:{wf.one_of(['a__b', 'a-b'])})$")
    assert rx.match("a__b") and rx.match("a-b")
    assert not rx.match("a__b__c") and not rx.match("ab")
    assert not re.match(f"^(?:{wf.one_of([])})$", "")


def test_targets_count_pairs_and_triples():
    cfg = _config()
    assert len(wf.pair_ids(cfg, "m")) == 6
    assert len(wf.triple_ids(cfg, "m")) == 4
    cfg["stats"]["max_group_size"] = 4
    assert len(wf.triple_ids(cfg, "m")) == 5  # 4 triples + 1 quadruple
    assert wf.stats_targets(cfg) == [
        "results/stats/m/pairs.tsv",
        "results/stats/m/triples.tsv",
        "results/stats/m/vinfo.tsv",
        "results/stats/m/sensitivity.tsv",
        "results/stats/m/sensitivity_summary.tsv",
    ]


def test_model_task_subset_and_manual_groups():
    cfg = _config(grouping={"manual": [["b", "a"], ["c", "d"]]})
    cfg["models"]["m"]["tasks"] = ["a", "b", "c"]
    assert wf.model_tasks(cfg, "m") == ["a", "b", "c"]
    assert wf.manual_groups_for(cfg, "m") == [["a", "b"]]


@pytest.mark.parametrize("bad", ["a__b", "_a", "a b", "a+b"])
def test_names_with_separator_are_refused(bad):
    cfg = _config()
    cfg["tasks"][bad] = cfg["tasks"].pop("a")
    with pytest.raises(PvigroupError, match="not allowed"):
        check_config(cfg)


def test_unknown_task_in_model_or_manual_group_is_named():
    cfg = _config()
    cfg["models"]["m"]["tasks"] = ["a", "zz"]
    with pytest.raises(PvigroupError, match=r"models\.m\.tasks.*'zz'"):
        check_config(cfg)
    cfg = _config(grouping={"manual": [["a", "nope"]]})
    with pytest.raises(PvigroupError, match=r"grouping\.manual\[0\].*'nope'"):
        check_config(cfg)


def test_variability_seed_equal_to_a_main_seed_is_named():
    cfg = _config()
    cfg["pvi"]["variability_seeds"] = [7, 8]
    check_config(cfg)  # extra seeds that differ from the main one are fine
    cfg["pvi"]["variability_seeds"] = [1]
    with pytest.raises(PvigroupError, match=r"pvi\.variability_seeds: 1 is already the main seed"):
        check_config(cfg)
    cfg["pvi"]["variability_seeds"] = [5]
    cfg["tasks"]["b"]["overrides"] = {"seed": 5}  # a task's own seed counts too
    with pytest.raises(PvigroupError, match=r"main seed of task 'b'"):
        check_config(cfg)


def test_label_names_length_checked():
    cfg = _config()
    cfg["tasks"]["a"]["label_names"] = ["only-one"]
    with pytest.raises(PvigroupError, match=r"tasks\.a\.label_names"):
        check_config(cfg)


def test_task_overrides_apply_to_pvi_hparams():
    cfg = _config()
    cfg["tasks"]["a"]["overrides"] = {"epochs": 9}
    assert task_hparams(cfg, "a")["epochs"] == 9
    assert task_hparams(cfg, "b")["epochs"] == 3


def test_resolve_pretrained():
    assert resolve_pretrained("FacebookAI/roberta-large") == "FacebookAI/roberta-large"
    with pytest.raises(PvigroupError, match="cannot resolve"):
        resolve_pretrained("py:no_such_module_xyz.get")


def test_config_readme_documents_every_schema_key(tmp_path):
    from pathlib import Path

    from pvigroup.config import update_config_readme

    repo = Path(__file__).resolve().parents[2]
    copy = tmp_path / "README.md"
    copy.write_text((repo / "config" / "README.md").read_text())
    changed = update_config_readme(copy, repo / "workflow" / "schemas" / "config.schema.yaml")
    assert not changed, (
        "config/README.md is out of date with the schema: run python -c \"from pvigroup.config "
        "import update_config_readme; update_config_readme()\" from the repository root")


def test_canonical_sorts_keys_recursively():
    a = wf.canonical({"b": 1, "a": {"y": [{"d": 1, "c": 2}], "x": 0}})
    assert list(a) == ["a", "b"] and list(a["a"]) == ["x", "y"]
    assert list(a["a"]["y"][0]) == ["c", "d"]


def test_limit_threads_caps_torch_and_blas(monkeypatch):
    import torch

    from pvigroup.io import limit_threads

    before = torch.get_num_threads()
    # set, then delete: monkeypatch records each variable (absent or not) and restores it, so
    # what limit_threads writes into os.environ does not leak into later tests
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(var, "unset-by-the-test")
        monkeypatch.delenv(var)
    try:
        limit_threads(1)
        assert torch.get_num_threads() == 1
        environ = __import__("os").environ
        assert environ["OMP_NUM_THREADS"] == "1" and environ["MKL_NUM_THREADS"] == "1"
        limit_threads(None)  # no job thread count: nothing changes
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_outputs_summary_names_only_existing_files_and_the_groups(tmp_path):
    cfg = {"models": {"m": {}}}
    assert wf.outputs_summary(cfg, tmp_path) == []
    groups = tmp_path / "results" / "groups" / "m"
    groups.mkdir(parents=True)
    (groups / "similar.tsv").write_text("group\ttasks\na__b\ta,b\nc__d__e\tc,d,e\n")
    (groups / "dissimilar.tsv").write_text("group\ttasks\n")
    (tmp_path / "results" / "pvi" / "m").mkdir(parents=True)
    lines = wf.outputs_summary(cfg, tmp_path)
    assert lines[0] == "pvigroup: outputs"
    assert "  results/pvi/m: per-instance PVI, one parquet file per task" in lines
    assert "  results/groups/m/similar.tsv: similar groups: a+b, c+d+e" in lines
    assert "  results/groups/m/dissimilar.tsv: dissimilar groups: none" in lines
    assert not any("tables" in line or "vinfo" in line for line in lines)
