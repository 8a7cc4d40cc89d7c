"""The answer in one sentence per model: did the grouping help, more than the other groupings,
and does the PVI test predict the gain? Read from methods.tsv and predictor.tsv (pure text)."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping

import pandas as pd

#: The metric the sentence speaks of (the paper selects and reports on macro-F1).
METRIC = ("macro_f1", "f1", "macro-F1")
#: A correlation is called evidence when its permutation p-value is below this.
EVIDENCE_P = 0.05
SOURCE_TEXT = {"pvi-similar": "PVI-similar", "pvi-dissimilar": "PVI-dissimilar (control)",
               "manual": "hand-listed", "taskemb": "TaskEmb", "surrogate": "surrogate",
               "tag": "TAG"}


def _num(x: float) -> str:
    return f"{x:+.3f}"


def _gain_text(row: pd.Series, p: str) -> str:
    text = f"{_num(row[f'{p}_gain'])}"
    if not math.isnan(row[f"{p}_gain_ci"]):
        text += f" [{_num(row[f'{p}_gain_lo'])}, {_num(row[f'{p}_gain_hi'])}]"
    n = int(row["n_groups"])
    return text + f" over {n} group{'s' if n != 1 else ''}"


def _verdict(row: pd.Series, p: str) -> str:
    if math.isnan(row[f"{p}_gain_ci"]):
        return "have no interval (one group or one seed)"
    if row[f"{p}_gain_lo"] > 0:
        return "helped"
    if row[f"{p}_gain_hi"] < 0:
        return "hurt"
    return "showed no gain distinguishable from 0"


def answer_sentence(model: str, methods: pd.DataFrame, predictor: pd.DataFrame) -> str:
    """One sentence: the PVI-similar groups' mean gain against the other sources', and whether
    the pair test's p-value ranks the pairs' gains (Spearman, permutation p)."""
    metric, p, label = METRIC
    trained = methods[methods["n_groups"] > 0]
    if trained.empty:
        return f"{model}: no MTL group was trained, so there is no gain to compare."
    parts = []
    by_source = trained.set_index("source")
    if "pvi-similar" in by_source.index:
        row = by_source.loc["pvi-similar"]
        parts.append(f"PVI-similar groups {_verdict(row, p)} (mean {label} gain "
                     f"{_gain_text(row, p)})")
    else:
        parts.append("no PVI-similar group was trained")
    others = [f"{SOURCE_TEXT.get(s, s)} {_gain_text(r, p)}"
              for s, r in by_source.iterrows() if s != "pvi-similar"]
    if others:
        best = trained.sort_values(f"{p}_gain", ascending=False, kind="stable").iloc[0]
        parts.append(f"against {'; '.join(others)} (highest mean gain: "
                     f"{SOURCE_TEXT.get(best['source'], best['source'])})")
    rho = predictor[(predictor["metric"] == metric) & (predictor["predictor"] == "pair_pvalue")
                    & (predictor["statistic"] == "spearman")]
    if rho.empty:
        parts.append("no trained pair to test whether PVI predicts the gain")
    else:
        r = rho.iloc[0]
        if math.isnan(r["value"]):
            parts.append(f"whether PVI predicts the gain cannot be said ({r['note']})")
        else:
            says = ("the gain rises with the pair test's p-value"
                    if r["value"] > 0 and r["pvalue"] < EVIDENCE_P else
                    "no evidence that the pair test's p-value predicts the gain")
            parts.append(f"{says} (Spearman ρ = {r['value']:.2f}, permutation p = "
                         f"{r['pvalue']:.2g}, {int(r['n_pairs'])} pairs)")
    return f"{model}: " + ", ".join(parts) + "."


def answer_html(sentences: Mapping[str, str]) -> str:
    """The report page: one paragraph per model."""
    body = "\n".join(f"<p>{html.escape(s)}</p>" for _, s in sorted(sentences.items()))
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            "<title>Did the grouping help?</title></head><body>\n"
            "<h2>Did the grouping help?</h2>\n" + body + "\n</body></html>\n")
