"""Figures of the PVI results: per-instance PVI per task, V-information with its intervals,
the pair p-value matrix and the forest plot of each pair's PVI difference."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from pvigroup.errors import PvigroupError
from pvigroup.io import read_parquet, read_tsv
from pvigroup.plots import base
from pvigroup.plots.base import _footer, _note, _require_columns, plt
from pvigroup.workflow import SEP


def plot_pvi_violin(pvi: Mapping[str, str | Path], out: str | Path, *, model: str = "",
                    names: Mapping[str, str] | None = None) -> None:
    """Violin plot of the per-instance PVI of each task (mean marked).

    Parameters
    ----------
    pvi
        task id to its ``results/pvi/{model}/{task}.parquet``.
    out
        PNG path.
    model
        model key shown in the title.
    names
        display names of the tasks.
    """
    names = names or {}
    tasks = list(pvi)
    values = []
    for task in tasks:
        df = read_parquet(pvi[task])
        if "pvi" not in df.columns:
            raise PvigroupError(f"{pvi[task]}: no 'pvi' column")
        values.append(df["pvi"].astype(float).dropna().to_numpy())
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(tasks) + 1.5), 4.0))
    if not tasks or not any(len(v) for v in values):
        _note(ax, "no PVI values")
    else:
        pos = np.arange(1, len(tasks) + 1)
        keep = [i for i, v in enumerate(values) if len(v) > 1]
        if keep:
            ax.violinplot([values[i] for i in keep], positions=pos[keep], showmedians=True)
        ax.scatter(pos, [v.mean() if len(v) else np.nan for v in values], marker="D",
                   color="black", zorder=3, label="mean PVI")
        ax.axhline(0.0, color="grey", lw=0.8, ls=":")
        ax.set_xticks(pos, [f"{names.get(t, t)}\n(n={len(v)})" for t, v in zip(tasks, values, strict=True)],
                      rotation=30, ha="right")
        ax.set_ylabel("PVI (bits)")
        ax.legend(loc="best", fontsize="small")
    ax.set_title(f"PVI per task{f' ({model})' if model else ''}")
    base._save(fig, out)


def pvalue_matrix(pairs: pd.DataFrame) -> pd.DataFrame:
    """Symmetric task x task matrix of pair p-values (``pvalue_adj`` when present), NaN diagonal."""
    col = "pvalue_adj" if "pvalue_adj" in pairs.columns else "pvalue"
    tasks = sorted({t for g in pairs["group"] for t in g.split(SEP)})
    mat = pd.DataFrame(np.nan, index=tasks, columns=tasks)
    for g, p in zip(pairs["group"], pairs[col], strict=True):
        a, b = g.split(SEP)
        mat.loc[a, b] = mat.loc[b, a] = float(p)
    return mat


def plot_pair_pvalues(pairs_tsv: str | Path, out: str | Path, *, alpha: float, model: str = "",
                      names: Mapping[str, str] | None = None) -> None:
    """Heatmap of pair p-values on a log scale; cells with p > alpha (similar) are outlined and
    the colour bar marks alpha."""
    from matplotlib.colors import LogNorm
    from matplotlib.patches import Rectangle

    names = names or {}
    pairs = read_tsv(pairs_tsv)
    fig, ax = plt.subplots(figsize=(6.0, 5.0))
    if pairs.empty:
        _note(ax, "no pair was tested")
        base._save(fig, out)
        return
    mat = pvalue_matrix(pairs)
    n = len(mat)
    vals = mat.to_numpy(dtype=float)
    floor = 1e-12
    norm = LogNorm(vmin=max(min(np.nanmin(vals), alpha / 10), floor), vmax=1.0)
    im = ax.imshow(np.clip(vals, floor, 1.0), cmap="viridis", norm=norm)
    for i in range(n):
        for j in range(n):
            if i == j or np.isnan(vals[i, j]):
                continue
            p = vals[i, j]
            ax.text(j, i, f"{p:.2g}", ha="center", va="center", fontsize=7,
                    color="black" if p > 0.05 else "white")
            if p > alpha:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="red", lw=2))
    labels = [names.get(t, t) for t in mat.index]
    ax.set_xticks(range(n), labels, rotation=45, ha="right")
    ax.set_yticks(range(n), labels)
    cbar = fig.colorbar(im, ax=ax, label="p-value")
    cbar.ax.axhline(alpha, color="red", lw=2)
    ax.set_title(f"Pair tests{f' ({model})' if model else ''}: red = p > {alpha:g} (similar)")
    base._save(fig, out)


def plot_pvi_forest(pairs_tsv: str | Path, out: str | Path, *, margin: float, alpha: float,
                    model: str = "", names: Mapping[str, str] | None = None,
                    provenance: Mapping[str, object] | None = None) -> None:
    """Forest plot of each pair's mean PVI difference (bits) with its 95 % CIs and the ±margin band.

    One row per pair of ``pairs.tsv``, sorted by |difference| (closest pairs on top): the
    difference (first task minus second, alphabetical) with its t interval
    (``mean_diff_lo``/``mean_diff_hi``) and, when the file has it, the bootstrap interval
    (``mean_diff_boot_lo``/``mean_diff_boot_hi``) drawn just below. The shaded band is
    ``±margin`` (the TOST equivalence margin). Filled markers: accepted by the paper's rule
    (p > alpha, on ``pvalue_adj`` when present); when the file has ``tost_pvalue``, pairs shown
    equivalent (TOST p < alpha) are labelled "equiv.". Each row is annotated with its p-value.

    Parameters
    ----------
    pairs_tsv
        ``results/stats/{model}/pairs.tsv``.
    out
        PNG path.
    margin
        equivalence margin in bits (``grouping.tost_margin``), > 0.
    alpha
        significance level (``stats.alpha``).
    model
        model key shown in the title.
    names
        display names of the tasks.
    provenance
        ``pvigroup.tables.provenance(config)``, written under the figure.
    """
    if not margin > 0:
        raise ValueError(f"margin must be a positive number of bits, got {margin!r}")
    names = names or {}
    pairs = read_tsv(pairs_tsv)
    height = max(2.5, 0.42 * len(pairs) + 1.6)
    fig, ax = plt.subplots(figsize=(7.5, height))
    settings = f"alpha = {alpha:g}, margin = ±{margin:g} bits"
    if pairs.empty:
        _note(ax, "no pair was tested")
        _footer(fig, provenance, settings)
        base._save(fig, out)
        return
    _require_columns(pairs, ["group", "pvalue", "mean_diff", "mean_diff_lo", "mean_diff_hi"],
                     pairs_tsv)
    pairs = pairs.assign(_abs=pairs["mean_diff"].astype(float).abs())
    pairs = pairs.sort_values(["_abs", "group"], kind="stable").reset_index(drop=True)
    p_col = "pvalue_adj" if "pvalue_adj" in pairs.columns else "pvalue"
    accepted = pairs[p_col].astype(float).to_numpy() > alpha
    equivalent = (pairs["tost_pvalue"].astype(float).to_numpy() < alpha
                  if "tost_pvalue" in pairs.columns else None)
    has_boot = {"mean_diff_boot_lo", "mean_diff_boot_hi"} <= set(pairs.columns) and bool(
        pairs["mean_diff_boot_lo"].notna().any())
    y = np.arange(len(pairs))[::-1].astype(float)
    diff = pairs["mean_diff"].astype(float).to_numpy()
    lo = pairs["mean_diff_lo"].astype(float).to_numpy()
    hi = pairs["mean_diff_hi"].astype(float).to_numpy()
    ax.axvspan(-margin, margin, color="tab:green", alpha=0.15, lw=0,
               label=f"±{margin:g} bits (grouping.tost_margin)")
    ax.axvline(0.0, color="grey", lw=0.8, ls=":")
    ax.hlines(y, lo, hi, color="tab:blue", lw=2, label="95% t CI")
    if has_boot:
        blo = pairs["mean_diff_boot_lo"].astype(float).to_numpy()
        bhi = pairs["mean_diff_boot_hi"].astype(float).to_numpy()
        ax.hlines(y - 0.22, blo, bhi, color="tab:orange", lw=1.5, label="95% bootstrap CI")
        ax.plot(blo, y - 0.22, "|", color="tab:orange", ms=6)
        ax.plot(bhi, y - 0.22, "|", color="tab:orange", ms=6)
    ax.scatter(diff[accepted], y[accepted], marker="o", s=36, color="tab:blue", zorder=3,
               label=f"accepted (p > {alpha:g})")
    ax.scatter(diff[~accepted], y[~accepted], marker="o", s=36, facecolor="white",
               edgecolor="tab:blue", zorder=3, label=f"rejected (p ≤ {alpha:g})")
    labels = []
    for g in pairs["group"]:
        a, b = str(g).split(SEP)
        labels.append(f"{names.get(a, a)} − {names.get(b, b)}")
    ax.set_yticks(y, labels)
    ax.set_ylim(-0.8, len(pairs) - 0.4)
    finite = np.concatenate([lo, hi, [-margin, margin]])
    finite = finite[np.isfinite(finite)]
    span = finite.max() - finite.min()
    right = finite.max() + 0.02 * span
    for i, yi in enumerate(y):
        text = f"p = {float(pairs.loc[i, p_col]):.2g}"
        if equivalent is not None and equivalent[i]:
            text += ", equiv."
        ax.text(right, yi, text, va="center", ha="left", fontsize=7)
    ax.set_xlim(finite.min() - 0.02 * span, finite.max() + 0.3 * span)
    ax.set_xlabel("mean PVI difference, first − second task (bits)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="x-small")
    ax.set_title(f"PVI difference per pair{f' ({model})' if model else ''}")
    _footer(fig, provenance, settings)
    base._save(fig, out)


def plot_vinfo(vinfo_tsv: str | Path, out: str | Path, *, model: str = "",
               names: Mapping[str, str] | None = None,
               provenance: Mapping[str, object] | None = None) -> None:
    """Each task's V-information (mean PVI, bits) with its 95 % intervals, tasks sorted by it.

    Black: the bootstrap interval over held-out instances (``ci_low``/``ci_high``). With seed
    replicates (``pvi.variability_seeds``, columns ``combined_ci_*``) also, offset in orange, the
    interval that covers training noise too, and each seed's mean as a small dot.

    Parameters
    ----------
    vinfo_tsv
        ``results/stats/{model}/vinfo.tsv``.
    out
        PNG path.
    model
        model key shown in the title.
    names
        display names of the tasks.
    provenance
        ``pvigroup.tables.provenance(config)``, written under the figure.
    """
    names = names or {}
    table = read_tsv(vinfo_tsv)
    fig, ax = plt.subplots(figsize=(7.5, 0.5 * max(len(table), 2) + 1.4))
    if table.empty:
        _note(ax, "no V-information result")
        _footer(fig, provenance)
        base._save(fig, out)
        return
    _require_columns(table, ["task", "n", "mean_pvi", "ci_low", "ci_high"], vinfo_tsv)
    table = table.sort_values(["mean_pvi", "task"]).reset_index(drop=True)
    seeds = "combined_ci_low" in table.columns and table["combined_ci_low"].notna().any()
    y = np.arange(len(table), dtype=float)
    off = 0.18 if seeds else 0.0
    ax.errorbar(table["mean_pvi"], y + off,
                xerr=[table["mean_pvi"] - table["ci_low"], table["ci_high"] - table["mean_pvi"]],
                fmt="o", color="black", capsize=3, label="95 % CI, held-out instances")
    if seeds:
        ax.errorbar(table["mean_pvi"], y - off,
                    xerr=[table["mean_pvi"] - table["combined_ci_low"],
                          table["combined_ci_high"] - table["mean_pvi"]],
                    fmt="s", color="tab:orange", capsize=3,
                    label="95 % CI, instances + training seeds")
        for yi, means in zip(y, table["seed_means"].astype(str), strict=True):
            vals = [float(v) for v in means.split(",") if v]
            ax.scatter(vals, [yi - off] * len(vals), s=10, color="tab:orange", alpha=0.6,
                       zorder=3)
    ax.axvline(0.0, color="grey", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels([f"{names.get(t, t)} (n={int(n)})"
                        for t, n in zip(table["task"], table["n"], strict=True)])
    ax.set_ylim(-0.7, len(table) - 0.3)
    ax.set_xlabel("V-information: mean PVI (bits)")
    ax.set_title(f"V-information per task{f' ({model})' if model else ''}")
    ax.legend(loc="lower right", fontsize=8)
    extra = f"seeds {table['seeds'].iloc[0]}" if seeds and "seeds" in table.columns else ""
    _footer(fig, provenance, extra)
    base._save(fig, out)

