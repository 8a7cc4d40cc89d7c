"""The evaluation stage on synthetic metrics whose answer is known: a grouping whose groups all
gain, one whose groups all lose, a perfect and a null predictor; intervals against scipy."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from pvigroup import evaluation as ev
from pvigroup.errors import PvigroupError
from pvigroup.estimate import load_config

REPO = Path(__file__).parents[2]
TASKS = ["a", "b", "c", "d"]
SEEDS = [1, 2, 3]


def _summary(effects: dict[tuple[str, str], float], noise: float = 0.01,
             seed: int = 0) -> pd.DataFrame:
    """STL rows of every task and seed, and MTL rows of each (source, group) whose task scores
    are STL + the group's effect + noise (accuracy) and STL + 2·effect + noise (macro-F1)."""
    rng = np.random.default_rng(seed)
    stl = {(t, s): (0.6 + 0.05 * i + 0.01 * s, 0.5 + 0.04 * i + 0.01 * s)
           for i, t in enumerate(TASKS) for s in SEEDS}
    rows = [{"kind": "stl", "source": "stl", "group": t, "task": t, "seed": s,
             "accuracy": a, "macro_f1": f} for (t, s), (a, f) in stl.items()]
    for (source, group), effect in effects.items():
        for t in group.split("__"):
            for s in SEEDS:
                a, f = stl[(t, s)]
                rows.append({"kind": "mtl", "source": source, "group": group, "task": t,
                             "seed": s, "accuracy": a + effect + rng.normal(0, noise),
                             "macro_f1": f + 2 * effect + rng.normal(0, noise)})
    return pd.DataFrame(rows)


GOOD = {("good", "a__b"): 0.05, ("good", "c__d"): 0.04, ("good", "a__b__c"): 0.06}
BAD = {("bad", "a__c"): -0.05, ("bad", "b__d"): -0.07, ("bad", "a__d"): -0.06}


# --------------------------------------------------------------------------- gain
def test_task_gain_is_the_paired_difference_with_scipys_interval():
    summary = _summary(GOOD | BAD)
    gains = ev.group_gains(summary, model="m")
    assert len(gains.tasks) == 2 + 2 + 3 + 2 + 2 + 2
    row = gains.tasks.set_index(["source", "group", "task"]).loc[("good", "a__b", "b")]
    s = summary.set_index(["kind", "group", "task", "seed"])
    d = np.array([s.loc[("mtl", "a__b", "b", k), "accuracy"] - s.loc[("stl", "b", "b", k),
                                                                        "accuracy"]
                  for k in SEEDS])
    ci = sps.ttest_1samp(d, 0.0).confidence_interval(0.95)
    assert row["acc_gain"] == pytest.approx(d.mean())
    assert (row["acc_gain_lo"], row["acc_gain_hi"]) == pytest.approx((ci.low, ci.high))
    assert row["acc_gain_ci"] == pytest.approx(sps.t.ppf(0.975, 2) * d.std(ddof=1) / math.sqrt(3))
    assert row["n_seeds"] == 3 and row["seeds"] == "1,2,3" and row["size"] == 2


def test_group_gain_is_the_seed_mean_over_its_tasks():
    summary = _summary(GOOD)
    gains = ev.group_gains(summary, model="m", level=0.9)
    g = gains.groups.set_index("group").loc["a__b__c"]
    per = gains.per_seed[gains.per_seed["group"] == "a__b__c"]
    by_seed = per.groupby("seed")["f1_diff"].mean().to_numpy()
    ci = sps.ttest_1samp(by_seed, 0.0).confidence_interval(0.9)
    assert g["f1_gain"] == pytest.approx(by_seed.mean())
    assert (g["f1_gain_lo"], g["f1_gain_hi"]) == pytest.approx((ci.low, ci.high))
    # the group mean is also the mean of its tasks' mean gains (same seeds)
    tasks = gains.tasks[gains.tasks["group"] == "a__b__c"]
    assert g["f1_gain"] == pytest.approx(tasks["f1_gain"].mean())
    assert g["tasks"] == "a,b,c" and g["size"] == 3


def test_unpaired_seeds_are_left_out_and_one_seed_has_no_interval():
    summary = _summary({("good", "a__b"): 0.05})
    # MTL seed 3 of task a has no STL run of seed 3: only seeds 1 and 2 pair for a
    summary = summary[~((summary["kind"] == "stl") & (summary["task"] == "a")
                        & (summary["seed"] == 3))]
    gains = ev.group_gains(summary, model="m")
    a = gains.tasks.set_index("task").loc["a"]
    assert a["n_seeds"] == 2 and a["seeds"] == "1,2"
    g = gains.groups.iloc[0]
    assert g["seeds"] == "1,2"  # the seeds every task of the group has
    one = _summary({("good", "a__b"): 0.05})
    one = one[one["seed"] == 1]
    row = ev.group_gains(one, model="m").groups.iloc[0]
    assert row["n_seeds"] == 1 and math.isnan(row["acc_gain_ci"]) and math.isnan(row["acc_gain_lo"])


