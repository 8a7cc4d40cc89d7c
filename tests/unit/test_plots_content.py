"""What the report figures draw, read back from the figure before it is saved: the numbers of the
result files, in the right place (a PNG signature would not catch a wrong column or task)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pvigroup import plots

FIXTURE = Path(__file__).parents[1] / "data" / "results_fixture"
TASKS = ["boolq", "causal-language", "cb", "rte"]


@pytest.fixture
def drawn(monkeypatch):
    """The figures the plot functions save, in order (they all save through ``plots.base``)."""
    figures = []
    real = plots.base._save

    def save(fig, out):
        figures.append(fig)
        real(fig, out)

    monkeypatch.setattr(plots.base, "_save", save)
    return figures


def bar_widths(ax):
    return [p.get_width() for p in ax.patches if hasattr(p, "get_width")]


def test_violin_marks_each_tasks_mean_and_count(tmp_path, drawn):
    files = {t: FIXTURE / f"pvi/roberta/{t}.parquet" for t in TASKS}
    plots.plot_pvi_violin(files, tmp_path / "v.png", model="roberta", names={"cb": "CB"})
    ax = drawn[0].axes[0]
    frames = {t: pd.read_parquet(f) for t, f in files.items()}
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == [f"{'CB' if t == 'cb' else t}\n(n={len(frames[t])})" for t in TASKS]
    means = ax.collections[-1].get_offsets()[:, 1]  # the scatter of means, drawn last
    np.testing.assert_allclose(means, [frames[t]["pvi"].mean() for t in TASKS])
    assert ax.get_title() == "PVI per task (roberta)"


def test_pair_heatmap_shows_the_adjusted_p_and_outlines_similar_pairs(tmp_path, drawn):
    pairs_tsv = FIXTURE / "stats/roberta/pairs.tsv"
    plots.plot_pair_pvalues(pairs_tsv, tmp_path / "p.png", alpha=0.01)
    ax = drawn[0].axes[0]
    mat = plots.pvalue_matrix(pd.read_csv(pairs_tsv, sep="\t"))
    shown = np.asarray(ax.images[0].get_array(), dtype=float)
    off = ~np.eye(len(mat), dtype=bool)
    np.testing.assert_allclose(shown[off], np.clip(mat.to_numpy()[off], 1e-12, 1.0))
    cells = {t.get_text() for t in ax.texts}
    assert cells == {f"{p:.2g}" for p in mat.to_numpy()[off]}
    outlined = [p for p in ax.patches if p.get_edgecolor()[:3] == (1.0, 0.0, 0.0)]
    assert len(outlined) == int((mat.to_numpy()[off] > 0.01).sum())


def test_group_bars_are_the_groups_p_values(tmp_path, drawn):
    similar = FIXTURE / "groups/roberta/similar.tsv"
    plots.plot_groups(similar, tmp_path / "g.png", alpha=0.01)
    ax = drawn[0].axes[0]
    groups = pd.read_csv(similar, sep="\t")
    assert bar_widths(ax) == pytest.approx(groups["pvalue"].tolist())
    # first group on top: labels by descending position
    labels = [t.get_text() for t in ax.get_yticklabels()]
    ticks = sorted(zip(ax.get_yticks(), labels, strict=True), reverse=True)
    assert [label for _, label in ticks] == [g.replace("__", " + ") for g in groups["group"]]
    bars = sorted(((p.get_y(), p.get_width()) for p in ax.patches), reverse=True)
    assert [w for _, w in bars] == pytest.approx(groups["pvalue"].tolist())


def test_stl_mtl_bars_are_the_aggregate_means(tmp_path, drawn):
    agg_tsv = FIXTURE / "train/roberta/aggregate.tsv"
    plots.plot_stl_mtl(agg_tsv, tmp_path / "s.png")
    agg = pd.read_csv(agg_tsv, sep="\t")
    acc_ax, f1_ax = drawn[0].axes[:2]
    heights = sorted(p.get_height() for p in acc_ax.patches)
    assert heights == pytest.approx(sorted(agg["acc_mean"]))
    assert sorted(p.get_height() for p in f1_ax.patches) == pytest.approx(sorted(agg["f1_mean"]))
    assert [t.get_text() for t in acc_ax.get_xticklabels()] == sorted(agg["task"].unique())


def test_label_shares_sum_to_one_per_split_with_the_counts(tmp_path, drawn):
    counts = {t: FIXTURE / f"data/{t}/label_counts.tsv" for t in ("cb", "rte")}
    plots.plot_label_distributions(counts, tmp_path / "l.png")
    for ax, task in zip(drawn[0].axes, counts, strict=False):
        df = pd.read_csv(counts[task], sep="\t")
        n = df.groupby("split")["count"].sum()
        assert [t.get_text() for t in ax.get_yticklabels()] == [
            f"{s} (n={int(n.get(s, 0))})" for s in ("train", "dev", "test")]
        widths = np.array(bar_widths(ax)).reshape(-1, 3)  # one row of bars per label
        shares = (df.pivot_table(index="label", columns="split", values="count", aggfunc="sum",
                                 fill_value=0)[["train", "dev", "test"]])
        np.testing.assert_allclose(widths, (shares / shares.sum()).to_numpy())
        assert ax.get_title(loc="left") == task
