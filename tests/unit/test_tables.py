"""Paper tables from the fixed result files in tests/data/results_fixture/."""

import copy
import json
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pvigroup import tables as tb
from pvigroup.config import StatsSettings
from pvigroup.errors import PvigroupError

FIXTURE = Path(__file__).parents[1] / "data" / "results_fixture"


@pytest.fixture
def config():
    return yaml.safe_load((FIXTURE / "config.yaml").read_text())


def _make_all(config, out: Path) -> dict[str, str]:
    prov = tb.provenance(config)
    done = {}
    for p in tb.plan_tables(config, str(FIXTURE)):
        if p.skip:
            continue
        paths = {ext: str(out / f"table{p.nn}.{ext}") for ext in ("csv", "md", "tex")}
        tb.make_table(number=p.number, inputs=p.inputs, settings=p.settings, prov=prov,
                      meta=str(out / f"table{p.nn}.meta.json"), **paths)
        done[p.nn] = paths["csv"]
    return done


def test_config_hash_ignores_key_order(config):
    shuffled = dict(reversed(list(config.items())))
    assert tb.config_hash(shuffled) == tb.config_hash(config)
    changed = copy.deepcopy(config)
    changed["stats"]["alpha"] = 0.05
    assert tb.config_hash(changed) != tb.config_hash(config)


def test_provenance_lists_models_and_seeds(config):
    prov = tb.provenance(config)
    assert prov["models"]["roberta"] == "roberta-large"
    assert prov["seeds"] == {"pvi.train.seed": 42, "stats.seed": 42,
                             "train.seeds": [42, 52, 62, 72, 82]}


def test_every_table_has_a_registered_kind():
    assert list(tb.SPECS) == list(range(1, 18))
    for n, spec in tb.SPECS.items():
        assert spec.number == n and tb.KINDS[spec.kind].name == spec.kind
    with pytest.raises(ValueError, match="unknown table kind 'nope'"):
        tb.build_table(1, {}, {"kind": "nope"}, {})


def test_plan_follows_configured_stages(config):
    plans = {p.number: p for p in tb.plan_tables(config, "R")}
    assert plans[13].skip and "surrogate" in plans[13].skip
    assert plans[16].skip and "second model" in plans[16].skip
    assert plans[1].inputs == {"tests": ["R/stats/roberta/pairs.tsv", "R/stats/clin/pairs.tsv"]}
    assert plans[15].inputs == {"aggregate": ["R/train/bert/aggregate.tsv"]}
    assert plans[12].inputs == {"comparison": ["R/baselines/taskemb/clin/comparison.tsv"]}

    off = copy.deepcopy(config)
    # as the validated config has them: train switched off, llm with its defaults but no model
    off["train"] = {"enabled": False, "seeds": [42]}
    off["llm"] = {"models": {}, "shots_per_class": 1}
    off["baselines"] = {}
    off["tables"] = {"skip": [9]}
    inputs = tb.table_inputs(off, "R")
    assert sorted(inputs) == ["01", "02", "10"]
    reasons = {p.number: p.skip for p in tb.plan_tables(off, "R")}
    assert "train stage" in reasons[3] and "llm stage" in reasons[7]
    assert reasons[9] == "listed in tables.skip"


def test_plan_single_model_and_no_clinical(config):
    one = copy.deepcopy(config)
    one["models"] = {"minilm": {"pretrained": "x"}}
    for t in ("seed-neg", "strat-neg", "thyme-neg"):
        del one["tasks"][t]
    plans = {p.number: p for p in tb.plan_tables(one, "R")}
    assert "no clinical task" in plans[4].skip
    assert plans[3].inputs == {"aggregate": ["R/train/minilm/aggregate.tsv"]}
    assert "second model" in plans[15].skip
    one["stats"]["max_group_size"] = 2
    assert "max_group_size" in tb.plan_tables(one, "R")[1].skip


