"""Per-instance diagnostics from PVI: the lowest-PVI instances of a task as suspect labels.

Ethayarajh, Choi and Swayamdipta (ICML 2022) show that the instances with the lowest PVI of a
dataset are largely mislabelled or ambiguous. Every held-out instance of a task already has its
PVI (``results/pvi/{model}/{task}.parquet``); this module ranks them, lists the suspects, and -
where the wrong labels are known (the demo's noisy twin writes a flip record) - scores the
ranking against them (AUROC of −PVI, precision of the top of the list).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pvigroup.errors import PvigroupError
from pvigroup.io import read_json, read_parquet, write_json, write_tsv

log = logging.getLogger(__name__)

PVI_COLUMNS = ("id", "label", "log2_p_gprime", "pvi", "pred")
SPLIT_COLUMNS = ("id", "text", "label")
FLIP_COLUMNS = ("row", "label")
SUSPECT_COLUMNS = ("rank", "id", "pvi", "log2_p_gprime", "gold", "predicted", "text")


# --------------------------------------------------------------------------------------------
# Scores of a ranking against known wrong labels (pure)
# --------------------------------------------------------------------------------------------
def auroc(scores: Sequence[float], positive: Sequence[bool]) -> float:
    """Area under the ROC curve of ``scores`` for telling ``positive`` rows from the others.

    The Mann–Whitney form: the probability that a positive row scores above a negative one,
    ties counted one half (average ranks). ``nan`` when either class is empty.

    Raises
    ------
    PvigroupError
        Lengths differ, or a score is not finite.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(positive, dtype=bool)
    if s.shape != y.shape or s.ndim != 1:
        raise PvigroupError(f"auroc: {s.size} scores but {y.size} labels")
    if not np.isfinite(s).all():
        raise PvigroupError("auroc: scores must be finite")
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    from scipy.stats import rankdata  # here, not at the top: the Snakefile imports this module

    ranks = rankdata(s)  # average ranks of ties
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def precision_at(flags_in_rank_order: Sequence[bool], k: int) -> float:
    """Share of flagged rows among the first ``k`` of a ranking (``nan`` for ``k`` = 0)."""
    flags = np.asarray(flags_in_rank_order, dtype=bool)
    if k <= 0:
        return math.nan
    if k > flags.size:
        raise PvigroupError(f"precision_at: k = {k} but only {flags.size} rows")
    return float(flags[:k].mean())


# --------------------------------------------------------------------------------------------
# Reading and ranking
# --------------------------------------------------------------------------------------------
def _require(df: pd.DataFrame, cols: Sequence[str], path: str | Path) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise PvigroupError(f"{path}: missing column(s) {', '.join(missing)} "
                            f"(has {', '.join(map(str, df.columns))})")


def ranked_instances(pvi_path: str | Path, split_path: str | Path,
                     info: Mapping[str, Any]) -> pd.DataFrame:
    """The PVI rows of a task joined by id with their prepared split, lowest PVI first.

    Returns
    -------
    pandas.DataFrame
        The PVI columns plus ``text``, ``text_pair``, ``gold`` and ``predicted`` (label names)
        and ``rank`` (1 = lowest PVI; ties ordered by id, so the order is deterministic).

    Raises
    ------
    PvigroupError
        A missing column, a PVI id absent from the split, a label that differs between the
        two files, or a label outside the task's labels; the message names the file and id.
    """
    pvi = read_parquet(pvi_path)
    split = read_parquet(split_path)
    _require(pvi, PVI_COLUMNS, pvi_path)
    _require(split, SPLIT_COLUMNS, split_path)
    names = list(info.get("labels") or [])
    if not names:
        raise PvigroupError(f"task.json of task '{info.get('task', '?')}': no 'labels'")
    if pvi["id"].duplicated().any():
        raise PvigroupError(f"{pvi_path}: id {pvi['id'][pvi['id'].duplicated()].iloc[0]} repeats")
    cols = [c for c in ("id", "text", "text_pair", "label") if c in split.columns]
    joined = pvi.merge(split.loc[:, cols].rename(columns={"label": "_split_label"}), on="id",
                       how="left", validate="one_to_one", indicator=True)
    absent = joined["_merge"] != "both"
    if absent.any():
        raise PvigroupError(f"{pvi_path}: id {joined.loc[absent, 'id'].iloc[0]} is not in "
                            f"{split_path} ({int(absent.sum())} ids are not); rerun the PVI stage")
    differ = joined["label"].astype(np.int64) != joined["_split_label"].astype(np.int64)
    if differ.any():
        raise PvigroupError(f"{pvi_path}: id {joined.loc[differ, 'id'].iloc[0]} has label "
                            f"{int(joined.loc[differ, 'label'].iloc[0])} but {split_path} has "
                            f"{int(joined.loc[differ, '_split_label'].iloc[0])}; rerun the PVI stage")
    for col in ("label", "pred"):
        bad = ~joined[col].astype(np.int64).between(0, len(names) - 1)
        if bad.any():
            raise PvigroupError(f"{pvi_path}: id {joined.loc[bad, 'id'].iloc[0]}: {col} "
                                f"{int(joined.loc[bad, col].iloc[0])} is not a label index of "
                                f"the {len(names)} labels {names}")
    if not np.isfinite(joined["pvi"].to_numpy(dtype=np.float64)).all():
        bad = ~np.isfinite(joined["pvi"].to_numpy(dtype=np.float64))
        raise PvigroupError(f"{pvi_path}: id {joined.loc[bad, 'id'].iloc[0]}: PVI is not finite")
    if "text_pair" not in joined.columns:
        joined["text_pair"] = None
    joined["gold"] = [names[int(v)] for v in joined["label"]]
    joined["predicted"] = [names[int(v)] for v in joined["pred"]]
    joined["correct"] = joined["label"].astype(np.int64) == joined["pred"].astype(np.int64)
    out = joined.drop(columns=["_split_label", "_merge"])
    out = out.sort_values(["pvi", "id"], kind="stable").reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1, dtype=np.int64))
    return out


