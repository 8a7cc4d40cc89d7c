"""Report figures from the fixed result files: written, PNG, non-empty, deterministic."""

from pathlib import Path

import pandas as pd
import pytest

from pvigroup import plots
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
