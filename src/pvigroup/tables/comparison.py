"""Our tables next to the published ones (``paper_comparison.md``): the accept/reject decisions
of Tables 1-2 from the collected tests, Tables 3-9 matched row by row; differences are ours - paper."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from pvigroup.tables.group_tests import accepted_tests, read_tests
from pvigroup.tables.paper import paper_frame, paper_tables
from pvigroup.tables.record import footer_text
from pvigroup.tables.render import _md_cell
from pvigroup.tables.spec import FAMILY_OF_DOMAIN
from pvigroup.workflow import SEP

log = logging.getLogger("pvigroup.tables")


def compare_group_tests(ours: pd.DataFrame, number: int, alpha: float,
                        families: Mapping[str, str]) -> pd.DataFrame:
    """Our tests vs Table 1 or 2, one row per group either side tested or published.

    The paper tested every group within a domain family (its models never crossed families);
    a group in the paper's family that is absent from its table was rejected there.

    Parameters
    ----------
    ours
        collected tests (all of them, accepted or not) with ``group``, ``statistic``, ``pvalue``.
    number
        1 (pairs) or 2 (groups of three or more).
    alpha
        our significance level.
    families
        task id to family, for the configured tasks.
    """
    paper = paper_frame(number)
    pfam = {t: FAMILY_OF_DOMAIN[v[1]] for t, v in paper_tables()["tasks"].items()}
    size_ok = (lambda k: k == 2) if number == 1 else (lambda k: k >= 3)
    ours = ours[ours["group"].map(lambda g: size_ok(len(g.split(SEP))))].copy()
    ours = ours.assign(ours_accepted=accepted_tests(ours, alpha))
    rows = []
    published = paper.set_index("group")
    for r in ours.itertuples():
        tasks = r.group.split(SEP)
        if not all(t in pfam for t in tasks) or len({pfam[t] for t in tasks}) != 1:
            continue  # the paper never tested this group
        p = published.loc[r.group] if r.group in published.index else None
        rows.append({"group": r.group, "ours_statistic": r.statistic, "ours_pvalue": r.pvalue,
                     "paper_statistic": p["statistic"] if p is not None else float("nan"),
                     "paper_pvalue": p["pvalue"] if p is not None else float("nan"),
                     "ours_accepted": bool(r.ours_accepted), "paper_accepted": p is not None})
    tested = {r["group"] for r in rows}
    for g, p in published.iterrows():
        if g not in tested and all(t in families for t in g.split(SEP)):
            rows.append({"group": g, "ours_statistic": float("nan"), "ours_pvalue": float("nan"),
                         "paper_statistic": p["statistic"], "paper_pvalue": p["pvalue"],
                         "ours_accepted": None, "paper_accepted": True})
    cols = ["group", "ours_statistic", "paper_statistic", "diff_abs_statistic", "ours_pvalue",
            "paper_pvalue", "diff_pvalue", "ours_accepted", "paper_accepted", "agree"]
    out = pd.DataFrame(rows, columns=[c for c in cols if c not in
                                      ("diff_abs_statistic", "diff_pvalue", "agree")])
    out["diff_abs_statistic"] = out["ours_statistic"].abs() - out["paper_statistic"].abs()
    out["diff_pvalue"] = out["ours_pvalue"] - out["paper_pvalue"]
    out["agree"] = [None if o is None or pd.isna(o) else bool(o) == bool(p)
                    for o, p in zip(out["ours_accepted"], out["paper_accepted"], strict=True)]
    return out[cols].sort_values("group", kind="stable").reset_index(drop=True)


def compare_stl_mtl(ours: pd.DataFrame, number: int,
                    tasks: Sequence[str] | None = None) -> pd.DataFrame:
    """Our Table 3-6/15-16 rows next to the paper's, matched on (group, task); ours - paper.

    Published groups with a task outside ``tasks`` (the configured ones) are left out.
    """
    paper = paper_frame(number)
    if tasks is not None:
        paper = paper[paper["group"].map(lambda g: set(g.split(SEP)) <= set(tasks))]
    metrics = ["stl_acc", "stl_f1", "mtl_acc", "mtl_f1"]
    left = ours[["group", "task", *metrics]] if not ours.empty else pd.DataFrame(
        columns=["group", "task", *metrics])
    merged = paper[["group", "task", *metrics]].merge(
        left, on=["group", "task"], how="outer", suffixes=("_paper", "_ours"), sort=False)
    for m in metrics:
        merged[f"{m}_diff"] = merged[f"{m}_ours"].astype(float) - merged[f"{m}_paper"].astype(float)
    return merged


def compare_llm(ours: pd.DataFrame, number: int, tasks: Sequence[str] | None = None) -> pd.DataFrame:
    """Our LLM rows next to the paper's, matched on (task, model name, case-insensitive)."""
    paper = paper_frame(number).assign(key=lambda d: d["model"].str.lower())
    if tasks is not None:
        paper = paper[paper["task"].isin(set(tasks))]
    left = ours.assign(key=ours["model"].astype(str).str.lower())[
        ["task", "key", "model", "accuracy", "macro_f1"]]
    merged = paper[["task", "key", "model", "accuracy", "macro_f1"]].merge(
        left, on=["task", "key"], how="outer", suffixes=("_paper", "_ours"), sort=False)
    merged["model"] = merged["model_paper"].fillna(merged["model_ours"])
    for m in ("accuracy", "macro_f1"):
        merged[f"{m}_diff"] = merged[f"{m}_ours"] - merged[f"{m}_paper"]
    return merged.drop(columns=["key", "model_paper", "model_ours"])


