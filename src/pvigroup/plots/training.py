"""Figures of the tasks' data and of training: label shares per split, STL vs MTL scores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pvigroup.io import read_tsv
from pvigroup.plots import base
from pvigroup.plots.base import _note, plt


def plot_label_distributions(counts: Mapping[str, str | Path], out: str | Path, *,
                             names: Mapping[str, str] | None = None,
                             splits: Sequence[str] = ("train", "dev", "test")) -> None:
    """Stacked bars of each task's label shares per split (numbers of instances annotated)."""
    names = names or {}
    tasks = list(counts)
    fig, axes = plt.subplots(len(tasks) or 1, 1, figsize=(7.0, 0.9 * max(len(tasks), 1) + 1.0),
                             squeeze=False)
    if not tasks:
        _note(axes[0][0], "no task")
    for ax, task in zip(axes[:, 0], tasks, strict=False):
        df = read_tsv(counts[task])
        wide = (df.pivot_table(index="split", columns="label", values="count", aggfunc="sum",
                               fill_value=0).reindex(list(splits), fill_value=0))
        label_names = (df.drop_duplicates("label").set_index("label")["label_name"].to_dict())
        totals = wide.sum(axis=1).replace(0, 1)
        left = np.zeros(len(wide))
        cmap = plt.get_cmap("tab10")
        for k, label in enumerate(sorted(wide.columns)):
            share = (wide[label] / totals).to_numpy()
            ax.barh(range(len(wide)), share, left=left, color=cmap(k % 10),
                    label=str(label_names.get(label, label)))
            left += share
        ax.set_yticks(range(len(wide)), [f"{s} (n={int(n)})" for s, n in
                                          zip(wide.index, wide.sum(axis=1), strict=True)])
        ax.set_xlim(0, 1)
        ax.set_title(names.get(task, task), fontsize="medium", loc="left")
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="x-small")
    axes[-1][0].set_xlabel("share of instances")
    base._save(fig, out)


def plot_stl_mtl(aggregate_tsv: str | Path, out: str | Path, *, model: str = "",
                 names: Mapping[str, str] | None = None) -> None:
    """Per task: STL and each MTL group's mean accuracy and macro-F1 with 95% CI bars."""
    names = names or {}
    agg = read_tsv(aggregate_tsv)
    fig, axes = plt.subplots(1, 2, figsize=(11.0, 4.2), sharey=True)
    if agg.empty:
        for ax in axes:
            _note(ax, "no training results")
        base._save(fig, out)
        return
    tasks = sorted(agg["task"].unique())
    stl = agg[agg["kind"] == "stl"].drop_duplicates("task").set_index("task")
    mtl = agg[agg["kind"] == "mtl"].sort_values(["source", "group"], kind="stable")
    for ax, (col, ci, title) in zip(axes, (("acc_mean", "acc_ci", "accuracy"),
                                           ("f1_mean", "f1_ci", "macro-F1")), strict=True):
        for i, task in enumerate(tasks):
            bars = []
            if task in stl.index:
                bars.append(("STL", stl.loc[task, col], stl.loc[task, ci], "tab:grey"))
            for r in mtl[mtl["task"] == task].itertuples():
                colour = {"pvi-similar": "tab:blue", "pvi-dissimilar": "tab:orange"}.get(
                    r.source, "tab:green")
                bars.append((f"MTL {r.group}", getattr(r, col), getattr(r, ci), colour))
            width = 0.8 / max(len(bars), 1)
            for k, (_, mean, err, colour) in enumerate(bars):
                x = i - 0.4 + width * (k + 0.5)
                ax.bar(x, mean, width, color=colour,
                       yerr=None if pd.isna(err) else err, capsize=3)
        ax.set_xticks(range(len(tasks)), [names.get(t, t) for t in tasks], rotation=30, ha="right")
        ax.set_title(title)
        ax.set_ylim(0, 1.05)
    from matplotlib.patches import Patch

    handles = [Patch(color="tab:grey", label="STL"), Patch(color="tab:blue", label="MTL, PVI-similar"),
               Patch(color="tab:orange", label="MTL, PVI-dissimilar"),
               Patch(color="tab:green", label="MTL, other grouping")]
    axes[1].legend(handles=handles, loc="lower right", fontsize="small")
    axes[0].set_ylabel("test score (mean ± 95% CI)")
    fig.suptitle(f"STL vs MTL{f' ({model})' if model else ''}")
    base._save(fig, out)
