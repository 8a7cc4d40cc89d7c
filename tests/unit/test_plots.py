"""Report figures from the fixed result files: written, PNG, non-empty, deterministic."""

from pathlib import Path

import pandas as pd
import pytest

from pvigroup import plots
from pvigroup.config import StatsSettings
from pvigroup.errors import PvigroupError

FIXTURE = Path(__file__).parents[1] / "data" / "results_fixture"
PNG = b"\x89PNG\r\n\x1a\n"
TASKS = ["boolq", "causal-language", "cb", "rte"]


def _is_png(path: Path) -> bool:
    return path.exists() and path.stat().st_size > 2000 and path.read_bytes()[:8] == PNG


def test_all_figures_written(tmp_path):
    names = {"cb": "CB"}
    plots.plot_pvi_violin({t: FIXTURE / f"pvi/roberta/{t}.parquet" for t in TASKS},
                          tmp_path / "violin.png", model="roberta", names=names)
    plots.plot_pair_pvalues(FIXTURE / "stats/roberta/pairs.tsv", tmp_path / "pairs.png",
                            alpha=0.01, model="roberta", names=names)
    plots.plot_groups(FIXTURE / "groups/roberta/similar.tsv", tmp_path / "groups.png", alpha=0.01)
    plots.plot_stl_mtl(FIXTURE / "train/roberta/aggregate.tsv", tmp_path / "stl_mtl.png")
    plots.plot_label_distributions({t: FIXTURE / f"data/{t}/label_counts.tsv" for t in TASKS},
                                   tmp_path / "labels.png")
    for name in ("violin", "pairs", "groups", "stl_mtl", "labels"):
        assert _is_png(tmp_path / f"{name}.png"), name


def test_figure_is_deterministic(tmp_path):
    for sub in ("a", "b"):
        plots.plot_pair_pvalues(FIXTURE / "stats/clin/pairs.tsv", tmp_path / sub / "p.png",
                                alpha=0.01)
    assert (tmp_path / "a/p.png").read_bytes() == (tmp_path / "b/p.png").read_bytes()
    assert b"Matplotlib" not in (tmp_path / "a/p.png").read_bytes()


def test_empty_inputs_still_give_a_figure(tmp_path):
    header = "group\ttasks\tsize\tsource\ttest\tstatistic\tpvalue\tscore\n"
    (tmp_path / "similar.tsv").write_text(header)
    plots.plot_groups(tmp_path / "similar.tsv", tmp_path / "groups.png", alpha=0.01)
    (tmp_path / "pairs.tsv").write_text("group\ttasks\tsize\ttest\tstatistic\tpvalue\tdf\n")
    plots.plot_pair_pvalues(tmp_path / "pairs.tsv", tmp_path / "pairs.png", alpha=0.01)
    assert _is_png(tmp_path / "groups.png") and _is_png(tmp_path / "pairs.png")


def test_pvalue_matrix_uses_adjusted_p():
    pairs = pd.DataFrame({"group": ["a__b", "a__c"], "pvalue": [0.5, 0.001],
                          "pvalue_adj": [0.9, 0.002]})
    mat = plots.pvalue_matrix(pairs)
    assert mat.loc["b", "a"] == 0.9 and mat.loc["a", "c"] == 0.002
    assert mat.isna().loc["b", "c"] and mat.isna().loc["a", "a"]


def test_missing_pvi_file_is_a_user_error(tmp_path):
    with pytest.raises(PvigroupError, match="file not found"):
        plots.plot_pvi_violin({"x": tmp_path / "x.parquet"}, tmp_path / "v.png")


def _opens(path: Path) -> bool:
    import matplotlib.image as mpimg

    img = mpimg.imread(path)
    return path.stat().st_size > 0 and img.ndim == 3 and min(img.shape[:2]) > 100


def _workflow_stats(tmp_path: Path) -> dict[str, Path]:
    """pairs.tsv (with bootstrap and TOST columns) and sensitivity.tsv from small PVI files."""
    import numpy as np

    from pvigroup import stats
    from pvigroup.io import write_parquet

    rng = np.random.default_rng(2)
    files = {}
    for task, mu, n in (("aa", 0.5, 300), ("bb", 0.55, 500), ("cc", 1.0, 120)):
        df = pd.DataFrame({"id": [f"{task}:{i}" for i in range(n)], "task": task,
                           "pvi": rng.normal(mu, 1.0, n)})
        files[task] = tmp_path / "pvi" / f"{task}.parquet"
        write_parquet(df, files[task], {"task": task})
    stats.run_pair_tests(list(files.values()), tmp_path / "pairs.tsv",
                         StatsSettings(pair_test="student", tost_margin=0.25, bootstrap_resamples=200, bootstrap_seed=1),
                         model="m")
    stats.run_sensitivity(list(files.values()), tmp_path / "sens.tsv", tmp_path / "sum.tsv",
                          StatsSettings(sensitivity_sizes=[20, 60]), model="m")
    return {"pairs": tmp_path / "pairs.tsv", "sensitivity": tmp_path / "sens.tsv"}


