"""The diagnostics in the report: a figure and an HTML page per task, a summary per model."""

from __future__ import annotations

import base64
import html
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pvigroup.errors import PvigroupError
from pvigroup.io import read_json, read_parquet, read_tsv, write_tsv

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

DPI = 120
_META = {"Software": None}  # no matplotlib version in the PNG: same inputs, same bytes
SUMMARY_COLUMNS = ("task", "n", "negative", "share_negative", "gprime_accuracy",
                   "mean_pvi_gold", "mean_pvi_other", "listed", "flipped", "auroc",
                   "precision_at_k", "precision_listed", "overlap_dev", "overlap_test")


def _pyplot():
    """matplotlib's pyplot on the Agg backend, imported on first use (the Snakefile imports this
    module for its target helpers; pyplot alone costs half a second)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Figure, out: str | Path) -> None:
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=DPI, format="png", metadata=_META, bbox_inches="tight")
    _pyplot().close(fig)


def plot_pvi_by_correct(pvi: str | Path, out: str | Path, *, task: str, model: str) -> None:
    """Histogram of a task's PVI, split by whether g′ predicts the gold label; PVI = 0 marked."""
    df = read_parquet(pvi)
    for col in ("pvi", "correct"):
        if col not in df.columns:
            raise PvigroupError(f"{pvi}: no '{col}' column")
    values = df["pvi"].to_numpy(dtype=np.float64)
    correct = df["correct"].to_numpy(dtype=bool)
    fig, ax = _pyplot().subplots(figsize=(6.0, 3.6))
    if values.size == 0:
        ax.text(0.5, 0.5, "no PVI rows", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    else:
        bins = np.histogram_bin_edges(values, bins=min(40, max(10, values.size // 8)))
        for mask, name, colour in ((correct, "g′ predicts gold", "tab:blue"),
                                   (~correct, "g′ predicts another label", "tab:red")):
            ax.hist(values[mask], bins=bins, alpha=0.6, color=colour,
                    label=f"{name} (n={int(mask.sum())})")
        ax.axvline(0.0, color="black", lw=0.8, ls=":")
        ax.set_xlabel("PVI (bits)")
        ax.set_ylabel("instances")
        ax.legend(loc="upper left", fontsize="small")
    ax.set_title(f"{task} ({model}): {int((values < 0).sum())} of {values.size} with PVI < 0")
    _save(fig, out)


# --------------------------------------------------------------------------------------------
# The HTML page of a task
# --------------------------------------------------------------------------------------------
def _fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return html.escape(str(x))


def _table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def overlap_lines(overlap: Mapping[str, Any] | None, *, private: bool) -> list[str]:
    """The overlap found at preparation, as HTML paragraphs (``None``: not checked)."""
    if overlap is None:
        return [("<p>Train/dev/test overlap: <b>not checked</b> (the data were prepared without "
                "the overlap check; prepare the task again to see it).</p>")]
    out = [(f"<p>Train/dev/test overlap (normalisation: {_fmt(overlap.get('normalisation'))}; "
           f"dropped from train: {_fmt(overlap.get('dropped_from_train'))}, "
           f"drop: {_fmt(overlap.get('drop'))}).</p>")]
    for split in ("dev", "test"):
        part = overlap.get(split) or {}
        out.append(f"<p>{split}: {_fmt(part.get('exact'))} exact, "
                   f"{_fmt(part.get('normalised'))} after normalisation.</p>")
        examples = pd.DataFrame(part.get("examples") or [], columns=["id", "train_id", "text"])
        if len(examples):
            if private:
                examples["text"] = "(private task: text withheld)"
            out.append(_table(examples))
    return out


def task_page(diagnostics: str | Path, suspects_tsv: str | Path, figure: str | Path,
              out: str | Path, *, rows: int = 20) -> None:
    """One HTML page per task and model: the counts, the PVI figure, the first ``rows``
    suspects (the texts of a private task withheld) and the overlap found at preparation."""
    summary = read_json(diagnostics)
    listed = read_tsv(suspects_tsv).head(rows)
    private = bool(summary.get("private"))
    for col in ("text", "text_pair"):
        if col in listed.columns and private:
            listed[col] = "(private task: text withheld)"
    gold, other = summary["by_correct"]["gold"], summary["by_correct"]["other"]
    parts = [
        f"<h2>{_fmt(summary['task'])} ({_fmt(summary['model'])})</h2>",
        (f"<p>{summary['n']} instances of the PVI split, <b>{summary['negative']} with PVI &lt; 0"
        f"</b> ({_fmt(summary['share_negative'])}). g′ predicts the gold label for {gold['n']} "
        f"(mean PVI {_fmt(gold['mean_pvi'])}, {gold['negative']} negative), another label for "
        f"{other['n']} (mean PVI {_fmt(other['mean_pvi'])}, {other['negative']} negative).</p>"),
    ]
    flips = summary.get("flips")
    if flips is not None:
        parts.append(
            f"<p>Known wrong labels (the workflow's flip record): {flips['flipped']} flipped rows "
            f"in the PVI split. AUROC of −PVI: <b>{_fmt(flips['auroc'])}</b>; precision among "
            f"the {flips['k']} lowest-PVI rows: <b>{_fmt(flips['precision_at_k'])}</b>; of the "
            f"{flips['listed']} listed suspects {flips['listed_flipped']} are flipped "
            f"(precision {_fmt(flips['precision_listed'])}).</p>")
    png = base64.b64encode(Path(figure).read_bytes()).decode("ascii")
    parts.append(f'<img alt="PVI by g′ correctness" src="data:image/png;base64,{png}">')
    s = summary["suspects"]
    parts.append(f"<h3>Suspect labels</h3><p>{s['listed']} listed (PVI &lt; "
                 f"{_fmt(s['max_pvi'])}, at most {_fmt(s['max_rows'])}, lowest PVI first) in "
                 f"<code>{html.escape(s['file'])}</code>; the first {len(listed)} here.</p>")
    parts.append(_table(listed) if len(listed) else "<p>No suspects.</p>")
    parts.append("<h3>Overlap</h3>")
    parts += overlap_lines(summary.get("overlap"), private=private)
    style = ("<style>body{font-family:sans-serif;font-size:13px}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 6px;vertical-align:top}</style>")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'>{style}</head><body>"
                         + "\n".join(parts) + "</body></html>\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------
# Across tasks
# --------------------------------------------------------------------------------------------
def _overlap_cell(overlap: Mapping[str, Any] | None, split: str) -> str:
    if overlap is None:
        return "not checked"
    part = overlap.get(split) or {}
    return f"{part.get('exact', 'n/a')} exact / {part.get('normalised', 'n/a')} normalised"


def summary_frame(diagnostics: Mapping[str, str | Path]) -> pd.DataFrame:
    """One row per task (``SUMMARY_COLUMNS``) from the tasks' diagnostics json files."""
    rows = []
    for task, path in diagnostics.items():
        d = read_json(path)
        flips = d.get("flips") or {}
        rows.append({
            "task": task, "n": d["n"], "negative": d["negative"],
            "share_negative": d["share_negative"], "gprime_accuracy": d["gprime_accuracy"],
            "mean_pvi_gold": d["by_correct"]["gold"]["mean_pvi"],
            "mean_pvi_other": d["by_correct"]["other"]["mean_pvi"],
            "listed": d["suspects"]["listed"], "flipped": flips.get("flipped"),
            "auroc": flips.get("auroc"), "precision_at_k": flips.get("precision_at_k"),
            "precision_listed": flips.get("precision_listed"),
            "overlap_dev": _overlap_cell(d.get("overlap"), "dev"),
            "overlap_test": _overlap_cell(d.get("overlap"), "test"),
        })
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def summarise(diagnostics: Mapping[str, str | Path], out_tsv: str | Path, out_png: str | Path,
              *, model: str, names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Write the per-model summary table and the figure of the share of negative-PVI rows."""
    names = names or {}
    frame = summary_frame(diagnostics)
    write_tsv(frame, out_tsv)
    fig, ax = _pyplot().subplots(figsize=(max(4.0, 0.9 * len(frame) + 1.5), 3.6))
    if frame.empty:
        ax.text(0.5, 0.5, "no tasks", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    else:
        pos = np.arange(len(frame))
        share = frame["share_negative"].astype(float).to_numpy()
        ax.bar(pos, share, color="tab:grey")
        for x, (s, k, n) in enumerate(zip(share, frame["negative"], frame["n"], strict=True)):
            ax.text(x, s, f"{k}/{n}", ha="center", va="bottom", fontsize="small")
        ax.set_xticks(pos, [names.get(t, t) for t in frame["task"]], rotation=30, ha="right")
        ax.set_ylabel("share of instances with PVI < 0")
        ax.set_ylim(0, max(0.05, float(np.nanmax(share)) * 1.2))
    ax.set_title(f"Negative-PVI instances per task ({model})")
    _save(fig, out_png)
    log.info("diagnostics summary of %d tasks (model %s) -> %s", len(frame), model, out_tsv)
    return frame
