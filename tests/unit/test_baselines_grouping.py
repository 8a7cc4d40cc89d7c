"""Baseline grouping rule, group files and the comparison with PVI groups and STL."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pvigroup.baselines import compare, grouping
from pvigroup.errors import PvigroupError
from pvigroup.io import read_tsv, write_tsv


def _sim(values, names=("a", "b", "c", "d")):
    return pd.DataFrame(np.array(values, dtype=float), index=list(names), columns=list(names))


SIM = _sim([[1.0, 0.9, 0.8, 0.1],
            [0.9, 1.0, 0.7, 0.2],
            [0.8, 0.7, 1.0, 0.6],
            [0.1, 0.2, 0.6, 1.0]])


def test_group_scores_are_mean_pairwise_similarity():
    pairs = grouping.group_scores(SIM, 2)
    assert pairs["a__b"] == pytest.approx(0.9) and len(pairs) == 6
    triples = grouping.group_scores(SIM, 3)
    assert triples["a__b__c"] == pytest.approx((0.9 + 0.8 + 0.7) / 3)
    with pytest.raises(ValueError, match="at least 2"):
        grouping.group_scores(SIM, 1)


@pytest.mark.parametrize(("priority", "expected"), [
    ("score", ["a__b", "c__d"]),
    ("larger", ["a__b__c"]),
    ("smaller", ["a__b", "c__d"]),
    ("per-size", ["a__b", "c__d", "a__b__c"]),
])
def test_greedy_rule_is_disjoint_and_ordered(priority, expected):
    scores = {**grouping.group_scores(SIM, 2), **grouping.group_scores(SIM, 3)}
    assert grouping.greedy_disjoint(scores, size_priority=priority) == expected


def test_greedy_rule_ties_thresholds_and_nan():
    scores = {"c__d": 0.5, "a__b": 0.5, "a__c": 0.5, "b__d": math.nan}
    assert grouping.greedy_disjoint(dict(reversed(scores.items()))) == ["a__b", "c__d"]
    assert grouping.greedy_disjoint(scores, max_groups=1) == ["a__b"]
    assert grouping.greedy_disjoint(scores, min_score=0.6) == []
    assert grouping.greedy_disjoint({"b__d": math.nan}) == []
    with pytest.raises(PvigroupError, match="size_priority"):
        grouping.greedy_disjoint(scores, size_priority="random")


def test_matrix_round_trip_and_checks(tmp_path):
    grouping.write_matrix(SIM, tmp_path / "m.tsv")
    back = grouping.read_matrix(tmp_path / "m.tsv")
    pd.testing.assert_frame_equal(back, SIM, check_names=False)
    bad = SIM.copy()
    bad.loc["a", "b"] = np.inf
    with pytest.raises(PvigroupError, match=r"\(a, b\)"):
        grouping.check_square(bad)
    with pytest.raises(PvigroupError, match="same tasks"):
        grouping.check_square(SIM.drop(columns="d"))


def test_group_file_validation(tmp_path):
    df = grouping.groups_from_similarity(SIM, sizes=[2, 3], source="taskemb", test="cosine")
    grouping.write_groups(df, tmp_path / "g.tsv")
    assert list(read_tsv(tmp_path / "g.tsv").columns) == grouping.GROUP_COLUMNS
    empty = grouping.groups_from_similarity(SIM, sizes=[2], source="taskemb", test="cosine",
                                            min_score=0.95)
    grouping.write_groups(empty, tmp_path / "e.tsv")
    assert (tmp_path / "e.tsv").read_text().strip() == "\t".join(grouping.GROUP_COLUMNS)
    broken = df.copy()
    broken.loc[0, "group"] = "b__a"
    with pytest.raises(PvigroupError, match="row 1"):
        grouping.write_groups(broken, tmp_path / "x.tsv")


def test_group_file_is_read_by_the_groups_module(tmp_path):
    from pvigroup import groups

    grouping.baseline_groups(_write(tmp_path), tmp_path / "g.tsv", method="surrogate",
                             test="surrogate-ols", sizes=[2, 3])
    df = groups.read_groups(tmp_path / "g.tsv")
    assert list(df["group"]) == ["a__b", "c__d"]


def _write(tmp_path):
    grouping.write_matrix(SIM, tmp_path / "sim.tsv")
    return tmp_path / "sim.tsv"


def _aggregate():
    rows = [
        # kind, source, group, task, acc, acc_ci, f1, f1_ci
        ("stl", "stl", "a", "a", 0.80, 0.01, 0.70, 0.02),
        ("stl", "stl", "b", "b", 0.60, 0.01, 0.50, 0.02),
        ("stl", "stl", "c", "c", 0.70, 0.01, 0.65, 0.02),
        ("mtl", "pvi-similar", "a__b", "a", 0.85, 0.01, 0.75, 0.02),
        ("mtl", "pvi-similar", "a__b", "b", 0.58, 0.01, 0.49, 0.02),
        ("mtl", "pvi-similar", "a__b__c", "a", 0.83, 0.01, 0.72, 0.02),
        ("mtl", "taskemb", "a__c", "a", 0.78, 0.01, 0.69, 0.02),
        ("mtl", "taskemb", "a__c", "c", 0.75, 0.01, 0.66, 0.02),
        ("mtl", "surrogate", "b__c", "b", 0.61, 0.01, 0.52, 0.02),
        ("mtl", "surrogate", "b__c", "c", 0.69, 0.01, 0.64, 0.02),
    ]
    df = pd.DataFrame(rows, columns=["kind", "source", "group", "task", "acc_mean", "acc_ci",
                                     "f1_mean", "f1_ci"])
    df.insert(4, "n_seeds", 5)
    return df


def test_compare_with_pvi(tmp_path):
    write_tsv(_aggregate(), tmp_path / "aggregate.tsv")
    out = compare.compare_with_pvi(tmp_path / "aggregate.tsv", "taskemb", tmp_path / "cmp.tsv")
    back = read_tsv(tmp_path / "cmp.tsv")
    assert list(back.columns)[:10] == ["group", "task", "ours_acc", "ours_acc_ci", "ours_f1",
                                       "ours_f1_ci", "base_acc", "base_acc_ci", "base_f1",
                                       "base_f1_ci"]
    assert list(out["task"]) == ["a", "c"]
    a = out.set_index("task").loc["a"]
    assert (a["ours_acc"], a["ours_group"], a["base_acc"]) == (0.85, "a__b", 0.78)  # best PVI
    c = out.set_index("task").loc["c"]
    assert (c["ours_acc"], c["ours_kind"]) == (0.70, "stl")  # in no PVI group row: STL
    empty = compare.compare_with_pvi(tmp_path / "aggregate.tsv", "tag", tmp_path / "none.tsv")
    assert empty.empty and read_tsv(tmp_path / "none.tsv").empty


def test_beat_stl_summary(tmp_path):
    write_tsv(_aggregate(), tmp_path / "aggregate.tsv")
    out = compare.beat_stl(tmp_path / "aggregate.tsv", tmp_path / "beat.tsv").set_index("source")
    assert list(out.index) == ["pvi-similar", "surrogate", "taskemb"]
    pvi = out.loc["pvi-similar"]
    assert (pvi["n_groups"], pvi["n_rows"], pvi["acc_wins"]) == (2, 3, 2)
    assert pvi["acc_clear_wins"] == 2  # 0.85-0.01 > 0.81 and 0.83-0.01 > 0.81
    assert pvi["group_acc_wins"] == 2  # a__b: (+0.05 - 0.02)/2 > 0; a__b__c: +0.03
    te = out.loc["taskemb"]
    assert (te["acc_wins"], te["mean_acc_gain"]) == (1, pytest.approx((-0.02 + 0.05) / 2))
    with pytest.raises(PvigroupError, match="missing column"):
        write_tsv(_aggregate().drop(columns="f1_ci"), tmp_path / "bad.tsv")
        compare.beat_stl(tmp_path / "bad.tsv", tmp_path / "x.tsv")


def test_reads_gprime_and_compared_methods_follow_the_config():
    from pvigroup import baselines as bl

    cfg = {"baselines": {"enabled": True, "compare": True,
                         "taskemb": {"enabled": True, "source": "gprime"},
                         "surrogate": {"enabled": True}},
           "train": {"enabled": True, "sources": ["pvi-similar", "taskemb"]}}
    assert bl.reads_gprime(cfg)
    assert bl.compared_methods(cfg) == ["taskemb"]
    cfg["baselines"]["taskemb"]["source"] = "base"
    assert not bl.reads_gprime(cfg)
    cfg["baselines"]["taskemb"] = {"enabled": False, "source": "gprime"}
    assert not bl.reads_gprime(cfg)
    # no training, nothing to compare
    cfg["baselines"]["taskemb"]["enabled"] = True
    cfg["train"]["enabled"] = False
    assert bl.compared_methods(cfg) == []
