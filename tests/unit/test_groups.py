"""Unit tests of pvigroup.groups on constructed test tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pvigroup import groups
from pvigroup.config import StatsSettings
from pvigroup.errors import PvigroupError
from pvigroup.groups.checks import check_tests
from pvigroup.io import read_tsv, write_tsv


def table(*rows, tost=False):
    """Rows (tasks "a,b", statistic, pvalue[, tost_pvalue]) as a tests table."""
    out = []
    for r in rows:
        tasks = r[0].split(",")
        row = {
            "group": "__".join(sorted(tasks)),
            "tasks": ",".join(sorted(tasks)),
            "size": len(tasks),
            "test": "student" if len(tasks) == 2 else "anova",
            "statistic": r[1],
            "pvalue": r[2],
        }
        if tost:
            row["tost_pvalue"] = r[3]
        out.append(row)
    return pd.DataFrame(out)


def groups_of(frame):
    return list(frame["group"])


# ----------------------------------------------------------------------------- tie-break
def test_task_in_two_pairs_paper_vs_closest():
    # cb is similar to both copa (|t| = 1.328) and cola (|t| = 1.237); paper keeps larger |t|
    t = table(("cb,copa", 1.328, 0.185), ("cb,cola", -1.237, 0.216), ("rte,wic", 5.0, 1e-6))
    sim, _ = groups.select_groups(t, StatsSettings(tie_break="paper"))
    assert groups_of(sim) == ["cb__copa"]
    sim, _ = groups.select_groups(t, StatsSettings(tie_break="closest"))
    assert groups_of(sim) == ["cb__cola"]
    assert sim.loc[0, "score"] == pytest.approx(1.237)  # |statistic|, the quantity ranked by


def test_paper_table1_pairs_disjoint():
    # the paper's Table 1 (general domain); every task ends in at most one group
    t = table(
        ("advice,causal", 1.398, 0.162),
        ("causal,cb", 2.411, 0.016),
        ("boolq,rte", 1.775, 0.076),
        ("cb,copa", 1.328, 0.185),
        ("cb,cola", 1.237, 0.216),
        ("cb,sst2", -1.660, 0.097),
        ("copa,wic", -2.358, 0.019),
        ("cola,copa", -0.072, 0.943),
    )
    paper, _ = groups.select_groups(t, StatsSettings(tie_break="paper"))
    assert groups_of(paper) == ["causal__cb", "copa__wic", "boolq__rte"]
    closest, _ = groups.select_groups(t, StatsSettings(tie_break="closest"))
    assert groups_of(closest) == ["cola__copa", "advice__causal", "cb__sst2", "boolq__rte"]
    for frame in (paper, closest):
        tasks = [x for ts in frame["tasks"] for x in ts.split(",")]
        assert len(tasks) == len(set(tasks)), list(frame["group"])


def test_triple_vs_pair_conflict():
    # triple a,b,c (F = 0.8, p = 0.44) and pair a,d (t = 2.5, p = 0.013) share task a
    t = table(("a,b,c", 0.8, 0.44), ("a,d", 2.5, 0.013), ("b,c", 0.1, 0.9))
    sim, _ = groups.select_groups(t)  # default: larger groups first
    assert groups_of(sim) == ["a__b__c"]
    sim, _ = groups.select_groups(t, StatsSettings(size_priority="smaller"))
    assert groups_of(sim) == ["a__d", "b__c"]
    # one p-value scale: paper = smaller p first (a,d), closest = larger p first (b,c, then ...)
    sim, _ = groups.select_groups(t, StatsSettings(size_priority="pvalue", tie_break="paper"))
    assert groups_of(sim) == ["a__d", "b__c"]
    assert sim.loc[0, "score"] == pytest.approx(0.013)
    sim, _ = groups.select_groups(t, StatsSettings(size_priority="pvalue", tie_break="closest"))
    assert groups_of(sim) == ["b__c", "a__d"]


def test_exact_ties_broken_by_group_id():
    t = table(("b,c", 2.0, 0.05), ("a,b", -2.0, 0.05), ("c,d", 2.0, 0.05))
    for rule in ("paper", "closest"):
        sim, _ = groups.select_groups(t, StatsSettings(tie_break=rule))
        assert groups_of(sim) == ["a__b", "c__d"]
    # order of the input rows does not matter
    sim, _ = groups.select_groups(t.iloc[::-1], StatsSettings(tie_break="paper"))
    assert groups_of(sim) == ["a__b", "c__d"]


def test_p_equal_to_alpha_is_neither_similar_nor_dissimilar():
    t = table(("a,b", 2.6, 0.01), ("c,d", 2.6, 0.0100001), ("e,f", 2.6, 0.0099999))
    sim, dis = groups.select_groups(t, StatsSettings(alpha=0.01))
    assert groups_of(sim) == ["c__d"]
    assert groups_of(dis) == ["e__f"]


def test_dissimilar_most_different_first_and_disjoint():
    t = table(
        ("a,b", 9.0, 1e-12),
        ("a,c", 12.0, 0.0),
        ("b,d", 7.0, 0.0),
        ("c,d", 3.0, 0.001),
        ("a,b,c", 40.0, 0.0),
        ("e,f", 0.5, 0.6),
    )
    _, dis = groups.select_groups(t)
    # p = 0 ties: larger groups first (size priority), then larger |statistic|
    assert groups_of(dis) == ["a__b__c"]
    _, dis = groups.select_groups(t, StatsSettings(dissimilar_sizes=(2,)))
    assert groups_of(dis) == ["a__c", "b__d"]
    assert list(dis["source"]) == ["pvi-dissimilar"] * 2
    assert list(dis["score"]) == [0.0, 0.0]
    # max_dissimilar keeps the most different ones only; similar groups are unaffected
    sim_all, _ = groups.select_groups(t, StatsSettings(dissimilar_sizes=(2,)))
    sim1, dis1 = groups.select_groups(t, StatsSettings(dissimilar_sizes=(2,), max_dissimilar=1))
    assert groups_of(dis1) == ["a__c"] and sim1.equals(sim_all)
    assert groups.select_groups(t, StatsSettings(max_dissimilar=0))[1].empty
    with pytest.raises(ValueError, match="max_dissimilar"):
        groups.select_groups(t, StatsSettings(max_dissimilar=-1))


def test_tost_acceptance():
    t = table(
        ("a,b", 0.2, 0.8, 0.001),
        ("a,c", 0.1, 0.9, 0.2),
        ("c,d", 4.0, 1e-4, 0.005),
        ("b,c,d", 0.5, 0.6, 0.02),
        tost=True,
    )
    sim, dis = groups.select_groups(t, StatsSettings(test="tost", alpha=0.01))
    # accepted: a,b and c,d (tost p < alpha), not a,c or the triple (one pair not equivalent)
    assert groups_of(sim) == ["c__d", "a__b"]
    assert list(sim["tost_pvalue"]) == [0.005, 0.001]
    assert groups_of(dis) == ["c__d"]  # dissimilar keeps the difference test's meaning
    with pytest.raises(PvigroupError, match="tost_pvalue"):
        groups.select_groups(t.drop(columns="tost_pvalue"), StatsSettings(test="tost"))


def test_corrected_pvalues_are_used_when_present():
    t = table(("a,b", 2.7, 0.008), ("c,d", 2.0, 0.05))
    t["pvalue_adj"] = [0.016, 0.1]
    sim, _ = groups.select_groups(t)
    assert groups_of(sim) == ["a__b", "c__d"]
    assert list(sim["pvalue"]) == [0.016, 0.1]


def test_bad_tables_and_options():
    with pytest.raises(ValueError, match="paper, closest"):
        groups.select_groups(table(("a,b", 1.0, 0.5)), StatsSettings(tie_break="larger"))
    with pytest.raises(ValueError, match="larger, smaller, pvalue"):
        groups.select_groups(table(("a,b", 1.0, 0.5)), StatsSettings(size_priority="none"))
    bad = table(("a,b", 1.0, 0.5))
    bad.loc[0, "group"] = "b__a"
    with pytest.raises(PvigroupError, match="row 0: group 'b__a' does not match"):
        groups.select_groups(bad, where="pairs.tsv")
    nan = table(("a,b", 1.0, np.nan))
    with pytest.raises(PvigroupError, match="pvalue is not a number"):
        groups.select_groups(nan)
    with pytest.raises(PvigroupError, match="appears more than once"):
        groups.select_groups(table(("a,b", 1.0, 0.5), ("b,a", 1.0, 0.5)))


def test_empty_table():
    sim, dis = groups.select_groups(table(("a,b", 1.0, 0.5)).iloc[:0])
    assert sim.empty and dis.empty and list(sim.columns) == list(groups.GROUP_COLUMNS)


# ----------------------------------------------------------------------------------- files
def test_write_groups_round_trip(tmp_path):
    write_tsv(
        table(("cb,copa", 1.3, 0.18), ("cb,cola", 1.2, 0.2), ("rte,wic", 5.0, 1e-6)),
        tmp_path / "pairs.tsv",
    )
    write_tsv(table(("cb,cola,copa", 0.8, 0.44)).iloc[:0], tmp_path / "triples.tsv")
    groups.write_groups(
        tmp_path / "pairs.tsv",
        tmp_path / "triples.tsv",
        tmp_path / "similar.tsv",
        tmp_path / "dissimilar.tsv",
    )
    back = groups.read_groups(tmp_path / "similar.tsv")
    assert list(back.columns) == list(groups.GROUP_COLUMNS)
    assert list(back["group"]) == ["cb__copa"] and back.loc[0, "source"] == "pvi-similar"
    assert list(groups.read_groups(tmp_path / "dissimilar.tsv")["group"]) == ["rte__wic"]
    groups.write_groups(tmp_path / "pairs.tsv", None, tmp_path / "s2.tsv", tmp_path / "d2.tsv",
                        StatsSettings(alpha=0.5))
    assert groups.read_groups(tmp_path / "s2.tsv").empty
    assert (tmp_path / "s2.tsv").read_text() == "\t".join(groups.GROUP_COLUMNS) + "\n"


def test_manual_groups(tmp_path):
    out = tmp_path / "manual.tsv"
    groups.manual_groups(
        [["rte", "boolq"], ["cb", "copa", "cola"]], ["boolq", "cb", "cola", "copa", "rte"], out
    )
    g = groups.read_groups(out)
    assert list(g["group"]) == ["boolq__rte", "cb__cola__copa"]
    assert list(g["size"]) == [2, 3] and set(g["source"]) == {"manual"}
    with pytest.raises(PvigroupError, match=r"grouping.manual\[1\]: unknown task\(s\) wsc"):
        groups.manual_groups([["rte", "cb"], ["wsc", "rte"]], ["rte", "cb"], out)
    with pytest.raises(PvigroupError, match="at least 2 tasks"):
        groups.manual_groups([["rte"]], ["rte"], out)
    with pytest.raises(PvigroupError, match="listed twice"):
        groups.manual_groups([["rte", "rte"]], ["rte"], out)
    with pytest.raises(PvigroupError, match=r"already grouping.manual\[0\]"):
        groups.manual_groups([["rte", "cb"], ["cb", "rte"]], ["rte", "cb"], out)
    groups.manual_groups([], ["rte"], out)
    assert groups.read_groups(out).empty


def test_read_groups_checks(tmp_path):
    p = tmp_path / "g.tsv"
    write_tsv(
        pd.DataFrame(
            {
                "group": ["a__c"],
                "tasks": ["a,b"],
                "size": [2],
                "source": ["x"],
                "test": [""],
                "statistic": [1.0],
                "pvalue": [0.5],
                "score": [1.0],
            }
        ),
        p,
    )
    with pytest.raises(PvigroupError, match=r"g\.tsv: row 2: group 'a__c' does not match"):
        groups.read_groups(p)
    write_tsv(pd.DataFrame({"group": ["a__b"], "tasks": ["a,b"]}), p)
    with pytest.raises(PvigroupError, match="missing column"):
        groups.read_groups(p)
    assert read_tsv(p).shape == (1, 2)


# ----------------------------------------------------------------------------- modes
def test_accepted_mode_overlaps_and_orders_most_similar_first():
    t = table(("a,b", 1.0, 0.3), ("a,c", 0.1, 0.9), ("b,c", -0.5, 0.6), ("a,b,c", 0.4, 0.7),
              ("c,d", 5.0, 1e-6), ("a,d", 0.2, 0.9), ("e,f", 0.3, 0.95))
    sim, _ = groups.select_groups(t, StatsSettings(select="accepted"))
    # largest p first; a p tie (0.9) goes to the larger group, then the group id
    assert groups_of(sim) == ["e__f", "a__c", "a__d", "a__b__c", "b__c", "a__b"]
    assert list(sim["score"]) == list(sim["pvalue"])
    sim, _ = groups.select_groups(t, StatsSettings(select="accepted", max_groups=2))
    assert groups_of(sim) == ["e__f", "a__c"]
    assert groups.select_groups(t, StatsSettings(select="accepted", max_groups=0))[0].empty
    # the budget in cover mode keeps the most similar of the cover, in cover order
    cover, _ = groups.select_groups(t, StatsSettings(select="cover", size_priority="smaller"))
    capped, _ = groups.select_groups(t,
                                     StatsSettings(select="cover", size_priority="smaller", max_groups=1))
    assert groups_of(cover) == ["a__b", "e__f"] and groups_of(capped) == ["e__f"]
    with pytest.raises(ValueError, match="max_groups"):
        groups.select_groups(t, StatsSettings(select="accepted", max_groups=-1))
    with pytest.raises(ValueError, match=r"grouping\.select"):
        groups.select_groups(t, StatsSettings(select="all"))


def test_accepted_mode_with_tost_keeps_smallest_tost_p_first():
    t = table(("a,b", 0.2, 0.8, 0.004), ("a,c", 0.1, 0.9, 0.001), ("c,d", 0.3, 0.7, 0.2),
              tost=True)
    sim, _ = groups.select_groups(t, StatsSettings(test="tost", select="accepted"))
    assert groups_of(sim) == ["a__c", "a__b"] and list(sim["score"]) == [0.001, 0.004]


def test_partner_control_each_task_with_its_most_different_partner():
    t = table(("a,b", 9.0, 1e-9), ("a,c", 3.0, 1e-3), ("b,c", 4.0, 1e-4), ("c,d", 2.0, 1e-5),
              ("a,d", 8.0, 1e-9), ("a,b,c", 30.0, 0.0), ("e,f", 0.5, 0.6))
    _, dis = groups.select_groups(t, StatsSettings(control="partner"))
    # a: a,b and a,d tie on p, a,b has the larger |t|; b: a,b; c: c,d; d: a,d (p 1e-9 < 1e-5)
    assert groups_of(dis) == ["a__b", "a__d", "c__d"]
    assert (dis["size"] == 2).all()  # pairs only, whatever the triples say
    assert groups_of(groups.select_groups(t, StatsSettings(control="partner", max_dissimilar=1))[1]) == ["a__b"]
    with pytest.raises(ValueError, match="size 2 only"):
        groups.select_groups(t, StatsSettings(control="partner", dissimilar_sizes=[2, 3]))
    # input order does not matter
    again = groups.select_groups(t.iloc[::-1], StatsSettings(control="partner"))[1]
    assert groups_of(again) == groups_of(dis)


def test_cover_order_equals_the_documented_sort_keys():
    rng = np.random.default_rng(3)
    names = [f"t{i}" for i in range(12)]
    rows = []
    for k in (2, 3):
        for combo in __import__("itertools").combinations(names, k):
            rows.append((",".join(combo), float(rng.normal()), float(rng.choice([0.02, 0.5,
                                                                                rng.uniform()]))))
    t = table(*rows)
    checked = check_tests(t, "significance", "t")
    for rule in groups.RULES:
        for prio in groups.SIZE_PRIORITIES:
            sim, _ = groups.select_groups(t,
                                          StatsSettings(tie_break=rule, size_priority=prio, select="cover"))
            acc = checked[checked["_p"] > 0.01]
            order = sorted(acc.index, key=lambda i: groups.similar_key(acc.loc[i], rule=rule,
                                                                        size_priority=prio))
            taken, expect = set(), []
            for i in order:
                ts = set(acc.at[i, "group"].split("__"))
                if taken.isdisjoint(ts):
                    expect.append(acc.at[i, "group"])
                    taken |= ts
            assert groups_of(sim) == expect


def test_bad_rows_named_in_vectorised_checks():
    t = table(("a,b", 1.0, 0.5), ("c,d", 1.0, 0.5), ("e,f", 1.0, 0.5))
    bad = t.copy()
    bad.loc[2, "tasks"] = "e,e"
    bad.loc[2, "group"] = "e__e"
    with pytest.raises(PvigroupError, match=r"row 2 \(e__e\): bad tasks 'e,e' \(a task twice\)"):
        groups.select_groups(bad)
    bad = t.copy()
    bad.loc[1, "size"] = 3
    with pytest.raises(PvigroupError, match=r"row 1 .*size 3 but 2 tasks"):
        groups.select_groups(bad)
    bad = t.copy()
    bad.loc[0, "tasks"] = "a b,c"
    with pytest.raises(PvigroupError, match=r"row 0 .*bad tasks 'a b,c'"):
        groups.select_groups(bad)
    unsorted = t.copy()
    unsorted.loc[0, "tasks"] = "b,a"  # listed out of id order, still the same group
    assert groups_of(groups.select_groups(unsorted, StatsSettings(select="accepted"))[0]) == [
        "a__b", "c__d", "e__f"]


def test_write_groups_reads_parquet_and_tsv_alike(tmp_path):
    pairs = table(("a,b", 1.0, 0.5), ("a,c", 5.0, 1e-6), ("b,c", 4.0, 1e-5))
    triples = table(("a,b,c", 9.0, 1e-4))
    write_tsv(pairs, tmp_path / "pairs.tsv")
    pairs.to_parquet(tmp_path / "pairs.parquet")
    triples.to_parquet(tmp_path / "triples.parquet")
    opts = StatsSettings(select="accepted", control="partner", dissimilar_sizes=[2])
    a = groups.write_groups(tmp_path / "pairs.tsv", tmp_path / "triples.parquet",
                            tmp_path / "s1.tsv", tmp_path / "d1.tsv", opts)
    b = groups.write_groups(tmp_path / "pairs.parquet", tmp_path / "triples.parquet",
                            tmp_path / "s2.tsv", tmp_path / "d2.tsv", opts)
    assert (tmp_path / "s1.tsv").read_bytes() == (tmp_path / "s2.tsv").read_bytes()
    assert (tmp_path / "d1.tsv").read_bytes() == (tmp_path / "d2.tsv").read_bytes()
    assert groups_of(a[1]) == ["a__c", "b__c"] and a[0].equals(b[0])
    (tmp_path / "pairs.csv").write_text("x")
    with pytest.raises(PvigroupError, match=r"pairs\.csv: a tests table must end in"):
        groups.write_groups(tmp_path / "pairs.csv", None, tmp_path / "s.tsv", tmp_path / "d.tsv")
    bad = pairs.copy()
    bad.loc[1, "pvalue"] = np.nan
    bad.to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(PvigroupError, match=r"bad\.parquet: row 1 \(a__c\): pvalue is not"):
        groups.write_groups(tmp_path / "bad.parquet", None, tmp_path / "s.tsv", tmp_path / "d.tsv")


def test_selection_bound():
    assert groups.selection_bound(9, {}) == {"similar": 36 + 84, "dissimilar": 8}
    assert groups.selection_bound(9, {}, max_group_size=2) == {"similar": 36, "dissimilar": 8}
    assert groups.selection_bound(9, {"select": "cover", "control": "cover"}) == {
        "similar": 4, "dissimilar": 4}
    assert groups.selection_bound(9, {"control": "cover", "dissimilar_sizes": [3]}) == {
        "similar": 120, "dissimilar": 3}
    assert groups.selection_bound(500, {"max_groups": 1000, "max_dissimilar": 10}) == {
        "similar": 1000, "dissimilar": 10}
    assert groups.selection_bound(1, {}) == {"similar": 0, "dissimilar": 0}
    # the bound holds: accepted/partner on a table where everything is decided
    rng = np.random.default_rng(1)
    names = [f"t{i}" for i in range(7)]
    rows = [(",".join(c), float(rng.normal()), float(rng.choice([1e-5, 0.5])))
            for k in (2, 3) for c in __import__("itertools").combinations(names, k)]
    sim, dis = groups.select_groups(table(*rows),
                                    StatsSettings(select="accepted", control="partner"))
    bound = groups.selection_bound(7, {})
    assert len(sim) <= bound["similar"] and len(dis) <= bound["dissimilar"]


def test_named_manual_groups(tmp_path):
    out = tmp_path / "manual.tsv"
    entries = [{"name": "t3-sst2-cb", "tasks": ["sst2", "cb"], "role": "similar"},
               ["rte", "boolq"],
               {"name": "t5-cb-ha", "tasks": ["cb", "health-advice"], "role": "dissimilar"}]
    g = groups.manual_groups(entries, None, out)
    back = groups.read_groups(out)
    assert list(back["group"]) == ["cb__sst2", "boolq__rte", "cb__health-advice"]
    assert list(back["role"]) == ["similar", "other", "dissimilar"]
    assert list(back["listed"]) == ["sst2,cb", "rte,boolq", "cb,health-advice"]
    assert back["name"].fillna("").tolist() == ["t3-sst2-cb", "", "t5-cb-ha"] and len(g) == 3
    with pytest.raises(PvigroupError, match=r"grouping.manual\[0\]: role 'control'"):
        groups.manual_groups([{"tasks": ["a", "b"], "role": "control"}], None, out)
    with pytest.raises(PvigroupError, match=r"manual\[1\]: name 'x' is already"):
        groups.manual_groups([{"name": "x", "tasks": ["a", "b"]},
                              {"name": "x", "tasks": ["a", "c"]}], None, out)
    with pytest.raises(PvigroupError, match="unknown: size"):
        groups.manual_groups([{"tasks": ["a", "b"], "size": 2}], None, out)


def test_checks_in_chunks_name_the_table_row(monkeypatch):
    from pvigroup.groups import checks

    monkeypatch.setattr(checks, "CHUNK", 2)
    t = table(("a,b", 1.0, 0.5), ("c,d", 1.0, 0.5), ("e,f", 1.0, 0.5), ("g,h", 1.0, 0.5))
    assert len(groups.select_groups(t, StatsSettings(select="accepted"))[0]) == 4
    t.loc[3, "group"] = "g__i"
    with pytest.raises(PvigroupError, match="row 3: group 'g__i' does not match"):
        groups.select_groups(t)
    # a group listed twice, in different chunks and task orders
    t = table(("a,b", 1.0, 0.5), ("c,d", 1.0, 0.5), ("e,f", 1.0, 0.5), ("d,c", 1.0, 0.5))
    with pytest.raises(PvigroupError, match="group c__d appears more than once"):
        groups.select_groups(t)


def test_tsv_with_a_bad_number_names_the_file(tmp_path):
    p = tmp_path / "pairs.tsv"
    write_tsv(table(("a,b", 1.0, 0.5), ("c,d", 1.0, 0.5)), p)
    p.write_text(p.read_text().replace("0.5\n", "abc\n", 1))
    with pytest.raises(PvigroupError, match=r"pairs\.tsv: .*abc"):
        groups.write_groups(p, None, tmp_path / "s.tsv", tmp_path / "d.tsv")
    write_tsv(table(("a,b", 1.0, 0.5), ("c,d", 1.0, float("nan"))), p)
    with pytest.raises(PvigroupError, match=r"pairs\.tsv: row 1 \(c__d\): pvalue is not a number"):
        groups.write_groups(p, None, tmp_path / "s.tsv", tmp_path / "d.tsv")


def test_duplicate_check_with_codes_too_wide_for_one_key():
    from pvigroup.groups import checks

    book = {"a": 0, "b": 1, "c": 2}
    wide = np.array([[0, 1, 2], [0, 1, 2]], dtype=np.int32)  # as if codes did not fit
    assert checks._first_duplicate({3: [wide]}, book) == "a__b__c"
    keyed = checks._row_keys(np.array([[0, 1, 2]], dtype=np.int32))
    assert keyed.ndim == 1 and checks._unkey(keyed, 3).tolist() == [[0, 1, 2]]
    assert checks._first_duplicate({3: [keyed, wide[:1]]}, book) == "a__b__c"
    assert checks._first_duplicate({3: [keyed]}, book) is None
