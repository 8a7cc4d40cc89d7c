"""Figures of the grouping: the accepted groups and how the grouping changes with the
per-task sample size."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from pvigroup.io import read_tsv
from pvigroup.plots import base
from pvigroup.plots.base import _decision_p, _footer, _note, _require_columns, plt
from pvigroup.workflow import SEP


def plot_groups(similar_tsv: str | Path, out: str | Path, *, alpha: float, model: str = "",
                names: Mapping[str, str] | None = None) -> None:
    """The accepted (PVI-similar) groups as horizontal bars of their p-value, alpha marked."""
    names = names or {}
    groups = read_tsv(similar_tsv)
    fig, ax = plt.subplots(figsize=(6.0, max(2.0, 0.45 * len(groups) + 1.2)))
    if groups.empty:
        _note(ax, f"no group has p > {alpha:g}")
    else:
        labels = [" + ".join(names.get(t, t) for t in g.split(SEP)) for g in groups["group"]]
        p = groups["pvalue"].astype(float).clip(lower=1e-300).to_numpy()
        y = np.arange(len(groups))[::-1]
        ax.barh(y, p, color="tab:blue")
        ax.set_yticks(y, labels)
        ax.set_xscale("log")
        ax.set_xlim(min(alpha / 10, p.min() / 2), 1.0)
        ax.axvline(alpha, color="red", ls="--", label=f"alpha = {alpha:g}")
        ax.set_xlabel("p-value")
        ax.legend(loc="lower right", fontsize="small")
    ax.set_title(f"Accepted groups{f' ({model})' if model else ''}")
    base._save(fig, out)


def plot_sensitivity(sensitivity_tsv: str | Path, out: str | Path, *, alpha: float,
                     model: str = "", names: Mapping[str, str] | None = None,
                     provenance: Mapping[str, object] | None = None) -> None:
    """How the grouping changes with the per-task sample size.

    Left: each pair's decision p-value (the TOST p when the table has ``tost_pvalue``, else
    ``pvalue_adj`` when present, else ``pvalue``) against the common size n per task, both
    on log scales, with alpha marked; a large marker means both tasks of the pair are in the
    same selected similar group (a pair or a larger group) at that n. Right: at each n, the number of accepted pairs, of accepted larger groups and of
    selected groups.

    Parameters
    ----------
    sensitivity_tsv
        ``results/stats/{model}/sensitivity.tsv``.
    out
        PNG path.
    alpha
        significance level (``stats.alpha``).
    model
        model key shown in the title.
    names
        display names of the tasks.
    provenance
        ``pvigroup.tables.provenance(config)``, written under the figure.
    """
    names = names or {}
    table = read_tsv(sensitivity_tsv)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11.0, 4.5),
                                  gridspec_kw={"width_ratios": [1.6, 1]})
    settings = f"alpha = {alpha:g}"
    if table.empty:
        _note(ax, "no sensitivity result")
        _note(ax2, "")
        _footer(fig, provenance, settings)
        base._save(fig, out)
        return
    _require_columns(table, ["n_per_task", "group", "size", "pvalue", "accepted", "selected"],
                     sensitivity_tsv)
    p, p_label = _decision_p(table)
    floor = 1e-16
    table = table.assign(_p=p.clip(lower=floor), _sel=table["selected"].astype(bool),
                         _acc=table["accepted"].astype(bool))
    sizes = sorted(int(n) for n in table["n_per_task"].unique())
    pairs = table[table["size"] == 2]
    together = {int(n): [set(str(g).split(SEP)) for g in part.loc[part["_sel"], "group"]]
                for n, part in table.groupby("n_per_task")}
    grouped = np.array([any(set(str(g).split(SEP)) <= sel for sel in together[int(n)])
                        for g, n in zip(pairs["group"], pairs["n_per_task"], strict=True)],
                       dtype=bool)
    pairs = pairs.assign(_grouped=grouped)
    groups = sorted(pairs["group"].unique())
    show_legend = len(groups) <= 10
    cmap = plt.get_cmap("tab10")
    for k, g in enumerate(groups):
        rows = pairs[pairs["group"] == g].sort_values("n_per_task")
        colour = cmap(k) if show_legend else "tab:grey"
        a, b = str(g).split(SEP)
        ax.plot(rows["n_per_task"], rows["_p"], "-", color=colour, lw=1, alpha=0.8,
                label=f"{names.get(a, a)} + {names.get(b, b)}" if show_legend else None)
        ax.scatter(rows["n_per_task"], rows["_p"], s=12, color=colour, zorder=3)
        sel = rows[rows["_grouped"]]
        ax.scatter(sel["n_per_task"], sel["_p"], s=70, color=colour, edgecolor="black", zorder=4)
    ax.axhline(alpha, color="red", ls="--", lw=1.2, label=f"alpha = {alpha:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.minorticks_off()
    ax.set_ylim(max(floor, min(float(pairs["_p"].min()), alpha) / 10), 2.0)
    ax.set_xlabel("n per task (subsample size)")
    ax.set_ylabel(f"pair {p_label} (p < {floor:g} drawn at {floor:g})")
    ax.set_title("pairs; large markers = both tasks in one selected group", fontsize="medium")
    ax.legend(loc="lower left", fontsize="x-small", ncol=2 if show_legend else 1)

    def per_size(mask: pd.Series) -> pd.Series:
        return table[mask].groupby("n_per_task").size().reindex(sizes, fill_value=0)

    counts = pd.DataFrame({"pairs": per_size(table["_acc"] & (table["size"] == 2)),
                           "larger": per_size(table["_acc"] & (table["size"] > 2)),
                           "selected": per_size(table["_sel"])})
    ax2.plot(counts.index, counts["pairs"], "o-", label="accepted pairs")
    if (table["size"] > 2).any():
        ax2.plot(counts.index, counts["larger"], "s-", label="accepted groups of 3+")
    ax2.plot(counts.index, counts["selected"], "D-", color="black", label="selected groups")
    ax2.set_xscale("log")
    ax2.set_xticks(sizes, [str(s) for s in sizes])
    ax2.minorticks_off()
    ax2.set_ylim(bottom=0)
    ax2.yaxis.get_major_locator().set_params(integer=True)
    ax2.set_xlabel("n per task (subsample size)")
    ax2.set_ylabel("number of groups")
    ax2.legend(loc="best", fontsize="x-small")
    fig.suptitle(f"Grouping vs sample size{f' ({model})' if model else ''}")
    _footer(fig, provenance, settings)
    base._save(fig, out)