def flipped_ids(records: Mapping[str, str | Path], info: Mapping[str, Any]) -> set[str]:
    """The prepared ids of the rows a flip record lists (see ``pvigroup.demo.flip_record``).

    Parameters
    ----------
    records
        source role (``train``, ``dev``, ``test``) to the flip record of that source file.
    info
        The task's ``task.json``: with no ``id_field`` a row's id is ``{task}:{role}:{row}``;
        with ``id_field: source_row`` it is the record's ``source_row``.
    """
    task = str(info.get("task", "?"))
    id_field = info.get("id_field")
    if id_field not in (None, "source_row"):
        raise PvigroupError(f"task '{task}': id_field '{id_field}' - a flip record maps rows to "
                            f"generated ids or to id_field: source_row only")
    out: set[str] = set()
    for role, path in sorted(records.items()):
        if not Path(path).is_file():
            raise PvigroupError(f"{path}: flip record not found (made by rule make_twin_task)")
        try:
            frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        except (pd.errors.ParserError, UnicodeDecodeError) as err:
            raise PvigroupError(f"{path}: not a readable tsv ({err})") from None
        _require(frame, (*FLIP_COLUMNS, "source_row") if id_field else FLIP_COLUMNS, path)
        for i, row in enumerate(frame["row"]):
            if not row.isdigit():
                raise PvigroupError(f"{path}, line {i + 2}: row {row!r} is not a row number")
        ids = frame["source_row"] if id_field else [f"{task}:{role}:{r}" for r in frame["row"]]
        out.update(ids)
    return out


def check_flips(ranked: pd.DataFrame, flips: set[str], info: Mapping[str, Any],
                records: Mapping[str, str | Path]) -> None:
    """A flipped row of the split must carry the label its record planted (else the record
    belongs to other data, and scoring against it would be meaningless)."""
    values = [str(v) for v in info.get("label_values") or info.get("labels") or []]
    planted: dict[str, str] = {}
    for role, path in records.items():
        frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        key = frame["source_row"] if info.get("id_field") else \
            [f"{info.get('task')}:{role}:{r}" for r in frame["row"]]
        planted.update(zip(key, frame["label"], strict=True))
    for ident, label in zip(ranked["id"], ranked["label"], strict=True):
        if ident in flips and values and values[int(label)] != planted[ident]:
            raise PvigroupError(f"task '{info.get('task')}': id {ident} has label "
                                f"{values[int(label)]!r} but its flip record planted "
                                f"{planted[ident]!r}; the record is not of this task's data")


