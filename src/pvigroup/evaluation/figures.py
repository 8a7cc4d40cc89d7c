"""Report figures of the evaluation: the gain of every group coloured by its source, and the
scatter of each trained pair's gain against its PVI test."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from pvigroup.evaluation.answer import SOURCE_TEXT
from pvigroup.evaluation.methods import SOURCE_ORDER
from pvigroup.io import read_tsv
from pvigroup.plots.base import _footer, _note, _require_columns, _save, plt
from pvigroup.workflow import SEP

COLOURS = {"pvi-similar": "tab:blue", "pvi-dissimilar": "tab:orange", "manual": "tab:grey",
           "taskemb": "tab:green", "surrogate": "tab:purple", "tag": "tab:brown"}
PANELS = (("acc", "accuracy"), ("f1", "macro-F1"))


def _label(group: str, names: Mapping[str, str]) -> str:
    return " + ".join(names.get(t, t) for t in str(group).split(SEP))


def plot_gain(groups_tsv: str | Path, out: str | Path, *, model: str = "",
              names: Mapping[str, str] | None = None,
              provenance: Mapping[str, object] | None = None) -> None:
    """One row per (source, group): its mean MTL − STL gain in accuracy and macro-F1 with the
    95 % t-interval over seeds, coloured by source, 0 dashed."""
    names = names or {}
    groups = read_tsv(groups_tsv)
    fig, axes = plt.subplots(1, 2, figsize=(11.0, max(2.6, 0.38 * len(groups) + 1.6)),
                             sharey=True)
    if groups.empty:
        for ax in axes:
            _note(ax, "no MTL group was trained")
        _footer(fig, provenance)
        _save(fig, out)
        return
    _require_columns(groups, ["source", "group", "acc_gain", "acc_gain_ci", "f1_gain",
                              "f1_gain_ci"], groups_tsv)
    rank = {s: i for i, s in enumerate(SOURCE_ORDER)}
    groups = groups.assign(_r=groups["source"].map(lambda s: rank.get(s, len(rank))))
    groups = groups.sort_values(["_r", "source", "group"], kind="stable").reset_index(drop=True)
    y = np.arange(len(groups))[::-1].astype(float)
    colours = [COLOURS.get(s, "black") for s in groups["source"]]
    for ax, (p, title) in zip(axes, PANELS, strict=True):
        gain = groups[f"{p}_gain"].astype(float).to_numpy()
        ci = groups[f"{p}_gain_ci"].astype(float).to_numpy()
        ax.axvline(0.0, color="grey", lw=0.8, ls="--")
        for yi, g, c, col in zip(y, gain, ci, colours, strict=True):
            if not math.isnan(c):
                ax.hlines(yi, g - c, g + c, color=col, lw=2)
            ax.plot(g, yi, "o", color=col, ms=6)
        ax.set_title(f"{title} gain (MTL − STL)")
        ax.set_xlabel("mean over seeds ± 95% t CI")
    axes[0].set_yticks(y, [f"{_label(g, names)} [{SOURCE_TEXT.get(s, s)}]"
                           for g, s in zip(groups["group"], groups["source"], strict=True)])
    from matplotlib.lines import Line2D

    present = list(dict.fromkeys(groups["source"]))
    handles = [Line2D([], [], color=COLOURS.get(s, "black"), marker="o", lw=2,
                      label=SOURCE_TEXT.get(s, s)) for s in present]
    axes[1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                   fontsize="x-small")
    fig.suptitle(f"MTL gain per group{f' ({model})' if model else ''}")
    _footer(fig, provenance)
    _save(fig, out)


def plot_predictor(pairs_tsv: str | Path, predictor_tsv: str | Path, out: str | Path, *,
                   alpha: float, model: str = "", names: Mapping[str, str] | None = None,
                   provenance: Mapping[str, object] | None = None) -> None:
    """Each trained pair's macro-F1 gain against its pair-test p-value (log scale, alpha dashed)
    and against |Δ mean PVI|; the panel titles give Spearman's ρ and its permutation p (or why
    there is none)."""
    names = names or {}
    pairs = read_tsv(pairs_tsv)
    pred = read_tsv(predictor_tsv)
    fig, axes = plt.subplots(1, 2, figsize=(11.0, 4.2), sharey=True)
    if pairs.empty:
        for ax in axes:
            _note(ax, "no pair of tasks was trained")
        _footer(fig, provenance, f"alpha = {alpha:g}")
        _save(fig, out)
        return
    _require_columns(pairs, ["group", "pair_pvalue", "abs_mean_diff", "f1_gain"], pairs_tsv)
    gain = pairs["f1_gain"].astype(float).to_numpy()
    for ax, (col, xlabel) in zip(axes, (("pair_pvalue", "pair test p-value"),
                                        ("abs_mean_diff", "|difference of mean PVI| (bits)")),
                                 strict=True):
        x = pairs[col].astype(float).to_numpy()
        ax.axhline(0.0, color="grey", lw=0.8, ls=":")
        if col == "pair_pvalue":
            x = np.clip(x, 1e-300, 1.0)
            ax.set_xscale("log")
            ax.set_xlim(min(float(x.min()), alpha) / 3, 1.5)
            ax.axvline(alpha, color="grey", lw=0.8, ls="--", label=f"alpha = {alpha:g}")
            ax.legend(loc="lower right", fontsize="x-small")
        else:
            ax.set_xlim(0.0, 1.15 * float(x.max()) + 0.01)
        ax.scatter(x, gain, s=36, color="tab:blue", zorder=3)
        for xi, gi, g in zip(x, gain, pairs["group"], strict=True):
            ax.annotate(_label(g, names), (xi, gi), fontsize=6, xytext=(3, 3),
                        textcoords="offset points")
        row = pred[(pred["metric"] == "macro_f1") & (pred["predictor"] == col)
                   & (pred["statistic"] == "spearman")]
        if len(row) and not math.isnan(float(row.iloc[0]["value"])):
            r = row.iloc[0]
            ax.set_title(f"Spearman ρ = {float(r['value']):.2f}, permutation p = "
                         f"{float(r['pvalue']):.2g}", fontsize="medium")
        elif len(row):
            ax.set_title(str(row.iloc[0]["note"]), fontsize="small")
        ax.set_xlabel(xlabel)
    axes[0].set_ylabel("macro-F1 gain (MTL − STL, mean over seeds)")
    fig.suptitle(f"Does PVI predict the gain?{f' ({model})' if model else ''}")
    _footer(fig, provenance, f"{len(pairs)} trained pairs; alpha = {alpha:g}")
    _save(fig, out)