def test_tables_models_order_and_unknown_key(config):
    cfg = copy.deepcopy(config)
    cfg["tables"] = {"models": ["bert"]}
    assert tb.family_models(cfg, "general-biomedical") == ["bert", "roberta"]
    cfg["tables"] = {"models": ["nope"]}
    with pytest.raises(PvigroupError, match=r"tables\.models names .nope."):
        tb.plan_tables(cfg)


def test_outputs_include_comparison_for_paper_tasks(config):
    outs = tb.table_outputs(config, "R")
    assert "R/tables/table03.tex" in outs and "R/tables/table13.csv" not in outs
    assert outs[-1] == "R/tables/paper_comparison.md"
    demo = copy.deepcopy(config)
    demo["tasks"] = {"bbc-a": {}, "bbc-b": {}}
    demo["models"] = {"m": {"pretrained": "x"}}
    assert not tb.compare_with_paper(demo)


def test_table1_and_2_values(config, tmp_path):
    _make_all(config, tmp_path)
    t1 = pd.read_csv(tmp_path / "table01.csv")
    assert list(t1["group"]) == ["boolq__rte", "causal-language__cb", "causal-language__rte",
                                 "seed-neg__strat-neg", "seed-neg__thyme-neg"]
    assert (t1["pvalue"] > 0.01).all()
    t2 = pd.read_csv(tmp_path / "table02.csv")
    assert list(t2["group"]) == ["causal-language__cb__rte"]
    md = (tmp_path / "table01.md").read_text()
    assert "| BoolQ + RTE | roberta | 1.690 | 0.091 |" in md
    assert "config sha256 " + tb.config_hash(config) in md


def test_stl_mtl_table_format(config, tmp_path):
    _make_all(config, tmp_path)
    t3 = pd.read_csv(tmp_path / "table03.csv")
    assert t3.shape == (4, 12)  # manual and dissimilar groups are not in Table 3
    row = t3[(t3.group == "causal-language__cb") & (t3.task == "cb")].iloc[0]
    assert (row.stl_acc, row.mtl_f1, row.mtl_f1_ci) == (0.811, 0.88, 0.06)
    md = (tmp_path / "table03.md").read_text()
    assert "| Causal Language + CB | CB | 0.811 (± 0.073) | 0.650 (± 0.192) | 0.900 (± 0.050) |" in md
    t5 = pd.read_csv(tmp_path / "table05.csv")
    assert set(t5.group) == {"boolq__causal-language"}
    # n = 1 seed: the CI is empty and the cell shows the mean only
    agg = pd.DataFrame([["stl", "stl", "cb", "cb", 1, 0.5, math.nan, 0.4, math.nan],
                        ["mtl", "pvi-similar", "cb__rte", "cb", 1, 0.6, math.nan, 0.5, math.nan],
                        ["mtl", "pvi-similar", "cb__rte", "rte", 1, 0.7, math.nan, 0.6, math.nan]],
                       columns=["kind", "source", "group", "task", "n_seeds", "acc_mean",
                                "acc_ci", "f1_mean", "f1_ci"])
    frame = tb.stl_mtl_frame(agg, "pvi-similar", ["cb", "rte"])
    assert math.isnan(frame.loc[1, "stl_acc"]) and frame.loc[0, "stl_acc"] == 0.5
    assert tb.fmt_ci(0.5, math.nan) == "0.500" and tb.fmt_ci(math.nan, 0.1) == "-"


def test_stl_mtl_missing_member_row_names_file():
    agg = pd.DataFrame([["mtl", "pvi-similar", "a__b", "a", 5, 0.5, 0.1, 0.4, 0.1]],
                       columns=["kind", "source", "group", "task", "n_seeds", "acc_mean",
                                "acc_ci", "f1_mean", "f1_ci"])
    with pytest.raises(PvigroupError, match=r"agg.tsv: MTL group a__b has no row for its task b"):
        tb.stl_mtl_frame(agg, "pvi-similar", ["a", "b"], "agg.tsv")
    with pytest.raises(PvigroupError, match="missing column"):
        tb.stl_mtl_frame(agg.drop(columns="f1_ci"), "pvi-similar", ["a"], "agg.tsv")


