"""Text shared between a task's training split and its held-out splits (dev, the PVI split; test).

A held-out row that also occurs in train inflates what the model seems to have learnt: its PVI
and test score reward memorisation (SST-2's train is made of phrases of its sentences; BoolQ
repeats passages). :func:`overlap_report` counts such rows by hashing, in linear time, in two
ways:

* **exact**: the row's ``(text, text_pair)`` equals a train row's, character for character;
* **normalised**: equal after :func:`normalise_text` on each of ``text`` and ``text_pair``
  (Unicode NFKC, casefold, every punctuation character, Unicode category P*, replaced by a
  space, runs of whitespace collapsed to one space, ends stripped). A text that normalises to
  nothing (only punctuation) is compared exactly instead. Every exact duplicate is also a
  normalised one.

Optionally (``drop_overlap``) the train rows whose normalised text occurs in dev or test are
dropped, so train shares no normalised text with either; the counts report what was found
before dropping.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import pandas as pd

NORMALISATION = (
    "Unicode NFKC, casefold, punctuation (Unicode category P*) replaced by a space, whitespace "
    "collapsed and stripped; pairs compare (text, text_pair) together; a text that normalises "
    "to nothing is compared exactly"
)
MAX_EXAMPLES = 5
EXAMPLE_CHARS = 200
PAIR_JOIN = " || "  # how an example shows a pair's two texts in one string


class _PunctuationToSpace(dict):
    """``str.translate`` table mapping Unicode punctuation to a space, filled as characters occur."""

    def __missing__(self, cp: int) -> str:
        char = chr(cp)
        value = " " if unicodedata.category(char).startswith("P") else char
        self[cp] = value
        return value


_PUNCTUATION = _PunctuationToSpace()


def normalise_text(text: str) -> str:
    """``text`` as the normalised overlap check compares it (see the module docs).

    Examples
    --------
    >>> normalise_text("It's  a CHARMING,\\tjourney!")
    'it s a charming journey'
    >>> normalise_text("it 's a charming , journey")
    'it s a charming journey'
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(folded.translate(_PUNCTUATION).split())


def _texts(frame: pd.DataFrame) -> tuple[list[str], list[str | None]]:
    texts = frame["text"].tolist()
    pairs = frame["text_pair"].tolist() if "text_pair" in frame else [None] * len(texts)
    pairs = [p if isinstance(p, str) else None for p in pairs]
    return texts, pairs


def _exact_keys(frame: pd.DataFrame) -> list[Hashable]:
    return list(zip(*_texts(frame), strict=True))


def _normalised_keys(frame: pd.DataFrame) -> list[Hashable]:
    keys: list[Hashable] = []
    for text, pair in zip(*_texts(frame), strict=True):
        a = normalise_text(text) or ("=", text)
        b = None if pair is None else (normalise_text(pair) or ("=", pair))
        keys.append((a, b))
    return keys


def _first_ids(keys: list[Hashable], ids: list[str]) -> dict[Hashable, str]:
    """Key -> id of the first row with that key."""
    first: dict[Hashable, str] = {}
    for key, ident in zip(keys, ids, strict=True):
        first.setdefault(key, ident)
    return first


def _example_text(text: str, pair: str | None) -> str:
    shown = text if pair is None else f"{text}{PAIR_JOIN}{pair}"
    return shown[:EXAMPLE_CHARS]


def split_overlap(
    train_exact: Mapping[Hashable, str],
    train_norm: Mapping[Hashable, str],
    held: pd.DataFrame,
    held_norm: list[Hashable],
    *,
    private: bool,
) -> dict[str, Any]:
    """Overlap of one held-out split with train, as recorded in ``task.json``.

    Parameters
    ----------
    train_exact, train_norm : mapping
        Exact and normalised key of the train rows -> id of the first train row with it.
    held : pandas.DataFrame
        The held-out split (``id``, ``text``, ``text_pair``).
    held_norm : list
        Its normalised keys, in row order.
    private : bool
        No text in the examples (``"text": null``).

    Returns
    -------
    dict
        ``exact`` and ``normalised`` (rows of ``held`` with a duplicate in train) and
        ``examples``: at most ``MAX_EXAMPLES`` such rows in split order, each ``{"id",
        "train_id", "text"}`` with the text cut to ``EXAMPLE_CHARS`` characters (a pair as
        ``text || text_pair``), or ``None`` for a private task.
    """
    ids = held["id"].tolist()
    texts, pairs = _texts(held)
    exact = 0
    normalised = 0
    examples: list[dict[str, Any]] = []
    for i, (key, nkey) in enumerate(zip(zip(texts, pairs, strict=True), held_norm, strict=True)):
        train_id = train_exact.get(key)
        if train_id is not None:
            exact += 1
        else:
            train_id = train_norm.get(nkey)
        if train_id is None:
            continue
        normalised += 1
        if len(examples) < MAX_EXAMPLES:
            examples.append(
                {
                    "id": ids[i],
                    "train_id": train_id,
                    "text": None if private else _example_text(texts[i], pairs[i]),
                }
            )
    return {"exact": exact, "normalised": normalised, "examples": examples}