def test_bad_summary_is_refused_with_file_and_row():
    summary = _summary(GOOD)
    with pytest.raises(PvigroupError, match="x.tsv: missing column"):
        ev.group_gains(summary.drop(columns="macro_f1"), model="m", where="x.tsv")
    broken = summary.copy()
    broken.loc[5, "accuracy"] = np.nan
    with pytest.raises(PvigroupError, match="x.tsv, line 7: accuracy is not a number"):
        ev.group_gains(broken, model="m", where="x.tsv")
    dup = pd.concat([summary, summary.iloc[[0]]], ignore_index=True)
    with pytest.raises(PvigroupError, match="is listed twice"):
        ev.group_gains(dup, model="m", where="x.tsv")


# --------------------------------------------------------------------------- methods
def test_a_method_whose_groups_all_gain_and_one_whose_groups_all_lose():
    gains = ev.group_gains(_summary(GOOD | BAD), model="m")
    costs = {"good": ev.Cost(2, 2, 10.0, 0.5, ""), "bad": ev.Cost(1, 0, math.nan, math.nan,
                                                                  "not measured")}
    table = ev.compare_methods(gains.groups, model="m", sources=["good", "bad", "unused"],
                               costs=costs).table.set_index("source")
    good, bad = table.loc["good"], table.loc["bad"]
    assert good["n_groups"] == 3 and bad["n_groups"] == 3
    for p in ("acc", "f1"):
        assert good[f"{p}_share_positive"] == 1.0 and good[f"{p}_share_ci_above_0"] == 1.0
        assert good[f"{p}_share_ci_below_0"] == 0.0 and good[f"{p}_gain_lo"] > 0
        assert bad[f"{p}_share_positive"] == 0.0 and bad[f"{p}_share_ci_below_0"] == 1.0
        assert bad[f"{p}_gain_hi"] < 0
    # the mean over groups and its interval: scipy's one-sample t interval of the group gains
    g = gains.groups[gains.groups["source"] == "good"]["acc_gain"].to_numpy()
    ci = sps.ttest_1samp(g, 0.0).confidence_interval(0.95)
    assert (good["acc_gain"], good["acc_gain_lo"], good["acc_gain_hi"]) == pytest.approx(
        (g.mean(), ci.low, ci.high))
    assert good["cost_job_seconds"] == 10.0 and good["cost_gpu_hours_est"] == 0.5
    assert bad["cost_note"] == "not measured"
    unused = table.loc["unused"]
    assert unused["n_groups"] == 0 and math.isnan(unused["acc_gain"])


# --------------------------------------------------------------------------- predictor
def _groups_frame(gains: list[float], groups: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"model": "m", "source": "s", "group": groups, "size": 2,
                         "tasks": [g.replace("__", ",") for g in groups], "n_seeds": 3,
                         "acc_gain": gains, "f1_gain": gains})


PAIRS6 = ["__".join(p) for p in itertools.combinations(["a", "b", "c", "d"], 2)]


def _tests(pvalues: list[float], diffs: list[float], groups: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"group": groups, "pvalue": pvalues, "mean_diff": diffs})


def test_a_perfect_predictor():
    p = [0.001, 0.004, 0.008, 0.1, 0.4, 0.9]
    gains = [-0.05, -0.03, -0.01, 0.01, 0.02, 0.04]  # the gain rises with p
    diffs = [-0.9, 0.7, -0.5, 0.3, 0.2, -0.1]  # and falls with |Δ mean PVI|
    res = ev.pvi_predictor(_groups_frame(gains, PAIRS6), _tests(p, diffs, PAIRS6), model="m",
                           alpha=0.01, seed=3)
    t = res.table[res.table["metric"] == "macro_f1"].set_index(["predictor", "statistic"])
    assert t.loc[("pair_pvalue", "spearman"), "value"] == pytest.approx(1.0)
    assert t.loc[("pair_pvalue", "kendall"), "value"] == pytest.approx(1.0)
    assert t.loc[("abs_mean_diff", "spearman"), "value"] == pytest.approx(-1.0)
    # exact test over all 6! pairings: only the identity and its mirror are as extreme
    assert t.loc[("pair_pvalue", "spearman"), "pvalue"] == pytest.approx(2 / 720)
    assert bool(t.loc[("pair_pvalue", "spearman"), "exact"])
    assert t.loc[("pair_pvalue", "spearman"), "n_permutations"] == 720
    # p > 0.01 is exactly the pairs that gain: AUROC 1, as scikit-learn computes it
    auc = t.loc[("p_gt_alpha", "auroc"), "value"]
    assert auc == pytest.approx(1.0)
    accepted = np.array(p) > 0.01
    assert ev.auroc(accepted, np.array(gains) > 0) == pytest.approx(
        _sklearn_auc(np.array(gains) > 0, accepted))
    assert list(res.pairs["accepted"]) == list(accepted)