def test_stl_mtl_listed_groups_first_in_listed_order():
    cols = ["kind", "source", "group", "task", "n_seeds", "acc_mean", "acc_ci", "f1_mean",
            "f1_ci"]
    rows = [["stl", "stl", t, t, 5, 0.5, 0.1, 0.4, 0.1] for t in "abcd"]
    for src, g in (("pvi-similar", "a__b"), ("pvi-similar", "c__d"), ("manual", "c__d"),
                   ("manual", "b__c"), ("manual", "a__d")):
        rows += [["mtl", src, g, t, 5, 0.6, 0.1, 0.5, 0.1] for t in g.split("__")]
    agg = pd.DataFrame(rows, columns=cols)
    # listed first (tasks as listed), then the source's other groups; c__d once
    frame = tb.stl_mtl_frame(agg, "pvi-similar", list("abcd"), listed=[["d", "c"], ["c", "b"]])
    assert list(zip(frame.group, frame.task, strict=True)) == [
        ("c__d", "d"), ("c__d", "c"), ("b__c", "c"), ("b__c", "b"), ("a__b", "a"), ("a__b", "b")]
    # a manual group not listed for this table (a__d) stays out
    assert "a__d" not in set(tb.stl_mtl_frame(agg, "pvi-similar", list("abcd")).group)
    with pytest.raises(PvigroupError, match=r"listed MTL group.*e__f have no rows"):
        tb.stl_mtl_frame(agg, "pvi-similar", list("abcd"), "agg.tsv", listed=[["e", "f"]])


def test_listed_groups_follow_role_and_sources(config):
    cfg = copy.deepcopy(config)
    model = min(cfg["models"])
    tasks = tb.model_tasks(cfg, model)[:3]
    cfg.setdefault("grouping", {})["manual"] = [
        {"name": "x", "tasks": [tasks[1], tasks[0]], "role": "similar"},
        {"name": "y", "tasks": [tasks[2], tasks[0]], "role": "dissimilar"},
        [tasks[1], tasks[2]]]
    cfg.setdefault("train", {})["sources"] = ["manual"]
    assert tb.listed_groups(cfg, model, "pvi-similar", tasks) == [[tasks[1], tasks[0]]]
    assert tb.listed_groups(cfg, model, "pvi-dissimilar", tasks) == [[tasks[2], tasks[0]]]
    cfg["train"]["sources"] = ["pvi-similar"]
    assert tb.listed_groups(cfg, model, "pvi-similar", tasks) == []


def test_llm_dataset_label_baseline_tables(config, tmp_path):
    _make_all(config, tmp_path)
    t7 = pd.read_csv(tmp_path / "table07.csv")
    assert list(t7.columns) == ["task", "model", "accuracy", "macro_f1"]
    assert len(t7) == 5 and "seed-neg" not in set(t7.task)
    t8 = pd.read_csv(tmp_path / "table08.csv")
    assert "accuracy_ci" in t8.columns
    assert "0.400 (± 0.050)" in (tmp_path / "table08.md").read_text()
    t9 = pd.read_csv(tmp_path / "table09.csv")
    assert t9.set_index("task").loc["thyme-neg", ["train", "dev", "test", "classes"]].tolist() == \
        [28637, 7160, 19240, 2]
    t10 = pd.read_csv(tmp_path / "table10.csv", keep_default_na=False)
    cl = t10[t10.task == "causal-language"]
    assert list(cl.label_name) == ["no_relation", "correlation", "conditional_causation",
                                   "direct_causation"]
    assert cl[["train", "dev", "test"]].sum().tolist() == [1958, 490, 614]
    t11 = pd.read_csv(tmp_path / "table11.csv")
    assert t11.shape == (4, 10)
    assert "TaskEmb F1" in (tmp_path / "table11.md").read_text()


