"""Report figures (matplotlib, Agg backend, PNG): PVI distributions, V-information with its
intervals, pair p-values, the PVI difference forest plot, grouping vs sample size, accepted
groups, STL vs MTL, label distributions.

Every function reads result files in the formats of docs/architecture.md and writes one PNG.
Figures are deterministic for the same inputs (fixed size, dpi and ordering; no timestamps).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from pvigroup.errors import PvigroupError
from pvigroup.io import read_parquet, read_tsv
from pvigroup.workflow import SEP

log = logging.getLogger(__name__)

DPI = 120
_META = {"Software": None}  # no matplotlib version in the PNG: same inputs, same bytes


def _save(fig: plt.Figure, out: str | Path) -> None:
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=DPI, format="png", metadata=_META, bbox_inches="tight")
    plt.close(fig)
    log.info("figure -> %s", out)


def _note(ax: plt.Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


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
    _save(fig, out)


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
        _save(fig, out)
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
    _save(fig, out)


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
    _save(fig, out)


def plot_stl_mtl(aggregate_tsv: str | Path, out: str | Path, *, model: str = "",
                 names: Mapping[str, str] | None = None) -> None:
    """Per task: STL and each MTL group's mean accuracy and macro-F1 with 95% CI bars."""
    names = names or {}
    agg = read_tsv(aggregate_tsv)
    fig, axes = plt.subplots(1, 2, figsize=(11.0, 4.2), sharey=True)
    if agg.empty:
        for ax in axes:
            _note(ax, "no training results")
        _save(fig, out)
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
    _save(fig, out)


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
    _save(fig, out)


def _footer(fig: plt.Figure, provenance: Mapping[str, object] | None, extra: str = "") -> None:
    """A small grey line under the figure: the settings that made it and the run's provenance."""
    parts = [extra] if extra else []
    if provenance:
        sha = str(provenance.get("config_sha256", ""))
        if sha:
            parts.append(f"config sha256 {sha[:12]}")
        if provenance.get("pvigroup"):
            parts.append(f"pvigroup {provenance['pvigroup']}")
    if parts:
        fig.text(0.01, -0.01, "; ".join(parts), ha="left", va="top", fontsize=7, color="dimgrey")


def _require_columns(df: pd.DataFrame, cols: Sequence[str], path: str | Path) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise PvigroupError(f"{path}: missing column(s) {', '.join(missing)} "
                            f"(has {', '.join(map(str, df.columns))})")


def _decision_p(df: pd.DataFrame) -> tuple[pd.Series, str]:
    """The p-value a grouping decision used: TOST p when present, else adjusted, else raw."""
    if "tost_pvalue" in df.columns:
        return df["tost_pvalue"].astype(float), "TOST p-value"
    if "pvalue_adj" in df.columns:
        return df["pvalue_adj"].astype(float), "adjusted p-value"
    return df["pvalue"].astype(float), "p-value"


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
        _save(fig, out)
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
    _save(fig, out)


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
        _save(fig, out)
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
    _save(fig, out)


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
        _save(fig, out)
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
    _save(fig, out)