def overlap_report(
    train: pd.DataFrame,
    held_out: Mapping[str, pd.DataFrame],
    *,
    private: bool = False,
    drop: bool = False,
    group_field: Any = None,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Count train/dev and train/test duplicates and optionally drop them from train.

    Parameters
    ----------
    train : pandas.DataFrame
        The prepared train split (``id``, ``text``, ``text_pair``; other columns are kept).
    held_out : mapping
        ``{"dev": frame, "test": frame}``: the prepared held-out splits.
    private : bool
        A private task: the examples carry no text.
    drop : bool
        Drop the train rows whose normalised text occurs in any held-out split.
    group_field : str, optional
        The task's ``split.group_by`` field: the frames carry each row's value in ``_group``
        and the report adds ``groups`` (:func:`shared_groups`).

    Returns
    -------
    report : dict
        ``{"normalisation": str, "dev": {...}, "test": {...}, "dropped_from_train": int,
        "drop": bool}`` with one :func:`split_overlap` record per held-out split; the counts are
        those found before dropping.
    train : pandas.DataFrame
        ``train`` itself, or its remaining rows (order kept, index reset) when ``drop``.
    """
    train_ids = train["id"].tolist()
    train_norm_keys = _normalised_keys(train)
    train_exact = _first_ids(_exact_keys(train), train_ids)
    train_norm = _first_ids(train_norm_keys, train_ids)
    report: dict[str, Any] = {"normalisation": NORMALISATION}
    held_keys: set[Hashable] = set()
    for split, frame in held_out.items():
        keys = _normalised_keys(frame)
        held_keys.update(keys)
        report[split] = split_overlap(train_exact, train_norm, frame, keys, private=private)
    dropped = 0
    if drop:
        keep = np.array([key not in held_keys for key in train_norm_keys], dtype=bool)
        dropped = int((~keep).sum())
        if dropped:
            train = train[keep].reset_index(drop=True)
    report["dropped_from_train"] = dropped
    report["drop"] = bool(drop)
    if group_field is not None:
        report["groups"] = shared_groups(group_field, {"train": train, **held_out},
                                         private=private)
    return report, train


def shared_groups(
    field: Any, splits: Mapping[str, pd.DataFrame], *, private: bool = False
) -> dict[str, Any]:
    """Group values (column ``_group``) found in two splits, per pair of splits.

    Returns
    -------
    dict
        ``{"field": str, "shared": {"train-dev": int, "train-test": int, "dev-test": int},
        "examples": [...]}``: the number of distinct group values each pair of splits shares,
        and at most ``MAX_EXAMPLES`` such values (sorted; none for a private task). All zero when
        the split was drawn by group; a source's own splits may share groups.
    """
    values = {s: set(f["_group"].tolist()) for s, f in splits.items()}
    names = list(splits)
    shared: dict[str, int] = {}
    found: set[str] = set()
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            common = values[a] & values[b]
            shared[f"{a}-{b}"] = len(common)
            found |= common
    examples = [] if private else sorted(map(str, found))[:MAX_EXAMPLES]
    return {"field": str(field), "shared": shared, "examples": examples}


def overlap_summary(task: str, report: Mapping[str, Any], n: Mapping[str, int]) -> str | None:
    """One log line (no text) when any held-out row shares text with train, or (with
    ``split.group_by``) two splits share a group value; else ``None``."""
    said = []
    if any(report[s]["normalised"] for s in ("dev", "test") if s in report):
        parts = [
            f"{split} {report[split]['exact']} exact / {report[split]['normalised']} normalised "
            f"of {n[split]} rows"
            for split in ("dev", "test")
            if split in report
        ]
        if report["drop"]:
            tail = f"; dropped {report['dropped_from_train']} train rows (drop_overlap)"
        else:
            tail = "; set drop_overlap: true to drop them from train"
        said.append(f"held-out rows share text with train: {', '.join(parts)}{tail}")
    groups = report.get("groups")
    shared = {k: v for k, v in (groups or {}).get("shared", {}).items() if v}
    if shared:
        said.append(
            f"splits share values of split.group_by field '{groups['field']}' (the source's own "
            "splits: not redrawn): " + ", ".join(f"{k} {v}" for k, v in shared.items())
        )
    return f"task {task}: {'; '.join(said)}" if said else None
