"""Unit tests of pvigroup.stats: every test against scipy/statsmodels, effect sizes by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import ttost_ind

from pvigroup import stats
from pvigroup.config import StatsSettings
from pvigroup.errors import PvigroupError
from pvigroup.io import read_tsv, write_parquet

RNG = np.random.default_rng(20240611)
A = RNG.normal(0.8, 1.0, 137)
B = RNG.normal(0.5, 1.6, 91)
C = RNG.normal(0.7, 0.8, 60)


# ------------------------------------------------------------------------------ pair tests
def test_student_by_hand():
    r = stats.pair_test([1.0, 2.0, 3.0], [4.0, 5.0, 6.0], names=("x", "y"), method="student")
    # means 2 and 5, both variances 1: sp² = 1, SE = sqrt(2/3), t = -3 / sqrt(2/3), df = 4
    assert r.statistic == pytest.approx(-3 / math.sqrt(2 / 3), rel=1e-12)
    assert r.df == 4
    assert r.pvalue == pytest.approx(2 * sps.t.sf(3 / math.sqrt(2 / 3), 4), rel=1e-12)
    assert r.pvalue == pytest.approx(0.021311641128756, rel=1e-9)
    half = sps.t.ppf(0.975, 4) * math.sqrt(2 / 3)
    assert r.effect["mean_diff"] == -3
    assert r.effect["mean_diff_ci"] == pytest.approx([-3 - half, -3 + half])
    # Hedges: d = -3 / 1, J = 1 - 3 / (4 * 6 - 9) = 0.8
    assert r.effect["hedges_g"] == pytest.approx(-2.4)
    # SS_between = 13.5, SS_within = 4, MS_within = 1
    assert r.effect["eta2"] == pytest.approx(13.5 / 17.5)
    assert r.effect["omega2"] == pytest.approx(12.5 / 18.5)
    assert r.n == {"x": 3, "y": 3}
    assert r.mean == {"x": 2.0, "y": 5.0}
    assert r.sd == {"x": 1.0, "y": 1.0}


@pytest.mark.parametrize("method", ["student", "welch"])
def test_two_sample_matches_scipy(method):
    r = stats.pair_test(A, B, names=("a", "b"), method=method)
    ref = sps.ttest_ind(A, B, equal_var=method == "student")
    assert r.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert r.pvalue == pytest.approx(ref.pvalue, rel=1e-12)
    assert r.df == pytest.approx(ref.df, rel=1e-12)
    ci = ref.confidence_interval(0.95)
    assert r.effect["mean_diff_ci"] == pytest.approx([ci.low, ci.high], rel=1e-10)
    assert r.effect["mean_diff"] == pytest.approx(A.mean() - B.mean())


def test_welch_df_and_effects_by_formula():
    r = stats.pair_test(A, B, method="welch")
    qa, qb = A.var(ddof=1) / A.size, B.var(ddof=1) / B.size
    df = (qa + qb) ** 2 / (qa**2 / (A.size - 1) + qb**2 / (B.size - 1))
    assert r.df == pytest.approx(df)
    sp = math.sqrt(
        ((A.size - 1) * A.var(ddof=1) + (B.size - 1) * B.var(ddof=1)) / (A.size + B.size - 2)
    )
    g = (A.mean() - B.mean()) / sp * (1 - 3 / (4 * (A.size + B.size) - 9))
    assert r.effect["hedges_g"] == pytest.approx(g)
    # for two groups η² = t² / (t² + df) of the Student test
    t = sps.ttest_ind(A, B).statistic
    assert r.effect["eta2"] == pytest.approx(t**2 / (t**2 + A.size + B.size - 2))


def test_paired_subsample_matches_ttest_rel_and_is_deterministic():
    r1 = stats.pair_test(A, B, names=("a", "b"), method="paired", seed=7)
    r2 = stats.pair_test(A, B, names=("a", "b"), method="paired", seed=7)
    r3 = stats.pair_test(A, B, names=("a", "b"), method="paired", seed=8)
    assert r1 == r2
    assert r1.statistic != r3.statistic
    assert r1.options == {"n_full": {"a": 137, "b": 91}, "seed": 7, "subsample": 91}
    assert r1.n == {"a": 91, "b": 91}
    sa, sb = stats.paired_subsample(A, B, 7)
    assert sa.size == sb.size == 91
    assert set(sb) == set(B)  # the smaller sample is kept whole (permuted)
    assert set(sa) <= set(A)
    ref = sps.ttest_rel(sa, sb)
    assert r1.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert r1.pvalue == pytest.approx(ref.pvalue, rel=1e-12)
    assert r1.df == 90
    ci = ref.confidence_interval(0.95)
    assert r1.effect["mean_diff_ci"] == pytest.approx([ci.low, ci.high], rel=1e-10)


# ----------------------------------------------------------------------------- group tests
@pytest.mark.parametrize(
    ("method", "ref"),
    [("anova", sps.f_oneway), ("alexander-govern", sps.alexandergovern), ("kruskal", sps.kruskal)],
)
def test_group_methods_match_scipy(method, ref):
    r = stats.group_test({"a": A, "b": B, "c": C}, method=method)
    want = ref(A, B, C)
    assert r.statistic == pytest.approx(want.statistic, rel=1e-12)
    assert r.pvalue == pytest.approx(want.pvalue, rel=1e-12)
    assert r.df == ((2.0, float(A.size + B.size + C.size - 3)) if method == "anova" else 2.0)
    assert r.group == "a__b__c"
    assert set(r.effect) == {"eta2", "omega2"}


def test_eta_omega_by_hand():
    x, y, z = np.array([1.0, 2, 3]), np.array([2.0, 4, 6]), np.array([0.0, 1])
    allv = np.concatenate([x, y, z])
    g = allv.mean()
    ssb = 3 * (2 - g) ** 2 + 3 * (4 - g) ** 2 + 2 * (0.5 - g) ** 2
    ssw = 2 + 8 + 0.5
    msw = ssw / (8 - 3)
    r = stats.group_test({"x": x, "y": y, "z": z}, method="kruskal")
    assert r.effect["eta2"] == pytest.approx(ssb / (ssb + ssw))
    assert r.effect["omega2"] == pytest.approx((ssb - 2 * msw) / (ssb + ssw + msw))
    f = sps.f_oneway(x, y, z).statistic
    assert f == pytest.approx((ssb / 2) / msw)


# ------------------------------------------------------------------------------- problems
def test_unknown_methods_list_choices():
    with pytest.raises(ValueError, match="student, welch, paired"):
        stats.pair_test(A, B, method="paired-t")
    with pytest.raises(ValueError, match="anova, alexander-govern, kruskal"):
        stats.group_test({"a": A, "b": B}, method="welch")


@pytest.mark.parametrize(
    ("bad", "message"),
    [([1.0], "at least 2"), ([1.0, np.nan, 2.0], "NaN/infinite.*row 1"), ([np.inf, 1.0], "row 0")],
)
def test_bad_samples_name_the_task(bad, message):
    with pytest.raises(PvigroupError, match=f"rte: .*{message}"):
        stats.pair_test(bad, A, names=("rte", "cb"))
    with pytest.raises(PvigroupError, match=f"rte: .*{message}"):
        stats.group_test({"cb": A, "rte": bad, "wic": C})


def test_zero_variance():
    with pytest.raises(PvigroupError, match=r"both PVI samples have zero variance.*undefined"):
        stats.pair_test([1.0, 1.0], [2.0, 2.0, 2.0], names=("x", "y"), method="welch")
    with pytest.raises(PvigroupError, match="paired differences have zero variance"):
        stats.pair_test([1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0], method="paired")
    # one constant sample is fine for t
    for method in ("student", "welch", "paired"):
        r = stats.pair_test(np.ones(5), A, method=method)
        assert 0 < r.pvalue < 1 and r.sd["a"] == 0
    assert stats.group_test({"a": np.ones(4), "b": A, "c": C}).pvalue < 1
    with pytest.raises(PvigroupError, match="every PVI sample has zero variance"):
        stats.group_test({"a": [1.0, 1.0], "b": [2.0, 2.0], "c": [0.0, 0.0]})
    with pytest.raises(PvigroupError, match="PVI of b has zero variance"):
        stats.group_test({"a": A, "b": [2.0, 2.0], "c": C}, method="alexander-govern")
    with pytest.raises(PvigroupError, match="all PVI values are identical"):
        stats.group_test({"a": [1.0, 1.0], "b": [1.0, 1.0]}, method="kruskal")


# ------------------------------------------------------------------------------------ TOST
@pytest.mark.parametrize("variance", ["pooled", "unequal"])
def test_tost_matches_statsmodels(variance):
    r = stats.tost(A, B, 0.25, variance=variance)
    p, lower, upper = ttost_ind(A, B, -0.25, 0.25, usevar=variance)
    assert r.pvalue == pytest.approx(p, rel=1e-12)
    assert r.pvalue == pytest.approx(max(lower[1], upper[1]), rel=1e-12)
    assert r.options["lower"]["statistic"] == pytest.approx(lower[0])
    assert r.options["upper"]["pvalue"] == pytest.approx(upper[1])
    assert r.test == "tost"


def test_tost_decides_equivalence():
    rng = np.random.default_rng(3)
    x, y = rng.normal(0.6, 1.0, 4000), rng.normal(0.6, 1.0, 5000)
    assert stats.tost(x, y, 0.25).pvalue < 0.01  # equivalent within 0.25 bits
    assert stats.pair_test(x, y).pvalue > 0.01
    shifted = y + 0.5
    assert stats.tost(x, shifted, 0.25).pvalue > 0.5  # not equivalent
    with pytest.raises(ValueError, match="positive"):
        stats.tost(x, y, 0.0)
    with pytest.raises(ValueError, match="pooled, unequal"):
        stats.tost(x, y, 0.25, variance="welch")


def test_tost_group_is_intersection_union():
    block = stats.tost_group({"c": C, "a": A, "b": B}, 0.3)
    ps = {
        k: ttost_ind(*pair, -0.3, 0.3)[0]
        for k, pair in {"a__b": (A, B), "a__c": (A, C), "b__c": (B, C)}.items()
    }
    assert set(block["pairs"]) == set(ps)
    for k, p in ps.items():
        assert block["pairs"][k]["pvalue"] == pytest.approx(p)
    assert block["pvalue"] == pytest.approx(max(ps.values()))


# ------------------------------------------------------------------------------- bootstrap
def test_bootstrap_mean_ci_coverage():
    rng = np.random.default_rng(11)
    reps, n, mu = 600, 80, 0.3
    hits95 = hits80 = 0
    for i in range(reps):
        x = rng.normal(mu, 1.5, n)
        ci = stats.bootstrap_mean_ci(x, 800, seed=i)
        hits95 += ci.low <= mu <= ci.high
        ci80 = stats.bootstrap_mean_ci(x, 800, seed=i, level=0.8)
        hits80 += ci80.low <= mu <= ci80.high
    assert 0.92 <= hits95 / reps <= 0.98
    assert 0.74 <= hits80 / reps <= 0.86


def test_bootstrap_seeded_and_diff():
    a1 = stats.bootstrap_mean_ci(A, 500, seed=5)
    assert a1 == stats.bootstrap_mean_ci(A, 500, seed=5)
    assert a1 != stats.bootstrap_mean_ci(A, 500, seed=6)
    assert a1.low < A.mean() < a1.high
    d = stats.bootstrap_diff_ci(A, B, 2000, seed=1)
    assert d.estimate == pytest.approx(A.mean() - B.mean())
    t = stats.pair_test(A, B, method="welch").effect["mean_diff_ci"]
    assert d.low == pytest.approx(t[0], abs=0.08)
    assert d.high == pytest.approx(t[1], abs=0.08)
    none = stats.bootstrap_mean_ci(A, 0)
    assert math.isnan(none.low) and none.estimate == pytest.approx(A.mean())
    with pytest.raises(ValueError, match="resamples"):
        stats.bootstrap_mean_ci(A, -1)


def test_vinfo_summary_is_per_task_stable():
    one = stats.vinfo_summary({"b": B, "a": A}, 300, seed=2)
    two = stats.vinfo_summary({"a": A, "b": B, "c": C}, 300, seed=2)
    assert list(one.columns) == [
        "task",
        "n",
        "mean_pvi",
        "sd_pvi",
        "ci_low",
        "ci_high",
        "level",
        "resamples",
    ]
    assert list(one["task"]) == ["a", "b"]
    pd.testing.assert_frame_equal(one, two.iloc[:2])
    assert (one["ci_low"] < one["mean_pvi"]).all() and (one["mean_pvi"] < one["ci_high"]).all()


# ----------------------------------------------------------------------------- sensitivity
def test_sensitivity_sizes_rule():
    assert stats.sensitivity_sizes({"a": 300, "b": 120}, [100, 500, 1000]) == [100, 120]
    assert stats.sensitivity_sizes({"a": 300, "b": 120}, [120, 50]) == [50, 120]


def test_sensitivity_table_and_vanishing_difference():
    rng = np.random.default_rng(0)
    pvi = {
        "x": rng.normal(0.0, 1, 3000),
        "y": rng.normal(0.25, 1, 4000),
        "z": rng.normal(5.0, 1, 3500),
    }
    tab = stats.sensitivity(pvi, StatsSettings(sensitivity_sizes=[15, 10_000], alpha=0.01, seed=4))
    assert list(tab.columns) == [
        "n_per_task",
        "group",
        "tasks",
        "size",
        "test",
        "statistic",
        "pvalue",
        "accepted",
        "selected",
    ]
    assert len(tab) == 2 * 4  # sizes 15 and 3000; 3 pairs + 1 triple each
    assert sorted(set(tab["n_per_task"])) == [15, 3000]
    big = tab[tab["n_per_task"] == 3000].set_index("group")
    small = tab[tab["n_per_task"] == 15].set_index("group")
    assert big.at["x__y", "pvalue"] < 1e-6 and not big.at["x__y", "accepted"]
    assert small.at["x__y", "pvalue"] > 0.01 and small.at["x__y", "selected"]
    assert not small.at["x__z", "accepted"]  # 5 bits apart: different at any size
    assert tab.equals(stats.sensitivity(pvi,
                                        StatsSettings(sensitivity_sizes=[15, 10_000], alpha=0.01, seed=4)))


# ------------------------------------------------------------------------------------ files
def _pvi(tmp_path, task, values):
    path = tmp_path / "pvi" / f"{task}.parquet"
    df = pd.DataFrame(
        {
            "id": [f"{task}:{i}" for i in range(len(values))],
            "task": task,
            "pvi": np.asarray(values, dtype=float),
        }
    )
    write_parquet(df, path, {"task": task})
    return path


def test_pair_table_row(tmp_path):
    files = [_pvi(tmp_path, "rte", B), _pvi(tmp_path, "boolq", A)]
    out = tmp_path / "stats" / "pairs.tsv"
    tab = stats.run_pair_tests(files, out,
                               StatsSettings(pair_test="welch", seed=1, tost_margin=0.25),
                               model="minilm")
    row = tab.iloc[0]
    assert row["tasks"] == "boolq,rte" and row["group"] == "boolq__rte"
    assert row["model"] == "minilm" and row["test"] == "welch"
    assert row["statistic"] == pytest.approx(sps.ttest_ind(A, B, equal_var=False).statistic)
    ref = stats.pair_test(A, B, names=("boolq", "rte"), method="welch")
    assert row["mean_diff"] == pytest.approx(ref.effect["mean_diff"])
    assert row["hedges_g"] == pytest.approx(ref.effect["hedges_g"])
    assert row["tost_pvalue"] == pytest.approx(ttost_ind(A, B, -0.25, 0.25, usevar="pooled")[0])
    assert row["tost_margin"] == 0.25 and row["tost_variance"] == "pooled"


def test_table_errors_name_the_file(tmp_path):
    good = _pvi(tmp_path, "cb", A)
    bad = _pvi(tmp_path, "copa", [0.1, np.nan, 0.3])
    with pytest.raises(PvigroupError, match=r"copa\.parquet.*NaN"):
        stats.run_pair_tests([good, bad], tmp_path / "x.tsv", StatsSettings(pair_test="student"),
                             model="m")
    flat1, flat2 = _pvi(tmp_path, "s1", [1.0, 1.0]), _pvi(tmp_path, "s2", [0.5, 0.5])
    with pytest.raises(PvigroupError, match=r"s1\.parquet, .*s2\.parquet: .*zero variance"):
        stats.run_pair_tests([flat1, flat2], tmp_path / "y.tsv", StatsSettings(pair_test="paired"),
                             model="m")
    with pytest.raises(ValueError, match="anova"):
        stats.run_group_tests([good, flat1, flat2], tmp_path / "z.tsv",
                              StatsSettings(group_test="student"), model="m")


def test_tables_with_correction_and_tost(tmp_path):
    files = {t: _pvi(tmp_path, t, x) for t, x in {"a": A, "b": B, "c": C}.items()}
    tab = stats.run_pair_tests(list(files.values())[::-1], tmp_path / "pairs.tsv",
                               StatsSettings(pair_test="student", correction="holm"), model="m")
    assert list(tab["group"]) == ["a__b", "a__c", "b__c"]
    width = len(stats.TEST_COLUMNS) + 1
    assert list(tab.columns)[:width] == [*stats.TEST_COLUMNS, "pvalue_adj"]
    assert np.allclose(tab["pvalue_adj"], multipletests(tab["pvalue"], method="holm")[1])
    back = read_tsv(tmp_path / "pairs.tsv")
    assert list(back.columns) == list(tab.columns)
    assert np.allclose(back["statistic"], tab["statistic"], rtol=1e-5)

    stats.run_group_tests(list(files.values()), tmp_path / "triples.tsv",
                          StatsSettings(group_test="anova", tost_margin=0.3), model="m")
    t3 = read_tsv(tmp_path / "triples.tsv")
    assert t3.loc[0, "df"] == 2 and t3.loc[0, "df2"] == A.size + B.size + C.size - 3
    assert t3.loc[0, "tost_margin"] == 0.3 and "pvalue_adj" not in t3.columns
    with pytest.raises(ValueError, match="fdr_bh"):
        stats.run_pair_tests(list(files.values()), tmp_path / "p.tsv",
                             StatsSettings(pair_test="student", correction="fdr"), model="m")


# ------------------------------------------------------------------- workflow-level outputs
def test_pair_bootstrap_is_seeded_per_pair(tmp_path):
    files = {t: _pvi(tmp_path, t, x) for t, x in {"a": A, "b": B, "c": C}.items()}

    def ab(out, *, boot_seed=7, method="student", tasks=("a", "b"), resamples=400):
        tab = stats.run_pair_tests([files[t] for t in tasks], tmp_path / out,
                                   StatsSettings(pair_test=method, bootstrap_resamples=resamples, bootstrap_seed=boot_seed),
                                   model="m")
        return tab.set_index("group").loc["a__b"]

    first = ab("ab1.tsv")
    ci = [first["mean_diff_boot_lo"], first["mean_diff_boot_hi"]]
    stream = stats.pair_bootstrap_seed(7, "a__b")
    ref = stats.bootstrap_diff_ci(A, B, 400, stream)
    assert ci == [ref.low, ref.high]
    assert first["boot_resamples"] == 400 and first["boot_seed"] == stream
    lo, hi = first["mean_diff_lo"], first["mean_diff_hi"]
    assert ci[0] == pytest.approx(lo, abs=0.15) and ci[1] == pytest.approx(hi, abs=0.15)
    # another task's pairs do not move this pair's interval; the base seed does
    with_c = ab("abc.tsv", tasks=("a", "b", "c"))
    assert [with_c["mean_diff_boot_lo"], with_c["mean_diff_boot_hi"]] == ci
    assert ab("ab3.tsv", boot_seed=8)["mean_diff_boot_lo"] != ci[0]
    assert stats.pair_bootstrap_seed(7, "a__c") != stream
    # paired: the interval is of the subsamples the test used, around the same difference
    paired = ab("abp.tsv", method="paired")
    assert paired["mean_diff_boot_lo"] < paired["mean_diff"] < paired["mean_diff_boot_hi"]
    # no resamples: no interval
    none = ab("ab0.tsv", resamples=0)
    assert math.isnan(none["mean_diff_boot_lo"]) and none["boot_resamples"] == 0


def test_bootstrap_columns(tmp_path):
    files = {t: _pvi(tmp_path, t, x) for t, x in {"a": A, "b": B, "c": C}.items()}
    i = list(stats.TEST_COLUMNS).index("mean_diff_hi")
    assert list(stats.TEST_COLUMNS)[i + 1 : i + 3] == ["mean_diff_boot_lo", "mean_diff_boot_hi"]
    stats.run_group_tests(list(files.values()), tmp_path / "triples.tsv",
                          StatsSettings(group_test="anova"), model="m")
    t3 = read_tsv(tmp_path / "triples.tsv")
    assert t3[["mean_diff_boot_lo", "mean_diff_boot_hi"]].isna().all(axis=None)


def test_run_vinfo_writes_one_row_per_task(tmp_path):
    files = [_pvi(tmp_path, "b", B), _pvi(tmp_path, "a", A)]
    tab = stats.run_vinfo(files, tmp_path / "vinfo.tsv", resamples=300, seed=9, model="m")
    back = read_tsv(tmp_path / "vinfo.tsv")
    assert list(back.columns) == ["task", "model", "n", "mean_pvi", "sd_pvi", "ci_low",
                                  "ci_high", "level", "resamples", "seed"]
    assert list(back["task"]) == ["a", "b"] and set(back["model"]) == {"m"}
    assert back.loc[0, "n"] == A.size and back.loc[0, "mean_pvi"] == pytest.approx(A.mean())
    ref = stats.vinfo_summary({"a": A, "b": B}, 300, seed=9)
    assert np.allclose(tab[["ci_low", "ci_high"]], ref[["ci_low", "ci_high"]])
    more = stats.run_vinfo([*files, _pvi(tmp_path, "c", C)], tmp_path / "v3.tsv", resamples=300,
                           seed=9, model="m")
    pd.testing.assert_frame_equal(more.iloc[:2], tab)
    with pytest.raises(PvigroupError, match=r"a\.parquet: task 'a' given twice"):
        stats.run_vinfo([files[1], files[1]], tmp_path / "x.tsv", resamples=10, seed=1)


def test_seed_variability_by_hand():
    # three training seeds whose PVI differ by a constant shift: means m, m + .3, m + .6
    reps = {52: A + 0.3, 42: A, 62: A + 0.6}
    out = stats.seed_variability(reps, 1000, seed=4, name="a")
    m = A.mean() + 0.3
    half = 4.302653 * 0.3 / math.sqrt(3)  # t(0.975, 2) * sd / sqrt(S)
    assert out["n_seeds"] == 3 and out["seeds"] == "42,52,62"
    assert [float(v) for v in out["seed_means"].split(",")] == pytest.approx(
        [A.mean(), A.mean() + 0.3, A.mean() + 0.6], abs=1e-5)
    assert out["seed_sd"] == pytest.approx(0.3)
    assert (out["seed_ci_low"], out["seed_ci_high"]) == pytest.approx((m - half, m + half), abs=1e-5)
    # the combined interval covers training noise too: wider than instance sampling alone
    inst = stats.bootstrap_mean_ci(A, 1000, seed=4)
    assert out["combined_ci_low"] < m < out["combined_ci_high"]
    assert out["combined_ci_high"] - out["combined_ci_low"] > 1.5 * (inst.high - inst.low)
    assert out == stats.seed_variability(reps, 1000, seed=4, name="a")  # seeded
    # seeds and instances are crossed: identical replicates add no information, so the
    # combined interval is the instance interval (not narrower by sqrt(3))
    same = stats.seed_variability({1: A, 2: A, 3: A}, 2000, seed=4, name="a")
    ref = stats.bootstrap_mean_ci(A, 2000, seed=9)
    width = same["combined_ci_high"] - same["combined_ci_low"]
    assert width == pytest.approx(ref.high - ref.low, rel=0.12)
    with pytest.raises(PvigroupError, match="cover different instances"):
        stats.seed_variability({1: A, 2: A[:-1]}, 10, name="a")
    # one seed: no seed interval; the combined interval is the instance bootstrap's
    one = stats.seed_variability({42: A}, 2000, seed=4, name="a")
    assert math.isnan(one["seed_sd"]) and math.isnan(one["seed_ci_low"])
    ref = stats.bootstrap_mean_ci(A, 2000, seed=5)
    assert one["combined_ci_low"] == pytest.approx(ref.low, abs=0.05)
    assert one["combined_ci_high"] == pytest.approx(ref.high, abs=0.05)


def test_run_vinfo_with_seed_replicates(tmp_path):
    files = [_pvi(tmp_path, "a", A), _pvi(tmp_path, "b", B)]

    def rep(seed, task, x):
        path = tmp_path / "pvi" / f"seed{seed}" / f"{task}.parquet"
        pd_x = pd.DataFrame({"id": [f"{task}:{i}" for i in range(len(x))], "task": task, "pvi": x})
        write_parquet(pd_x, path, {"task": task})
        return path

    reps = [rep(52, "a", A + 0.2), rep(52, "b", B), rep(62, "a", A - 0.2), rep(62, "b", B + 0.1)]
    tab = stats.run_vinfo(files, tmp_path / "v.tsv", resamples=300, seed=9, model="m",
                          replicate_files=reps, main_seeds={"a": 42, "b": 42})
    back = read_tsv(tmp_path / "v.tsv")
    assert list(back.columns[-len(stats.SEED_COLUMNS):]) == stats.SEED_COLUMNS
    assert list(back["seeds"]) == ["42,52,62", "42,52,62"] and list(back["n_seeds"]) == [3, 3]
    assert back.loc[0, "seed_sd"] == pytest.approx(0.2)
    assert back.loc[1, "seed_sd"] == pytest.approx(np.std([0, 0, 0.1], ddof=1))
    # the instance-only columns are those of a run without replicates
    plain = stats.run_vinfo(files, tmp_path / "p.tsv", resamples=300, seed=9, model="m")
    pd.testing.assert_frame_equal(tab[plain.columns], plain)
    with pytest.raises(PvigroupError, match="seed 52 given as main run and replicate"):
        stats.run_vinfo(files, tmp_path / "x.tsv", resamples=10, replicate_files=reps,
                        main_seeds={"a": 52, "b": 42})
    # instances are matched across seeds by id, not by row order
    shuffled = rep(72, "b", B)
    write_parquet(pd.read_parquet(shuffled).iloc[::-1], shuffled, {"task": "b"})
    aligned = stats._aligned_by_id({42: files[1], 72: shuffled})
    assert np.array_equal(aligned[42], aligned[72])
    other = rep(82, "b", B)
    write_parquet(pd.read_parquet(other).assign(id=lambda d: d["id"] + "x"), other, {"task": "b"})
    with pytest.raises(PvigroupError, match=r"seed82/b\.parquet: its instance ids differ"):
        stats.run_vinfo(files, tmp_path / "x.tsv", resamples=10, replicate_files=[other],
                        main_seeds={"a": 42, "b": 42})
    stray = tmp_path / "pvi" / "other" / "a.parquet"
    stray.parent.mkdir()
    stray.write_bytes(files[0].read_bytes())
    with pytest.raises(PvigroupError, match=r"other/a\.parquet: a seed replicate must lie"):
        stats.run_vinfo(files, tmp_path / "x.tsv", resamples=10, replicate_files=[stray],
                        main_seeds={"a": 42, "b": 42})
    with pytest.raises(PvigroupError, match=r"seed replicate of 'c', which has no main"):
        stats.run_vinfo(files, tmp_path / "x.tsv", resamples=10,
                        replicate_files=[rep(52, "c", C)], main_seeds={"a": 42, "b": 42})


def test_run_sensitivity_table_and_summary(tmp_path):
    rng = np.random.default_rng(3)
    values = {"x": rng.normal(0.0, 1, 900), "y": rng.normal(0.3, 1, 700),
              "z": rng.normal(3.0, 1, 800)}
    files = [_pvi(tmp_path, t, v) for t, v in values.items()]
    tab = stats.run_sensitivity(files, tmp_path / "sens.tsv", tmp_path / "sum.tsv",
                                StatsSettings(sensitivity_sizes=[20, 5000], alpha=0.01, seed=4),
                                model="m")
    back = read_tsv(tmp_path / "sens.tsv")
    assert list(back.columns) == ["model", *stats.SENSITIVITY_COLUMNS]
    assert sorted(set(back["n_per_task"])) == [20, 700]
    pd.testing.assert_frame_equal(
        tab.drop(columns="model"), stats.sensitivity(values,
                                                     StatsSettings(sensitivity_sizes=[20, 5000], alpha=0.01, seed=4)))
    summary = read_tsv(tmp_path / "sum.tsv")
    assert list(summary.columns) == ["model", *stats.SUMMARY_COLUMNS]
    big = summary.set_index("n_per_task").loc[700]
    small = summary.set_index("n_per_task").loc[20]
    # 0.3 bits apart: told apart at n = 700, not at n = 20
    assert big["pairs_tested"] == 3 and big["triples_tested"] == 1
    assert big["pairs_accepted"] == 0 and big["n_selected"] == 0
    assert pd.isna(big["selected_groups"])  # empty cell: no group selected
    assert small["pairs_accepted"] >= 1 and "x__y" in small["selected_groups"].split(";")
    assert bool(big["same_as_largest"]) and not bool(small["same_as_largest"])
    with pytest.raises(PvigroupError, match=r"sens1\.tsv: .*at least 2 tasks"):
        stats.run_sensitivity(files[:1], tmp_path / "sens1.tsv", tmp_path / "s1.tsv",
                              StatsSettings(sensitivity_sizes=[10]))


def test_sensitivity_follows_tost_and_correction():
    rng = np.random.default_rng(5)
    pvi = {"p": rng.normal(0.5, 1, 4000), "q": rng.normal(0.52, 1, 4000),
           "r": rng.normal(0.4, 1, 60)}
    tab = stats.sensitivity(pvi,
                            StatsSettings(sensitivity_sizes=[50], alpha=0.05, test="tost", tost_margin=0.25, correction="holm", seed=1))
    assert list(tab.columns) == [*stats.SENSITIVITY_COLUMNS, "tost_pvalue", "pvalue_adj"]
    full = tab[tab["n_per_task"] == 60].set_index("group")
    # TOST at n = 60 cannot show equivalence within 0.25 bits (SE of the difference ~0.18)
    assert not full["accepted"].any() and not full["selected"].any()
    for _, part in tab.groupby("n_per_task"):
        pairs = part[part["size"] == 2]
        assert np.allclose(pairs["pvalue_adj"], multipletests(pairs["pvalue"], method="holm")[1])
        tri = part[part["size"] == 3].iloc[0]
        assert tri["tost_pvalue"] == pairs["tost_pvalue"].max()
        assert (part["accepted"] == (part["tost_pvalue"] < 0.05)).all()
    big = stats.sensitivity({"p": pvi["p"], "q": pvi["q"]},
                            StatsSettings(sensitivity_sizes=[], alpha=0.05, test="tost", tost_margin=0.25))
    assert big.loc[0, "accepted"] and big.loc[0, "selected"]  # n = 4000: equivalent
    with pytest.raises(ValueError, match="tost_margin"):
        stats.sensitivity(pvi, StatsSettings(sensitivity_sizes=[50], test="tost"))


def test_sensitivity_summary_by_hand():
    table = pd.DataFrame(
        {
            "n_per_task": [10, 10, 10, 10, 50, 50, 50, 50],
            "group": ["a__b", "a__c", "b__c", "a__b__c"] * 2,
            "size": [2, 2, 2, 3] * 2,
            "accepted": [True, True, False, True, True, False, False, False],
            "selected": [False, False, False, True, True, False, False, False],
        }
    )
    s = stats.sensitivity_summary(table)
    assert list(s.columns) == list(stats.SUMMARY_COLUMNS)
    assert s.to_dict("records") == [
        {"n_per_task": 10, "pairs_tested": 3, "pairs_accepted": 2, "triples_tested": 1,
         "triples_accepted": 1, "n_selected": 1, "selected_groups": "a__b__c",
         "same_as_largest": False},
        {"n_per_task": 50, "pairs_tested": 3, "pairs_accepted": 1, "triples_tested": 1,
         "triples_accepted": 0, "n_selected": 1, "selected_groups": "a__b",
         "same_as_largest": True},
    ]