def test_forest_and_sensitivity_figures(tmp_path):
    files = _workflow_stats(tmp_path)
    prov = {"config_sha256": "0123456789abcdef", "pvigroup": "0.0"}
    for sub in ("a", "b"):
        plots.plot_pvi_forest(files["pairs"], tmp_path / sub / "forest.png", margin=0.25,
                              alpha=0.01, model="m", names={"aa": "AA"}, provenance=prov)
        plots.plot_sensitivity(files["sensitivity"], tmp_path / sub / "sens.png", alpha=0.01,
                               model="m", names={"aa": "AA"}, provenance=prov)
    for name in ("forest", "sens"):
        png = tmp_path / "a" / f"{name}.png"
        assert _is_png(png) and _opens(png), name
        assert png.read_bytes() == (tmp_path / "b" / f"{name}.png").read_bytes()
    # without the bootstrap and TOST columns (stats.bootstrap.resamples 0, significance test)
    pairs = pd.read_csv(files["pairs"], sep="\t").drop(
        columns=["mean_diff_boot_lo", "mean_diff_boot_hi", "tost_pvalue", "tost_margin",
                 "tost_variance"])
    pairs.to_csv(tmp_path / "plain.tsv", sep="\t", index=False)
    plots.plot_pvi_forest(tmp_path / "plain.tsv", tmp_path / "plain.png", margin=0.1, alpha=0.05)
    assert _opens(tmp_path / "plain.png")


def test_forest_and_sensitivity_edge_cases(tmp_path):
    (tmp_path / "pairs.tsv").write_text("group\ttasks\tsize\ttest\tstatistic\tpvalue\tdf\n")
    plots.plot_pvi_forest(tmp_path / "pairs.tsv", tmp_path / "f.png", margin=0.25, alpha=0.01)
    (tmp_path / "sens.tsv").write_text("model\tn_per_task\tgroup\ttasks\tsize\ttest\tstatistic"
                                       "\tpvalue\taccepted\tselected\n")
    plots.plot_sensitivity(tmp_path / "sens.tsv", tmp_path / "s.png", alpha=0.01)
    assert _opens(tmp_path / "f.png") and _opens(tmp_path / "s.png")
    # the fixture's pairs.tsv predates the effect columns: the user is told which are missing
    with pytest.raises(PvigroupError, match=r"pairs\.tsv: missing column\(s\) mean_diff"):
        plots.plot_pvi_forest(FIXTURE / "stats/roberta/pairs.tsv", tmp_path / "x.png",
                              margin=0.25, alpha=0.01)
    with pytest.raises(ValueError, match="margin"):
        plots.plot_pvi_forest(tmp_path / "pairs.tsv", tmp_path / "y.png", margin=0, alpha=0.01)


def test_vinfo_figure_with_and_without_seed_replicates(tmp_path):
    import numpy as np

    from pvigroup import stats
    from pvigroup.io import write_parquet

    rng = np.random.default_rng(5)
    main, reps = [], []
    for task, mu in (("aa", 0.4), ("bb", 1.2)):
        for folder, shift in (("", 0.0), ("seed7", 0.1)):
            x = rng.normal(mu + shift, 1.0, 150)
            path = tmp_path / "pvi" / folder / f"{task}.parquet"
            write_parquet(pd.DataFrame({"id": [f"{task}:{i}" for i in range(150)], "task": task,
                                        "pvi": x}), path, {"task": task})
            (reps if folder else main).append(path)
    stats.run_vinfo(main, tmp_path / "plain.tsv", resamples=200, seed=1, model="m")
    stats.run_vinfo(main, tmp_path / "seeds.tsv", resamples=200, seed=1, model="m",
                    replicate_files=reps, main_seeds={"aa": 42, "bb": 42})
    for name in ("plain", "seeds"):
        for sub in ("a", "b"):
            plots.plot_vinfo(tmp_path / f"{name}.tsv", tmp_path / sub / f"{name}.png", model="m",
                             names={"aa": "AA"}, provenance={"config_sha256": "0123456789ab"})
        png = tmp_path / "a" / f"{name}.png"
        assert _is_png(png) and _opens(png)
        assert png.read_bytes() == (tmp_path / "b" / f"{name}.png").read_bytes()
    # the seed intervals are drawn: the two figures differ
    assert (tmp_path / "a/plain.png").read_bytes() != (tmp_path / "a/seeds.png").read_bytes()
    (tmp_path / "empty.tsv").write_text("task\tmodel\tn\tmean_pvi\tci_low\tci_high\n")
    plots.plot_vinfo(tmp_path / "empty.tsv", tmp_path / "empty.png")
    assert _opens(tmp_path / "empty.png")
    (tmp_path / "bad.tsv").write_text("task\tn\nx\t3\n")
    with pytest.raises(PvigroupError, match=r"bad\.tsv: missing column\(s\) mean_pvi"):
        plots.plot_vinfo(tmp_path / "bad.tsv", tmp_path / "bad.png")