# --------------------------------------------------------------------------------------------
# The suspects table and the task's summary
# --------------------------------------------------------------------------------------------
def truncate(text: Any, chars: int) -> str | None:
    """``text`` cut to ``chars`` characters (an ellipsis marks a cut), whitespace squeezed."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    text = " ".join(str(text).split())
    return text if len(text) <= chars else text[: chars - 1] + "…"


def suspects(ranked: pd.DataFrame, *, max_rows: int | None, max_pvi: float | None,
             text_chars: int, pair: bool = False, flips: set[str] | None = None) -> pd.DataFrame:
    """The suspect rows: lowest PVI first, PVI below ``max_pvi`` (``None``: any), at most
    ``max_rows`` (``None``: all). Columns ``SUSPECT_COLUMNS`` (+ ``text_pair`` for pair tasks,
    + ``flipped`` where the wrong labels are known)."""
    rows = ranked if max_pvi is None else ranked[ranked["pvi"] < max_pvi]
    if max_rows is not None:
        rows = rows.head(max_rows)
    out = rows.loc[:, [c for c in SUSPECT_COLUMNS if c != "text"]].copy()
    out["text"] = [truncate(t, text_chars) for t in rows["text"]]
    if pair:
        out["text_pair"] = [truncate(t, text_chars) for t in rows["text_pair"]]
    if flips is not None:
        out["flipped"] = rows["id"].isin(flips).astype(np.int64).to_numpy()
    return out.reset_index(drop=True)


def _group_stats(ranked: pd.DataFrame) -> dict[str, Any]:
    pvi = ranked["pvi"].to_numpy(dtype=np.float64)
    return {"n": int(pvi.size), "mean_pvi": float(pvi.mean()) if pvi.size else None,
            "negative": int((pvi < 0).sum())}


def flip_scores(ranked: pd.DataFrame, flips: set[str], listed: pd.DataFrame) -> dict[str, Any]:
    """AUROC of −PVI for the flipped rows, precision at k (k = flipped rows in the split), and
    precision of the listed suspects. Undefined values are ``None``."""
    flags = ranked["id"].isin(flips).to_numpy()
    k = int(flags.sum())

    def num(x: float) -> float | None:
        return None if math.isnan(x) else float(x)

    return {
        "flipped": k,
        "clean": int(flags.size - k),
        "auroc": num(auroc(-ranked["pvi"].to_numpy(dtype=np.float64), flags)),
        "k": k,
        "precision_at_k": num(precision_at(flags, k)),
        "listed": len(listed),
        "listed_flipped": int(listed["id"].isin(flips).sum()),
        "precision_listed": num(precision_at(listed["id"].isin(flips).to_numpy(), len(listed))),
    }


def task_diagnostics(pvi: str | Path, split: str | Path, info: str | Path, out_tsv: str | Path,
                     out_json: str | Path, *, model: str, max_rows: int | None = 50,
                     max_pvi: float | None = 0.0, text_chars: int = 200,
                     flip_records: Mapping[str, str | Path] | None = None) -> dict[str, Any]:
    """Write a task's suspects table (tsv) and its diagnostics summary (json).

    Parameters
    ----------
    pvi, split, info
        ``results/pvi/{model}/{task}.parquet``, the prepared PVI split and ``task.json``.
    out_tsv, out_json
        The suspects table and the summary: counts of negative PVI overall and by whether g′
        predicts the gold label, the listing settings, the overlap found at preparation
        (``task.json`` ``overlap``; ``None`` = not checked), and with flip records the scores of
        :func:`flip_scores`.
    flip_records
        source role to the flip record of a noisy twin (none: wrong labels unknown).

    Notes
    -----
    Logs hold counts only: the texts of a private task stay in ``out_tsv`` under ``results/``.
    """
    task_info = read_json(info)
    task = str(task_info.get("task", Path(out_json).stem))
    ranked = ranked_instances(pvi, split, task_info)
    flips = None
    if flip_records:
        flips = flipped_ids(flip_records, task_info)
        check_flips(ranked, flips, task_info, flip_records)
    listed = suspects(ranked, max_rows=max_rows, max_pvi=max_pvi, text_chars=text_chars,
                      pair=bool(task_info.get("pair")), flips=flips)
    write_tsv(listed, out_tsv)
    summary = {
        "task": task,
        "model": model,
        "private": bool(task_info.get("private", False)),
        "pair": bool(task_info.get("pair", False)),
        **_group_stats(ranked),
        "share_negative": float((ranked["pvi"] < 0).mean()) if len(ranked) else None,
        "gprime_accuracy": float(ranked["correct"].mean()) if len(ranked) else None,
        "by_correct": {"gold": _group_stats(ranked[ranked["correct"]]),
                       "other": _group_stats(ranked[~ranked["correct"]])},
        "suspects": {"listed": len(listed), "max_rows": max_rows, "max_pvi": max_pvi,
                     "text_chars": text_chars, "file": str(out_tsv)},
        "flips": None if flips is None else flip_scores(ranked, flips, listed),
        "overlap": task_info.get("overlap"),
    }
    write_json(summary, out_json)
    scores = summary["flips"]
    log.info("task %s, model %s: %d rows, %d with PVI < 0, %d suspects listed%s", task, model,
             summary["n"], summary["negative"], len(listed),
             "" if scores is None else f"; {scores['flipped']} flipped rows, AUROC(-PVI) "
             f"{scores['auroc']}, precision at k={scores['k']} {scores['precision_at_k']}")
    return summary