def _sklearn_auc(y, s):
    sk = pytest.importorskip("sklearn.metrics")
    return sk.roc_auc_score(y, s)


def test_a_null_predictor():
    p = [0.1, 0.2, 0.3, 0.4, 0.5]
    gains = [0.02, 0.05, 0.03, 0.01, 0.04]  # ranks 2 5 3 1 4: Σd² = 20, Spearman exactly 0
    assert sps.spearmanr(p, gains).statistic == pytest.approx(0.0, abs=1e-12)
    five = PAIRS6[:5]
    res = ev.pvi_predictor(_groups_frame(gains, five), _tests(p, [0.1] * 5, five),
                           model="m", alpha=0.01, seed=0)
    t = res.table[res.table["metric"] == "accuracy"].set_index(["predictor", "statistic"])
    assert t.loc[("pair_pvalue", "spearman"), "value"] == pytest.approx(0.0, abs=1e-12)
    assert t.loc[("pair_pvalue", "spearman"), "pvalue"] == pytest.approx(1.0)
    # a constant predictor cannot rank, and every pair gained: no AUROC, and the note says why
    assert math.isnan(t.loc[("abs_mean_diff", "spearman"), "value"])
    assert "same for all 5 pairs" in t.loc[("abs_mean_diff", "spearman"), "note"]
    assert math.isnan(t.loc[("p_gt_alpha", "auroc"), "value"])
    assert "AUROC needs" in t.loc[("p_gt_alpha", "auroc"), "note"]


def test_null_auroc_and_random_permutations_are_seeded():
    y = np.array([True, False] * 5)
    assert ev.auroc(np.ones(10), y) == pytest.approx(0.5)
    assert ev.auroc([1, 0, 1, 0], [True, True, False, False]) == pytest.approx(
        _sklearn_auc([True, True, False, False], [1, 0, 1, 0]))
    rng = np.random.default_rng(5)
    x, g = rng.normal(size=12), rng.normal(size=12)
    a = ev.permutation_statistic(x, g, "kendall", n_permutations=999, seed=11)
    b = ev.permutation_statistic(x, g, "kendall", n_permutations=999, seed=11)
    assert a == b and not a.exact and a.n_permutations == 999
    assert a.value == pytest.approx(sps.kendalltau(x, g).statistic)
    # a Monte Carlo p-value is (1 + as extreme) / (1 + permutations): never 0
    assert 1 / 1000 <= a.pvalue <= 1


def test_too_few_pairs_say_so_with_the_minimum():
    groups = PAIRS6[:3]
    res = ev.pvi_predictor(_groups_frame([0.1, -0.1, 0.2], groups),
                           _tests([0.5, 0.001, 0.3], [0.1, 0.5, 0.2], groups), model="m",
                           alpha=0.01)
    assert res.table["value"].isna().all() and (res.table["n_pairs"] == 3).all()
    assert (res.table["note"] == "too few pairs: 3 trained, at least 5 needed").all()
    assert (res.table["min_pairs"] == ev.MIN_PAIRS).all()


def test_pairs_are_counted_once_and_a_missing_test_is_named():
    groups = _groups_frame([0.1, 0.1], ["a__b", "a__b"]).assign(source=["x", "y"])
    tests = _tests([0.5], [0.1], ["a__b"])
    assert len(ev.trained_pairs(groups, tests, alpha=0.01)) == 1
    with pytest.raises(PvigroupError, match="p.tsv: trained pair 'c__d' has no pair test"):
        ev.trained_pairs(_groups_frame([0.1], ["c__d"]), tests, alpha=0.01, where="p.tsv")
    adj = tests.assign(pvalue_adj=[0.001])  # a corrected run decides on the adjusted p
    assert not ev.trained_pairs(groups, adj, alpha=0.01)["accepted"].any()