def compare_datasets(ours: pd.DataFrame) -> pd.DataFrame:
    """Our Table 9 sizes next to the paper's, per task; ours - paper."""
    paper = paper_frame(9)
    cols = ["train", "dev", "test", "classes"]
    merged = paper[["task", *cols]].merge(ours[["task", *cols]], on="task", how="inner",
                                          suffixes=("_paper", "_ours"))
    for c in cols:
        merged[f"{c}_diff"] = merged[f"{c}_ours"] - merged[f"{c}_paper"]
    return merged


def _fmt_frame(df: pd.DataFrame, decimals: int = 3) -> list[str]:
    out = df.copy()
    for c in out.columns:
        if out[c].dtype.kind == "f":
            if c.endswith("_diff") or c.startswith("diff_"):
                out[c] = out[c].map(lambda v: "-" if pd.isna(v) else f"{v:+.{decimals}f}")
            else:
                out[c] = out[c].map(lambda v: "-" if pd.isna(v) else f"{v:.{decimals}f}")
        else:
            out[c] = out[c].map(lambda v: "-" if v is None or (not isinstance(v, str) and pd.isna(v))
                                else ("yes" if v is True else "no" if v is False else str(v)))
    lines = ["| " + " | ".join(out.columns) + " |", "|" + "|".join("---" for _ in out.columns) + "|"]
    lines += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in out.itertuples(index=False)]
    return lines


def paper_comparison(*, tables: Mapping[str, str], tests: Mapping[str, Sequence[str]],
                     settings: Mapping[str, Any], prov: Mapping[str, Any], out: str | Path) -> str:
    """Write ``paper_comparison.md``: our tables next to the published ones.

    Parameters
    ----------
    tables
        two-digit table number to our ``table{NN}.csv`` (those the config produced).
    tests
        ``pairs``/``triples`` to the collected test files of the main models (all tests, so a
        group the paper accepted and we rejected shows up).
    settings
        ``alpha``, ``families`` (task id to family) and ``models`` (main model keys).
    """
    alpha = float(settings["alpha"])
    published = paper_tables()
    lines = ["# Comparison with the published tables", "",
             f"Paper: {published['paper']['title']} (arXiv:{published['paper']['arxiv']}). "
             f"Differences are ours - paper. Our models: "
             + ", ".join(f"{k} ({v})" for k, v in prov["models"].items()) + ".", ""]
    for number, kind in ((1, "pairs"), (2, "triples")):
        files = list(tests.get(kind) or [])
        if not files:
            lines += [f"## Table {number}", "", "Not compared: no collected tests.", ""]
            continue
        ours = pd.concat([read_tests(p) for p in files], ignore_index=True)
        cmp = compare_group_tests(ours, number, alpha, settings["families"])
        decided = cmp[cmp["agree"].notna()]
        n_agree = int(decided["agree"].astype(bool).sum())
        lines += [f"## Table {number}: accept/reject decisions (p > {alpha:g})", "",
                  (f"Decisions agree on {n_agree} of {len(decided)} groups tested on both "
                   f"sides (paper: p > {published['paper']['alpha']:g}; the sign of t depends "
                   "on task order, so statistics are compared by absolute value)."), ""]
        lines += _fmt_frame(cmp) if not cmp.empty else ["No group of the paper's tasks was tested."]
        lines.append("")
    for nn, path in sorted(tables.items()):
        number = int(nn)
        if number in (1, 2) or number not in published["tables"]:
            continue
        ours = pd.read_csv(path, keep_default_na=False, na_values=[""])
        spec = published["tables"][number]
        if spec["kind"] == "stl_mtl":
            cmp = compare_stl_mtl(ours, number, list(settings["families"]))
        elif spec["kind"] == "llm":
            cmp = compare_llm(ours, number, list(settings["families"]))
        elif number == 9:
            cmp = compare_datasets(ours)
        else:
            continue
        ours_rows = cmp.filter(like="_ours").notna().any(axis=1).sum()
        lines += [f"## Table {number}", "",
                  f"Paper model: {spec.get('model', '-')}. {ours_rows} of {len(cmp)} rows matched.",
                  ""]
        lines += _fmt_frame(cmp)
        lines.append("")
    lines += [f"<sub>{footer_text(prov)}</sub>", ""]
    text = "\n".join(lines)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(text)
    log.info("paper comparison -> %s", out)
    return text