def test_methods_table_reads_every_models_methods(config, tmp_path):
    plans = {p.number: p for p in tb.plan_tables(config, "R")}
    assert plans[17].inputs == {"methods": [f"R/evaluation/{m}/methods.tsv"
                                            for m in ("roberta", "clin", "bert")]}
    _make_all(config, tmp_path)
    t17 = pd.read_csv(tmp_path / "table17.csv")
    expected = pd.concat([pd.read_csv(FIXTURE / f"evaluation/{m}/methods.tsv", sep="\t")
                          for m in ("roberta", "clin", "bert")], ignore_index=True)
    assert list(zip(t17.model, t17.source, t17.n_groups, strict=True)) == list(
        zip(expected.model, expected.source, expected.n_groups, strict=True))
    assert t17["f1_gain"].tolist() == pytest.approx(expected["f1_gain"].tolist(), nan_ok=True)
    md = (tmp_path / "table17.md").read_text()
    first = expected.iloc[0]
    assert (f"| roberta | pvi-similar | 3 | {first.f1_gain:.3f} [{first.f1_gain_lo:.3f}, "
            f"{first.f1_gain_hi:.3f}] |") in md
    assert "| 3/3 | 3/3 |" in md  # every PVI-similar group of roberta gained, CI above 0
    broken = tmp_path / "broken.tsv"
    expected.drop(columns="f1_gain").to_csv(broken, sep="\t", index=False)
    with pytest.raises(PvigroupError, match="broken.tsv: missing column"):
        tb.make_table(number=17, inputs={"methods": [str(broken)]},
                      settings={**plans[17].settings, "models": ["roberta"]},
                      prov=tb.provenance(config), csv=str(tmp_path / "x.csv"),
                      md=str(tmp_path / "x.md"), tex=str(tmp_path / "x.tex"),
                      meta=str(tmp_path / "x.json"))
    off = copy.deepcopy(config)
    off["train"]["enabled"] = False
    assert "train stage is off" in {p.number: p for p in tb.plan_tables(off)}[17].skip


def test_latex_and_meta(config, tmp_path):
    _make_all(config, tmp_path)
    tex = (tmp_path / "table12.tex").read_text()
    assert r"\begin{tabular}{llrrrr}" in tex and r"$\pm$" in tex
    assert r"emilyalsentzer/Bio\_ClinicalBERT" in tex
    meta = json.loads((tmp_path / "table12.meta.json").read_text())
    assert meta["config_sha256"] == tb.config_hash(config) and meta["rows"] == 2
    assert list(meta["inputs_sha256"]) == [
        f"comparison:{FIXTURE.as_posix()}/baselines/taskemb/clin/comparison.tsv"]


def test_rerun_is_byte_identical(config, tmp_path):
    _make_all(config, tmp_path / "a")
    _make_all(config, tmp_path / "b")
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert len(names) == 14 * 4  # tables 1-12, 15 and 17
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_index_logs_one_line_per_skip(config, tmp_path, caplog):
    caplog.set_level("INFO", logger="pvigroup.tables")
    tb.write_index(tb.plan_summary(config), tb.provenance(config), tmp_path / "index.md")
    text = (tmp_path / "index.md").read_text()
    assert "| 13 | skipped: the surrogate baseline is not configured" in text
    assert "| 03 | [table03.md](table03.md) |" in text
    skipped = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 3  # tables 13, 14, 16


