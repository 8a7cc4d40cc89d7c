"""Pure parts of pvigroup.train: settings, grid, group files, targets, seed aggregation."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from pvigroup import train as tr
from pvigroup.errors import PvigroupError
from pvigroup.io import read_tsv, write_json

HEADER = "group\ttasks\tsize\tsource\ttest\tstatistic\tpvalue\tscore\n"


def write_groups(path, rows, source="pvi-similar"):
    lines = [HEADER]
    for tasks in rows:
        tasks = sorted(tasks)
        lines.append(f"{'__'.join(tasks)}\t{','.join(tasks)}\t{len(tasks)}\t{source}\tstudent"
                     f"\t0.5\t0.6\t0.5\n")
    path.write_text("".join(lines))
    return path


# --------------------------------------------------------------------------- CI arithmetic
def test_t_interval_matches_hand_computation_with_t_2776():
    values = [0.80, 0.82, 0.79, 0.85, 0.84]
    mean, half = tr.t_interval(values)
    n = len(values)
    m = sum(values) / n
    s = math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))
    assert mean == pytest.approx(m)
    assert half == pytest.approx(2.776 * s / math.sqrt(n), rel=1e-3)  # the paper's t
    assert half == pytest.approx(sps.t.ppf(0.975, 4) * s / math.sqrt(n), rel=1e-12)


def test_t_interval_one_value_has_no_interval():
    assert tr.t_interval([0.7]) == (0.7, None)
    with pytest.raises(ValueError, match="at least one"):
        tr.t_interval([])


def test_t_interval_level_changes_quantile():
    values = [1.0, 2.0, 3.0]
    _, h95 = tr.t_interval(values, 0.95)
    _, h90 = tr.t_interval(values, 0.90)
    assert h95 == pytest.approx(sps.t.ppf(0.975, 2) * 1.0 / math.sqrt(3))
    assert h90 < h95


def _metrics(kind, group, seed, scores, model="m"):
    return {"kind": kind, "group": group, "seed": seed, "model": model,
            "test": {t: {"accuracy": a, "macro_f1": f} for t, (a, f) in scores.items()}}


def test_summary_aggregate_and_comparison():
    seeds = [42, 52, 62, 72, 82]
    stl_a = [0.70, 0.72, 0.71, 0.69, 0.73]
    mtl_a = [0.75, 0.74, 0.78, 0.72, 0.76]
    metrics = []
    for i, s in enumerate(seeds):
        metrics.append(_metrics("stl", "a", s, {"a": (stl_a[i], stl_a[i] - 0.1)}))
        metrics.append(_metrics("stl", "b", s, {"b": (0.5, 0.4)}))
        metrics.append(_metrics("mtl", "a__b", s, {"a": (mtl_a[i], mtl_a[i] - 0.1),
                                                   "b": (0.5, 0.4)}))
    sources = {"a__b": ["manual", "pvi-similar"]}
    summary = tr.summary_rows(metrics, sources)
    assert list(summary.columns) == list(tr.SUMMARY_COLUMNS)
    # 5 seeds x (2 STL + 2 sources x 2 tasks)
    assert len(summary) == 5 * (2 + 4)
    assert set(summary.loc[summary.kind == "stl", "source"]) == {"stl"}

    agg = tr.aggregate_seeds(summary)
    row = agg[(agg.kind == "mtl") & (agg.source == "pvi-similar") & (agg.task == "a")].iloc[0]
    assert row.n_seeds == 5
    assert row.acc_mean == pytest.approx(np.mean(mtl_a))
    assert row.acc_ci == pytest.approx(2.7764451 * np.std(mtl_a, ddof=1) / math.sqrt(5))
    b = agg[(agg.kind == "stl") & (agg.task == "b")].iloc[0]
    assert b.acc_ci == 0.0  # constant scores: zero-width interval

    cmp = tr.compare_mtl_stl(summary)
    assert list(cmp.columns) == list(tr.COMPARISON_COLUMNS)
    r = cmp[(cmp.source == "pvi-similar") & (cmp.task == "a")].iloc[0]
    d = np.subtract(mtl_a, stl_a)
    assert r.acc_diff == pytest.approx(d.mean())
    assert r.acc_diff_ci == pytest.approx(sps.t.ppf(0.975, 4) * d.std(ddof=1) / math.sqrt(5))
    assert r.acc_pvalue == pytest.approx(sps.ttest_rel(mtl_a, stl_a).pvalue)
    assert r.seeds == "42,52,62,72,82"


def test_aggregation_with_one_seed_reports_n1_and_no_interval(tmp_path):
    files = []
    for kind, group, scores in [("stl", "a", {"a": (0.7, 0.6)}), ("stl", "b", {"b": (0.5, 0.5)}),
                                ("mtl", "a__b", {"a": (0.8, 0.7), "b": (0.6, 0.5)})]:
        p = tmp_path / kind / group / "metrics.json"
        write_json(_metrics(kind, group, 42, scores), p)
        files.append(p)
    groups = write_groups(tmp_path / "similar.tsv", [["a", "b"]])
    out = [tmp_path / n for n in ("summary.tsv", "aggregate.tsv", "mtl_vs_stl.tsv")]
    tr.collect_train(files, [groups], *out, model="m")
    agg = read_tsv(out[1])
    assert (agg["n_seeds"] == 1).all()
    assert agg["acc_ci"].isna().all() and agg["f1_ci"].isna().all()
    # empty cells in the file, not "nan"
    assert "nan" not in out[1].read_text().lower()
    cmp = read_tsv(out[2])
    assert cmp.loc[cmp.task == "a", "acc_diff"].iloc[0] == pytest.approx(0.1)
    assert cmp["acc_diff_ci"].isna().all() and cmp["acc_pvalue"].isna().all()
    summary = read_tsv(out[0])
    assert set(summary["source"]) == {"stl", "pvi-similar"}


def test_collect_rejects_other_model_and_missing_keys(tmp_path):
    p = tmp_path / "metrics.json"
    write_json(_metrics("stl", "a", 42, {"a": (0.7, 0.6)}, model="other"), p)
    with pytest.raises(PvigroupError, match="expected 'm'"):
        tr.collect_train([p], [], *(tmp_path / f"{i}.tsv" for i in range(3)), model="m")
    write_json({"kind": "stl"}, p)
    with pytest.raises(PvigroupError, match="missing key 'group'"):
        tr.collect_train([p], [], *(tmp_path / f"{i}.tsv" for i in range(3)), model="m")


def test_comparison_pairs_only_common_seeds():
    metrics = [_metrics("stl", "a", 42, {"a": (0.5, 0.5)}),
               _metrics("mtl", "a__b", 42, {"a": (0.6, 0.6)}),
               _metrics("mtl", "a__b", 52, {"a": (0.9, 0.9)})]
    cmp = tr.compare_mtl_stl(tr.summary_rows(metrics, {"a__b": ["manual"]}))
    assert cmp.iloc[0].n_seeds == 1 and cmp.iloc[0].acc_diff == pytest.approx(0.1)


# --------------------------------------------------------------------------- grid
def test_select_best_picks_highest_first_on_ties_and_skips_missing():
    assert tr.select_best([0.2, 0.9, 0.5]) == 1
    assert tr.select_best([0.7, 0.7, 0.1]) == 0
    assert tr.select_best([None, float("nan"), 0.3]) == 2
    with pytest.raises(PvigroupError, match="no grid point"):
        tr.select_best([None, float("nan")])


def test_grid_points_select_and_runs():
    s = tr.TrainSettings(epochs=(6, 5, 10), lr=(2e-5, 1e-5), max_length=(512, 128))
    pts = tr.grid_points(s)
    assert [(p.lr, p.max_length, p.epochs, p.select) for p in pts] == [
        (1e-5, 128, 10, True), (1e-5, 512, 10, True), (2e-5, 128, 10, True),
        (2e-5, 512, 10, True)]
    runs = tr.grid_points(tr.TrainSettings(epochs=(5, 6), lr=(1e-5,), max_length=(128,),
                                           epoch_search="runs"))
    assert [(p.epochs, p.select) for p in runs] == [(5, False), (6, False)]
    # select keeps only the grid's epoch values; runs keep their last epoch
    assert {p.allowed_epochs for p in pts} == {(5, 6, 10)}
    assert [p.allowed_epochs for p in runs] == [(5,), (6,)]


def test_grid_point_rejects_epochs_outside_the_run():
    assert tr.GridPoint(1e-5, 128, 3, True).allowed_epochs == (1, 2, 3)
    with pytest.raises(PvigroupError, match=r"epochs \[4\] cannot be kept from a run of 3"):
        tr.GridPoint(1e-5, 128, 3, True, (4,))
    with pytest.raises(PvigroupError, match="cannot be kept"):
        tr.GridPoint(1e-5, 128, 3, False, (2,))


def test_settings_from_params_and_errors():
    s = tr.TrainSettings.from_params({"grid": {"epochs": [3], "lr": [1e-4], "max_length": 64},
                                      "batch_size": 16, "sampler": "temperature",
                                      "loss_weights": {"a": 2}})
    assert s.epochs == (3,) and s.max_length == (64,) and s.loss_weights == {"a": 2.0}
    with pytest.raises(PvigroupError, match="unknown key"):
        tr.TrainSettings.from_params({"bogus": 1})
    with pytest.raises(PvigroupError, match=r"train\.sampler"):
        tr.TrainSettings(sampler="random")
    with pytest.raises(PvigroupError, match=r"train\.grid\.lr"):
        tr.TrainSettings(lr=())


def test_job_settings_hold_only_the_jobs_slice():
    cfg = {"seeds": [42, 52], "sources": ["manual"], "ci_level": 0.95,
           "grid": {"epochs": [5, 10], "lr": [1e-5], "max_length": [128]},
           "batch_size": 32, "loss_weights": {"a": 2.0, "c": 0.5}}
    mtl = tr.job_settings(cfg, ["b", "a"])
    assert "seeds" not in mtl and "sources" not in mtl and "ci_level" not in mtl
    assert mtl["loss_weights"] == {"a": 2.0}
    # adding a task elsewhere in the config leaves this group's params unchanged
    cfg2 = {**cfg, "loss_weights": {**cfg["loss_weights"], "d": 3.0}, "seeds": [1, 2, 3]}
    assert tr.job_settings(cfg2, ["a", "b"]) == mtl
    stl = tr.job_settings(cfg, ["a"], {"a": {"lr": 3e-5, "batch_size": 8}})
    assert stl["grid"]["lr"] == [3e-5] and stl["batch_size"] == 8
    assert stl["grid"]["epochs"] == [5, 10]
    assert "loss_weights" not in stl
    assert cfg["grid"]["lr"] == [1e-5]  # the config is not modified
    tr.TrainSettings.from_params(stl)
    # switching the stage on or off is not a job setting (and no rerun trigger)
    assert tr.job_settings({**cfg, "enabled": True}, ["a"]) == tr.job_settings(cfg, ["a"])


# --------------------------------------------------------------------------- groups, targets
def test_mtl_targets_reads_group_files(tmp_path):
    sim = write_groups(tmp_path / "similar.tsv", [["b", "a"], ["c", "d", "e"]])
    dis = write_groups(tmp_path / "dissimilar.tsv", [["a", "c"], ["a", "b"]], "pvi-dissimilar")
    empty = tmp_path / "empty.tsv"
    empty.write_text(HEADER)
    got = tr.mtl_targets([sim, dis, empty], "minilm", [42, 52])
    assert got == [f"results/train/minilm/mtl/{g}/seed{s}/metrics.json"
                   for g in ("a__b", "a__c", "c__d__e") for s in (42, 52)]
    assert tr.group_sources([sim, dis])["a__b"] == ["pvi-dissimilar", "pvi-similar"]
    # config-listed groups are added (and deduplicated)
    got = tr.mtl_targets([sim], "minilm", [1], groups=[["b", "a"], ["f", "g"]])
    assert got == [f"results/train/minilm/mtl/{g}/seed1/metrics.json"
                   for g in ("a__b", "c__d__e", "f__g")]
    assert tr.mtl_targets([empty], "minilm", [1]) == []


def test_mtl_targets_one_seed_and_bad_seeds(tmp_path):
    sim = write_groups(tmp_path / "similar.tsv", [["a", "b"]])
    assert tr.mtl_targets([sim], "m", [7]) == ["results/train/m/mtl/a__b/seed7/metrics.json"]
    with pytest.raises(PvigroupError, match="listed twice"):
        tr.mtl_targets([sim], "m", [7, 7])
    with pytest.raises(PvigroupError, match="at least one seed"):
        tr.stl_targets(["a"], "m", [])
    assert tr.stl_targets(["b", "a"], "m", [1]) == ["results/train/m/stl/a/seed1/metrics.json",
                                                    "results/train/m/stl/b/seed1/metrics.json"]


def test_unknown_task_in_group_is_named(tmp_path):
    sim = write_groups(tmp_path / "similar.tsv", [["a", "zz"]])
    with pytest.raises(PvigroupError, match=r"similar.tsv, line 2.*unknown task\(s\) zz"):
        tr.mtl_targets([sim], "m", [1], known_tasks=["a", "b"])
    with pytest.raises(PvigroupError, match="unknown task"):
        tr.mtl_targets([], "m", [1], groups=[["a", "zz"]], known_tasks=["a", "b"])


def test_task_of_another_model_family_is_rejected(tmp_path):
    models = {"roberta": {"pretrained": "x", "family": "roberta", "tasks": ["rte", "cb"]},
              "clinical": {"pretrained": "y", "family": "bert", "tasks": ["neg", "mod"]}}
    ok = write_groups(tmp_path / "ok.tsv", [["rte", "cb"]])
    assert len(tr.mtl_targets([ok], "roberta", [1], models=models)) == 1
    bad = write_groups(tmp_path / "bad.tsv", [["rte", "neg"]])
    with pytest.raises(PvigroupError, match=r"task 'neg'.*family bert.*not to 'roberta'"):
        tr.mtl_targets([bad], "roberta", [1], known_tasks=["rte", "cb", "neg", "mod"],
                       models=models)


def test_group_file_errors_name_file_and_line(tmp_path):
    p = tmp_path / "g.tsv"
    p.write_text(HEADER + "b__a\ta,b\t2\tmanual\t\t\t\t\n")
    with pytest.raises(PvigroupError, match=r"g.tsv, line 2: group 'b__a'.*expected 'a__b'"):
        tr.read_groups(p)
    p.write_text(HEADER + "a__b\ta,b\t3\tmanual\t\t\t\t\n")
    with pytest.raises(PvigroupError, match="size 3 but 2 tasks"):
        tr.read_groups(p)
    p.write_text("group\ttasks\na__b\ta,b\n")
    with pytest.raises(PvigroupError, match="missing column"):
        tr.read_groups(p)
    with pytest.raises(PvigroupError, match="not found"):
        tr.read_groups(tmp_path / "absent.tsv")


def test_single_task_group_is_skipped(tmp_path, caplog):
    p = write_groups(tmp_path / "g.tsv", [["a"], ["a", "b"]], "taskemb")
    assert tr.group_sources([p]) == {"a__b": ["taskemb"]}
    assert "covered by STL" in caplog.text


def test_summary_rows_frame_is_sorted_and_typed():
    df = tr.summary_rows([_metrics("stl", "b", 52, {"b": (0.1, 0.2)}),
                          _metrics("stl", "a", 42, {"a": (0.3, 0.4)})], {})
    assert list(df["task"]) == ["a", "b"]
    assert df["seed"].dtype == "int64"
    # each row carries its own run's scores, whatever the order they came in
    assert df[["group", "seed", "accuracy", "macro_f1"]].values.tolist() == [
        ["a", 42, 0.3, 0.4], ["b", 52, 0.1, 0.2]]
    assert set(df["source"]) == {"stl"}
    # no runs: the same columns and seed dtype (the collect rule writes it as summary.tsv)
    empty = tr.summary_rows([], {})
    assert list(empty.columns) == list(df.columns) == [
        "kind", "source", "group", "task", "seed", "accuracy", "macro_f1"]
    assert len(empty) == 0 and empty["seed"].dtype == "int64"


def test_same_run_lengths():
    assert tr.same_run_lengths(90, [512, 128]) == {128: 128, 512: 128}
    assert tr.same_run_lengths(128, [128, 512]) == {128: 128, 512: 128}
    assert tr.same_run_lengths(129, [128, 512]) == {128: 128, 512: 512}
    assert tr.same_run_lengths(200, [128, 256, 512]) == {128: 128, 256: 256, 512: 256}
    assert tr.same_run_lengths(600, [128, 512]) == {128: 128, 512: 512}
    with pytest.raises(PvigroupError, match="non-empty"):
        tr.same_run_lengths(10, [])


def test_settings_carry_clipping_and_head():
    s = tr.TrainSettings.from_params({"max_grad_norm": 0.5, "head": "hf"})
    assert (s.max_grad_norm, s.head) == (0.5, "hf")
    assert (tr.TrainSettings().max_grad_norm, tr.TrainSettings().head) == (1.0, "cnlp")