# --------------------------------------------------------------------------- cost
def _bench(path: Path, seconds: list[float]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["s\th:m:s\tmax_rss\tcpu_time"] + [f"{s}\t0:00:01\t10.0\t{s}" for s in seconds]
    path.write_text("\n".join(lines) + "\n")


def test_costs_come_from_the_benchmark_files(tmp_path):
    config = load_config(REPO / ".test" / "config" / "config.yaml", REPO)
    files = ev.grouping_benchmarks(config, "tiny")
    assert files["manual"] == {}
    assert set(files["pvi-similar"]) == {"finetune_gprime", "finetune_null", "compute_pvi",
                                         "pair_tests", "group_tests", "select_groups"}
    assert files["taskemb"]["finetune_gprime"] == files["pvi-similar"]["finetune_gprime"]
    assert len(files["surrogate"]["surrogate_run"]) == 3
    for i, p in enumerate(files["tag"]["tag_affinity"] + files["tag"]["baseline_groups"]):
        _bench(tmp_path / p, [2.0 + i, 4.0 + i])  # two repeats: their mean counts
    costs = ev.grouping_costs(config, "tiny", workdir=tmp_path, gpu_hours={"tag_affinity": 0.2})
    assert costs["tag"].job_seconds == pytest.approx(3.0 + 4.0)
    assert (costs["tag"].jobs, costs["tag"].measured) == (2, 2)
    assert costs["tag"].gpu_hours == pytest.approx(0.2)
    assert costs["manual"].job_seconds == 0 and costs["manual"].note == "no job computes it"
    assert math.isnan(costs["surrogate"].job_seconds)
    assert "5 of 5 jobs have no benchmark file" in costs["surrogate"].note
    none = ev.grouping_costs(config, "tiny", workdir=tmp_path, gpu_hours=None,
                             gpu_note="GPU-hours not available (x)")
    assert math.isnan(none["tag"].gpu_hours) and "not available (x)" in none["tag"].note
    bad = tmp_path / "bad.tsv"
    bad.write_text("x\n1\n")
    with pytest.raises(PvigroupError, match="bad.tsv: not a Snakemake benchmark file"):
        ev.benchmark_seconds(bad)


# --------------------------------------------------------------------------- files
def test_evaluate_model_writes_every_file_and_the_answer(tmp_path):
    from pvigroup.evaluation.figures import plot_gain, plot_predictor

    effects = {("pvi-similar", g): 0.03 + 0.01 * i for i, g in enumerate(PAIRS6[:3])}
    effects |= {("pvi-dissimilar", g): -0.04 - 0.01 * i for i, g in enumerate(PAIRS6[3:])}
    summary = _summary(effects)
    summary.to_csv(tmp_path / "summary.tsv", sep="\t", index=False)
    p = {g: (0.5 if ("pvi-similar", g) in effects else 1e-5) for g in PAIRS6}
    tests = _tests([p[g] for g in PAIRS6], [0.1 if p[g] > 0.01 else 0.8 for g in PAIRS6], PAIRS6)
    tests.to_csv(tmp_path / "pairs.tsv", sep="\t", index=False)
    out = {k: tmp_path / "ev" / f"{k}.tsv" for k in ("gain", "groups", "methods", "predictor",
                                                     "pairs")}
    ev.evaluate_model(tmp_path / "summary.tsv", tmp_path / "pairs.tsv",
                      **{f"out_{k}": v for k, v in out.items()}, model="m",
                      sources=["pvi-similar", "pvi-dissimilar"], alpha=0.01, seed=1)
    methods = pd.read_csv(out["methods"], sep="\t").set_index("source")
    assert methods.loc["pvi-similar", "f1_share_positive"] == 1.0
    assert methods.loc["pvi-dissimilar", "f1_share_positive"] == 0.0
    pred = pd.read_csv(out["predictor"], sep="\t")
    auc = pred[(pred["metric"] == "macro_f1") & (pred["statistic"] == "auroc")].iloc[0]
    assert auc["value"] == 1.0 and auc["n_pairs"] == 6
    sentences = ev.write_answer({"m": out["methods"]}, {"m": out["predictor"]},
                                tmp_path / "answer.html")
    assert sentences["m"].startswith("m: PVI-similar groups helped (mean macro-F1 gain +")
    assert "against PVI-dissimilar (control) -" in sentences["m"]
    assert "highest mean gain: PVI-similar" in sentences["m"]
    assert "<p>m: PVI-similar" in (tmp_path / "answer.html").read_text()
    plot_gain(out["groups"], tmp_path / "gain.png", model="m")
    plot_predictor(out["pairs"], out["predictor"], tmp_path / "scatter.png", alpha=0.01)
    for png in ("gain.png", "scatter.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