def test_paper_transcription():
    pub = tb.paper_tables()
    assert len(pub["tasks"]) == 15
    assert {n: len(pub["tables"][n]["rows"]) for n in (1, 2, 3, 4, 7, 9)} == \
        {1: 13, 2: 3, 3: 15, 4: 14, 7: 27, 9: 15}
    t1 = tb.paper_frame(1).set_index("group")
    assert t1.loc["copa__cola".replace("copa__cola", "cola__copa"), "pvalue"] == 0.943
    assert (t1["pvalue"] > pub["paper"]["alpha"]).all()
    t3 = tb.paper_frame(3)
    cb = t3[(t3.group == "cb__cola__copa") & (t3.task == "copa")].iloc[0]
    assert (cb.mtl_acc, cb.mtl_acc_ci) == (0.836, 0.012)
    t9 = tb.paper_frame(9).set_index("task")
    assert t9.loc["sst2", ["train", "dev", "test"]].tolist() == [53879, 13470, 872]
    # every published group is made of the paper's task ids
    for n in (1, 2, 3, 4, 5, 6, 15, 16):
        for g in tb.paper_frame(n)["group"]:
            assert set(g.split("__")) <= set(pub["tasks"]), (n, g)


def test_compare_group_tests_decisions():
    ours = pd.DataFrame({"group": ["boolq__rte", "cb__rte", "causal-language__health-advice",
                                   "cb__seed-neg"],
                         "statistic": [1.7, 0.2, 5.0, 0.1], "pvalue": [0.09, 0.8, 1e-6, 0.9]})
    fams = {t: tb.FAMILY_OF_DOMAIN[v[1]] for t, v in tb.paper_tables()["tasks"].items()}
    cmp = tb.compare_group_tests(ours, 1, 0.01, fams).set_index("group")
    assert "cb__seed-neg" not in cmp.index  # the paper never crossed domain families
    assert cmp.loc["boolq__rte", "agree"] is True
    assert cmp.loc["boolq__rte", "diff_abs_statistic"] == pytest.approx(1.7 - 1.775)
    assert cmp.loc["cb__rte", "agree"] is False  # we accept, the paper rejected
    assert cmp.loc["causal-language__health-advice", "agree"] is False
    assert cmp.loc["cola__copa", "ours_accepted"] is None  # published, not tested by us
    assert cmp["agree"].isna().sum() == 11


def test_paper_comparison_file(config, tmp_path):
    done = _make_all(config, tmp_path)
    tests = {k: [str(FIXTURE / f"stats/{m}/{k}.tsv") for m in ("roberta", "clin")]
             for k in ("pairs", "triples")}
    settings = {"alpha": 0.01, "families": {t: tb.task_family(config, t) for t in config["tasks"]}}
    text = tb.paper_comparison(tables=done, tests=tests, settings=settings,
                               prov=tb.provenance(config), out=tmp_path / "paper_comparison.md")
    assert "Decisions agree on 8 of 9 groups" in text
    assert "| causal-language__rte | 0.800 | - | - | 0.424 | - | - | yes | no | no |" in text
    assert "| seed-neg__thyme-neg | thyme-neg | 0.983 | 0.954 | 0.984 | 0.956 | 0.983 | 0.954 |" in text
    assert "| boolq | 7541 | 1886 | 3270 | 2 | 7541 | 1886 | 3270 | 2 | 0 | 0 | 0 | 0 |" in text
    t3 = tb.compare_stl_mtl(pd.read_csv(done["03"]), 3, list(config["tasks"]))
    row = t3[(t3.group == "causal-language__cb") & (t3.task == "cb")].iloc[0]
    assert row.mtl_acc_diff == pytest.approx(0.900 - 0.925)
    assert len(t3) == 4  # published groups with unconfigured tasks are left out


def test_comparison_inputs(config):
    ins = tb.comparison_inputs(config, "R")
    assert ins["pairs"] == ["R/stats/roberta/pairs.tsv", "R/stats/clin/pairs.tsv"]
    assert "R/tables/table01.csv" not in ins["tables"] and "R/tables/table09.csv" in ins["tables"]
    assert tb.comparison_settings(config)["tables"] == [
        f"{n:02d}" for n in (3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15)]
    assert "R/plots/roberta/stl_mtl.png" in tb.report_plots(config, "R")


