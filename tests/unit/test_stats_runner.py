"""The batched test jobs (pvigroup.stats.runner, group_runner): the same numbers as one test per group
and as scipy, byte-stable tables, pruning of large groups, bootstrap only where reported."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from pvigroup import stats
from pvigroup import workflow as wf
from pvigroup.config import StatsSettings
from pvigroup.errors import PvigroupError
from pvigroup.io import read_tsv, write_tsv
from pvigroup.stats import group_runner
from pvigroup.stats import vectorised as vec

# "a" and "a-b": group ids in string order are not index tuples in order ("a-b__x" < "a__x")
NAMES = ["a", "a-b", "b_c", "cc", "d"]


@pytest.fixture
def pvi_files(tmp_path):
    rng = np.random.default_rng(3)
    files = {}
    for i, t in enumerate(NAMES):
        x = rng.normal(1 + 0.06 * i, 1 + 0.1 * i, 25 + 9 * i)
        path = tmp_path / "pvi" / f"{t}.parquet"
        path.parent.mkdir(exist_ok=True)
        pd.DataFrame({"id": [f"{t}{j}" for j in range(x.size)], "task": t, "pvi": x}).to_parquet(path)
        files[t] = path
    return files


def _reference(tmp_path, files, sizes, name, correction, *, method, seed=42, tost_margin=None,
               bootstrap_resamples=0, bootstrap_seed=42):
    """The table of one pure test per group (``pair_test`` / ``group_test``, ``tost_group``,
    ``bootstrap_diff_ci``), written as the runner writes its tables, as lines."""
    samples = {t: pd.read_parquet(files[t])["pvi"].to_numpy() for t in sorted(files)}
    nan = math.nan
    rows = []
    for k in sizes:
        for g in itertools.combinations(sorted(files), k):
            x = {t: samples[t] for t in g}
            res = (stats.pair_test(x[g[0]], x[g[1]], names=g, method=method, seed=seed)
                   if k == 2 else stats.group_test(x, method=method))
            eff = res.effect
            df1, df2 = res.df if isinstance(res.df, tuple) else (res.df, nan)
            ci = eff.get("mean_diff_ci", [nan, nan])
            boot = [nan, nan]
            if k == 2 and bootstrap_resamples:
                a, b = x[g[0]], x[g[1]]
                if method == "paired":
                    a, b = stats.paired_subsample(a, b, seed)
                c = stats.bootstrap_diff_ci(
                    a, b, bootstrap_resamples,
                    stats.pair_bootstrap_seed(bootstrap_seed, wf.group_id(g)), names=g)
                boot = [c.low, c.high]
            row = {"group": wf.group_id(g), "tasks": ",".join(g), "size": k, "model": "m",
                   "test": method, "statistic": res.statistic, "pvalue": res.pvalue,
                   "df": float(df1), "df2": float(df2), "n_total": sum(res.n.values()),
                   "mean_diff": eff.get("mean_diff", nan), "mean_diff_lo": float(ci[0]),
                   "mean_diff_hi": float(ci[1]), "mean_diff_boot_lo": boot[0],
                   "mean_diff_boot_hi": boot[1], "hedges_g": eff.get("hedges_g", nan),
                   "eta2": eff["eta2"], "omega2": eff["omega2"]}
            if tost_margin is not None:
                row.update(tost_pvalue=stats.tost_group(x, tost_margin)["pvalue"],
                           tost_margin=float(tost_margin), tost_variance="pooled")
            rows.append(row)
    table = pd.DataFrame(rows).sort_values(["size", "group"], kind="stable")
    if correction != "none":
        table["pvalue_adj"] = multipletests(table["pvalue"].to_numpy(), method=correction)[1]
    write_tsv(table, tmp_path / f"{name}.tsv")
    return (tmp_path / f"{name}.tsv").read_text().splitlines()


def _prefix(lines_new, lines_old):
    width = len(lines_old[0].split("\t"))
    return ["\t".join(line.split("\t")[:width]) for line in lines_new]


@pytest.mark.parametrize("method,correction", [("student", "none"), ("welch", "holm"),
                                               ("paired", "fdr_bh")])
def test_pair_table_equals_one_test_per_pair(tmp_path, pvi_files, method, correction):
    old = _reference(tmp_path, pvi_files, [2], "ref", correction, method=method, seed=5,
                     tost_margin=0.3, bootstrap_resamples=150, bootstrap_seed=9)
    out = tmp_path / "pairs.tsv"
    table = stats.run_pair_tests(list(pvi_files.values()), out,
                                 StatsSettings(pair_test=method, seed=5, tost_margin=0.3, bootstrap_resamples=150, bootstrap_seed=9, correction=correction),
                                 model="m")
    new = out.read_text().splitlines()
    assert _prefix(new, old) == old  # byte for byte on every column of the reference
    assert list(table["group"]) == sorted(table["group"])
    extra = new[0].split("\t")[len(old[0].split("\t")):]
    assert extra[:6] == ["n_1", "n_2", "mean_1", "mean_2", "sd_1", "sd_2"]
    assert ("subsample" in extra) == (method == "paired")
    row = table.set_index("group").loc["a__cc"]
    a = pd.read_parquet(pvi_files["a"])["pvi"].to_numpy()
    assert row["n_1"] == a.size and row["mean_1"] == pytest.approx(a.mean())
    assert row["sd_1"] == pytest.approx(a.std(ddof=1))
    assert row["boot_resamples"] == 150
    assert row["boot_seed"] == stats.pair_bootstrap_seed(9, "a__cc")


def test_vectorised_numbers_are_scipys(pvi_files):
    samples = {t: pd.read_parquet(f)["pvi"].to_numpy() for t, f in pvi_files.items()}
    s = vec.summarise(samples)
    ij = np.array(list(itertools.combinations(range(len(NAMES)), 2)))
    for method in ("student", "welch"):
        cols = vec.pair_columns(s, ij, method)
        for r, (i, j) in enumerate(ij):
            ref = sps.ttest_ind(samples[NAMES[i]], samples[NAMES[j]], equal_var=method == "student")
            assert cols["statistic"][r] == pytest.approx(ref.statistic, rel=1e-10)
            assert cols["pvalue"][r] == pytest.approx(ref.pvalue, rel=1e-9)
            assert cols["df"][r] == pytest.approx(ref.df, rel=1e-10)
    idx = np.array(list(itertools.combinations(range(len(NAMES)), 3)))
    cols = vec.group_columns(s, idx)
    for r, g in enumerate(idx):
        ref = sps.f_oneway(*[samples[NAMES[i]] for i in g])
        assert cols["statistic"][r] == pytest.approx(ref.statistic, rel=1e-10)
        assert cols["pvalue"][r] == pytest.approx(ref.pvalue, rel=1e-9)
    p = vec.tost_pvalues(s, ij, 0.25, "unequal")
    for r, (i, j) in enumerate(ij):
        ref = stats.tost(samples[NAMES[i]], samples[NAMES[j]], 0.25, variance="unequal")
        assert p[r] == pytest.approx(ref.pvalue, rel=1e-9)


@pytest.mark.parametrize("method", ["anova", "kruskal"])
def test_group_table_equals_one_test_per_group(tmp_path, pvi_files, method):
    old = _reference(tmp_path, pvi_files, [3, 4], "tri", "fdr_bh", method=method, tost_margin=0.3)
    out = tmp_path / "triples.tsv"
    n = stats.run_group_tests(list(pvi_files.values()), out,
                              StatsSettings(group_test=method, max_group_size=4, tost_margin=0.3, correction="fdr_bh"),
                              model="m")
    new = out.read_text().splitlines()
    assert n == math.comb(5, 3) + math.comb(5, 4) == len(new) - 1
    assert _prefix(new, old) == old
    assert new[0].split("\t")[-1] == "sd_4"
    # the parquet table (used past GROUP_TSV_MAX groups) holds the same rows, written in chunks
    monkey = pytest.MonkeyPatch()
    monkey.setattr(group_runner, "_CHUNK_ROWS", 3)
    pq = tmp_path / "triples.parquet"
    try:
        stats.run_group_tests(list(pvi_files.values()), pq,
                              StatsSettings(group_test=method, max_group_size=4, tost_margin=0.3, correction="fdr_bh"),
                              model="m")
    finally:
        monkey.undo()
    a, b = stats.read_test_table(pq), read_tsv(out)
    assert list(a["group"]) == list(b["group"])
    np.testing.assert_allclose(a["pvalue_adj"], b["pvalue_adj"], rtol=1e-5)


def test_tables_are_byte_stable(tmp_path, pvi_files):
    files = list(pvi_files.values())
    names = ("v", "w", "x", "y", "z")  # the lexicographic fast path (no re-sort); NAMES re-sort
    renamed = {}
    for t, new in zip(NAMES, names, strict=True):
        path = tmp_path / "renamed" / f"{new}.parquet"
        path.parent.mkdir(exist_ok=True)
        pd.read_parquet(pvi_files[t]).assign(task=new).to_parquet(path)
        renamed[new] = path
    assert vec.lexicographic_is_id_order(names) and not vec.lexicographic_is_id_order(NAMES)
    for inputs, tag in ((files, "x"), (list(renamed.values())[::-1], "y")):
        blobs = []
        for run in range(2):
            out = tmp_path / f"{tag}{run}"
            stats.run_pair_tests(inputs, out / "pairs.tsv",
                                 StatsSettings(pair_test="welch", bootstrap_resamples=50),
                                 model="m")
            stats.run_group_tests(inputs, out / "triples.tsv", StatsSettings(group_test="anova"),
                                  model="m")
            stats.run_group_tests(inputs, out / "triples.parquet",
                                  StatsSettings(group_test="anova", correction="holm"), model="m")
            blobs.append([(out / f).read_bytes() for f in ("pairs.tsv", "triples.tsv",
                                                           "triples.parquet")])
        assert blobs[0] == blobs[1]


def test_large_groups_are_pruned_to_accepted_subgroups(tmp_path, pvi_files, monkeypatch):
    files = list(pvi_files.values())
    full = tmp_path / "full.tsv"
    stats.run_group_tests(files, full,
                          StatsSettings(group_test="anova", max_group_size=5, alpha=0.3), model="m")
    monkeypatch.setattr(group_runner, "EXHAUSTIVE_MAX", 0)  # every size above 3 pruned
    pruned = tmp_path / "pruned.tsv"
    stats.run_group_tests(files, pruned,
                          StatsSettings(group_test="anova", max_group_size=5, alpha=0.3), model="m")
    a, b = read_tsv(full), read_tsv(pruned)
    accepted = set(a.loc[a["pvalue"] > 0.3, "group"])
    for k in (4, 5):
        want = [g for g in a.loc[a["size"] == k, "group"]
                if all("__".join(sub) in accepted
                       for sub in itertools.combinations(g.split("__"), k - 1))]
        assert list(b.loc[b["size"] == k, "group"]) == want
        # the pruned table's rows are the full table's rows for the same groups
        pd.testing.assert_frame_equal(b[b["size"] == k].reset_index(drop=True),
                                      a[a["group"].isin(want)].reset_index(drop=True))
    assert (a["size"] == 4).sum() == 5 and len(b) < len(a)


def test_apriori_candidates():
    acc = np.array([[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3], [0, 1, 4], [1, 2, 4]])
    assert vec.apriori_candidates(acc).tolist() == [[0, 1, 2, 3]]  # 0,1,2,4 lacks 0,2,4
    assert vec.apriori_candidates(np.empty((0, 3), dtype=int)).shape == (0, 4)


def test_bootstrap_past_max_pairs_only_for_accepted_pairs(tmp_path, pvi_files):
    files = list(pvi_files.values())
    st = StatsSettings(pair_test="student", bootstrap_resamples=100, alpha=0.2)
    every = stats.run_pair_tests(files, tmp_path / "all.tsv", st, model="m")
    some = stats.run_pair_tests(files, tmp_path / "some.tsv",
                                replace(st, bootstrap_max_pairs=3), model="m")
    acc = some["pvalue"] > 0.2
    assert 0 < acc.sum() < len(some)
    assert some.loc[acc, "mean_diff_boot_lo"].notna().all()
    assert some.loc[~acc, "mean_diff_boot_lo"].isna().all()
    assert (some.loc[~acc, "boot_resamples"] == 0).all()
    pd.testing.assert_series_equal(some.loc[acc, "mean_diff_boot_hi"],
                                   every.loc[acc, "mean_diff_boot_hi"])
    pd.testing.assert_series_equal(some["mean_diff_lo"], every["mean_diff_lo"])


def test_errors_name_the_file_and_pair(tmp_path, pvi_files):
    flat = []
    for t in ("f1", "f2", "f3"):
        path = tmp_path / f"{t}.parquet"
        pd.DataFrame({"pvi": [1.5] * 4}).to_parquet(path)
        flat.append(path)
    with pytest.raises(PvigroupError, match=r"pairs.tsv: f1 vs f2: both PVI samples have zero"):
        stats.run_pair_tests(flat[:2], tmp_path / "pairs.tsv", StatsSettings(pair_test="student"),
                             model="m")
    with pytest.raises(PvigroupError, match=r"f1.parquet.*f2.parquet.*zero variance"):
        stats.run_pair_tests(flat[:2], tmp_path / "pairs.tsv", StatsSettings(pair_test="paired"),
                             model="m")
    with pytest.raises(PvigroupError, match=r"triples.tsv: f1 vs f2 vs f3: every PVI sample"):
        stats.run_group_tests(flat, tmp_path / "triples.tsv", StatsSettings(group_test="anova"),
                              model="m")
    with pytest.raises(PvigroupError, match="at least 3 tasks"):
        stats.run_group_tests(flat[:2], tmp_path / "t.tsv", StatsSettings(group_test="anova"),
                              model="m")
    one = stats.run_pair_tests(flat[:1], tmp_path / "one.tsv", StatsSettings(pair_test="student"),
                               model="m")
    assert one.empty and (tmp_path / "one.tsv").read_text().startswith("group\ttasks\tsize")
    with pytest.raises(ValueError, match="unknown pair test method"):
        stats.run_pair_tests(flat, tmp_path / "p.tsv", StatsSettings(pair_test="anova"), model="m")


def test_group_table_name_switches_to_parquet_past_the_tsv_limit(monkeypatch):
    cfg = {"tasks": {f"t{i}": {} for i in range(12)}, "models": {"m": {}},
           "stats": {"max_group_size": 4}}
    assert wf.group_test_count(cfg, "m") == math.comb(12, 3) + math.comb(12, 4)
    assert wf.test_table(cfg, "m", "triples") == "results/stats/m/triples.tsv"
    monkeypatch.setattr(wf, "GROUP_TSV_MAX", 100)
    assert wf.test_table(cfg, "m", "triples") == "results/stats/m/triples.parquet"
    assert wf.test_table(cfg, "m", "pairs") == "results/stats/m/pairs.tsv"
    monkeypatch.setattr(wf, "EXHAUSTIVE_MAX", 10)  # size 4 pruned: not counted
    assert wf.group_test_count(cfg, "m") == math.comb(12, 3)
    assert not wf.has_group_tests({**cfg, "stats": {"max_group_size": 2}}, "m")