def _tests_with_effects(tmp_path):
    """pairs.tsv / triples.tsv written by the workflow's test jobs."""
    import numpy as np

    from pvigroup import stats
    from pvigroup.io import write_parquet

    rng = np.random.default_rng(8)
    files = {}
    for task, mu in (("boolq", 0.50), ("cb", 0.52), ("rte", 0.55)):
        files[task] = tmp_path / "pvi" / f"{task}.parquet"
        write_parquet(pd.DataFrame({"id": [f"{task}:{i}" for i in range(80)], "task": task,
                                    "pvi": rng.normal(mu, 1.0, 80)}), files[task])
    stats.run_pair_tests(list(files.values()), tmp_path / "pairs.tsv",
                         StatsSettings(pair_test="student", bootstrap_resamples=100), model="m")
    stats.run_group_tests(list(files.values()), tmp_path / "triples.tsv",
                          StatsSettings(group_test="anova"), model="m")
    return tmp_path / "pairs.tsv", tmp_path / "triples.tsv"


def test_table1_and_2_effect_sizes(tmp_path):
    pairs_tsv, triples_tsv = _tests_with_effects(tmp_path)
    pairs, triples = pd.read_csv(pairs_tsv, sep="\t"), pd.read_csv(triples_tsv, sep="\t")
    base = {"kind": "group_tests", "alpha": 0.01, "names": {"cb": "CB"}, "decimals": 3,
            "models": ["m"], "family": None}
    prov = {"config_sha256": "x", "models": {"m": "p"}, "seeds": {}, "pvigroup": "0"}
    t1 = tb.build_table(1, {"tests": {"m": pairs}}, {**base, "size": 2}, prov)
    assert t1.header[:4] == ["Task group", "Model", "t-statistic", "p-value"]  # the paper's
    assert t1.header[4:] == ["Mean diff. (bits) [95% CI]", "Hedges' g"]
    assert list(t1.data.columns[-6:]) == [*tb.PAIR_EFFECT_COLUMNS, "mean_diff_boot_lo",
                                          "mean_diff_boot_hi"]
    r = pairs.set_index("group").loc["boolq__cb"]
    row = t1.rows[list(t1.data["group"]).index("boolq__cb")]
    assert row[0] == "boolq + CB"
    assert row[4] == f"{r.mean_diff:.3f} [{r.mean_diff_lo:.3f}, {r.mean_diff_hi:.3f}]"
    assert row[5] == f"{r.hedges_g:.3f}"
    assert "Hedges' g" in t1.caption
    t2 = tb.build_table(2, {"tests": {"m": triples}}, {**base, "size": 3}, prov)
    assert t2.header[4:] == ["η²", "ω²"]
    assert t2.rows[0][4:] == [f"{triples.eta2[0]:.3f}", f"{triples.omega2[0]:.3f}"]
    assert list(t2.data.columns[-2:]) == tb.GROUP_EFFECT_COLUMNS
    md = tb.render_markdown(t2)
    assert "| η² | ω² |" in md
    # files written before the effect columns existed: the cells show "-"
    old = pairs[["group", "tasks", "size", "test", "statistic", "pvalue", "df"]]
    t_old = tb.build_table(1, {"tests": {"m": old}}, {**base, "size": 2}, prov)
    assert t_old.rows[0][4:] == ["-", "-"]
    assert t_old.data["mean_diff"].isna().all()
    assert tb.fmt_diff_ci(0.1, math.nan, 0.2) == "0.100" and tb.fmt_diff_ci(None, 0, 1) == "-"


def test_report_plots_include_forest_and_sensitivity(config):
    plots = tb.report_plots(config, "R")
    for m in ("roberta", "clin", "bert"):
        assert f"R/plots/{m}/pvi_forest.png" in plots
        assert f"R/plots/{m}/sensitivity.png" in plots
        assert f"R/plots/{m}/vinfo.png" in plots
    one = copy.deepcopy(config)
    one["models"] = {"solo": {"pretrained": "x", "tasks": ["cb"]}}
    assert not any("forest" in p or "sensitivity" in p for p in tb.report_plots(one, "R"))
