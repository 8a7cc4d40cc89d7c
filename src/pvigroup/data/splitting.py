"""Split policy, stratified draws, subsampling and the checks on the prepared splits (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pvigroup.data.grouped import GROUP, grouped_pick
from pvigroup.data.options import (
    HELD_OUT,
    MIN_HELD_OUT_PER_CLASS,
    MIN_HELD_OUT_ROWS,
    SPLITS,
    TaskOptions,
)
from pvigroup.errors import PvigroupError


def _rng(seed: int, *stream: int) -> np.random.Generator:
    """A generator for ``seed`` and a fixed stream number (any integer seed, negative included)."""
    return np.random.default_rng([seed % 2**64, *stream])


def allocate(counts: Sequence[int], k: int, *, min_per_class: int = 1) -> np.ndarray:
    """Split ``k`` draws among classes in proportion to their ``counts`` (largest remainder).

    Each class with rows gets at least ``min(min_per_class, count)`` draws when ``k`` allows it
    for every class, and never more than its count.

    Parameters
    ----------
    counts : sequence of int
        Rows per class.
    k : int
        Draws in all (capped at the total).
    min_per_class : int
        Floor per non-empty class, applied only when every class can get it.

    Returns
    -------
    numpy.ndarray of int64
        Draws per class, summing to ``min(k, sum(counts))``.
    """
    n_c = np.asarray(counts, dtype=np.int64)
    total = int(n_c.sum())
    k = min(int(k), total)
    if k <= 0 or total == 0:
        return np.zeros_like(n_c)
    quota = k * n_c / total
    alloc = np.floor(quota).astype(np.int64)
    floor = np.minimum(min_per_class, n_c)
    if floor.sum() <= k:
        alloc = np.maximum(alloc, floor)
    else:
        floor = np.zeros_like(n_c)
    while alloc.sum() > k:  # only after raising to the floor: take from the most over-served
        room = np.where(alloc > floor, alloc - quota, -np.inf)
        alloc[int(np.argmax(room))] -= 1
    while alloc.sum() < k:  # largest remainder first; ties go to the earlier class
        room = np.where(alloc < n_c, quota - alloc, -np.inf)
        alloc[int(np.argmax(room))] += 1
    return alloc


def stratified_pick(
    labels: Sequence[int] | np.ndarray,
    k: int,
    *,
    rng: np.random.Generator,
    stratify: bool = True,
    min_per_class: int = 1,
) -> np.ndarray:
    """Positions of ``k`` rows drawn without replacement, stratified by label.

    Parameters
    ----------
    labels : array of int
        Label id of each row.
    k : int
        Rows to draw (all rows when ``k`` is at least their number).
    rng : numpy.random.Generator
        Source of randomness (seeded by the caller).
    stratify : bool
        Keep class proportions (per :func:`allocate`); otherwise a uniform draw.
    min_per_class : int
        See :func:`allocate`.

    Returns
    -------
    numpy.ndarray of int64
        Sorted positions of the drawn rows.
    """
    labels = np.asarray(labels)
    n = len(labels)
    if k >= n:
        return np.arange(n, dtype=np.int64)
    if not stratify:
        return np.sort(rng.permutation(n)[:k]).astype(np.int64)
    classes = np.unique(labels)
    members = [np.flatnonzero(labels == c) for c in classes]
    alloc = allocate([len(m) for m in members], k, min_per_class=min_per_class)
    picked = [rng.permutation(m)[:a] for m, a in zip(members, alloc, strict=True)]
    return np.sort(np.concatenate(picked)).astype(np.int64)


def split_policy(roles: Sequence[str]) -> str:
    """Name of the split policy for a source with labelled splits ``roles`` (see module docs)."""
    present = set(roles)
    if "train" not in present:
        raise PvigroupError("a task's source needs a training split")
    if {"dev", "test"} <= present:
        return "given"
    if "dev" in present:
        return "dev-as-test"
    if "test" in present:
        return "split-train-dev"
    return "split-train-dev-test"


@dataclass
class _Split:
    frame: pd.DataFrame
    origin: str  # for messages: where the rows come from


def apply_split_policy(
    frames: Mapping[str, pd.DataFrame],
    wheres: Mapping[str, str],
    *,
    dev_fraction: float,
    seed: int,
    stratify: bool = True,
    test_fraction: float | None = None,
) -> tuple[str, dict[str, _Split]]:
    """Turn the source's labelled splits (by role) into train/dev/test.

    With only a train split, test and dev are each ``dev_fraction`` of all rows, or with
    ``test_fraction`` test is that share of all rows and dev ``dev_fraction`` of the rest.
    Rows carrying a ``_group`` column (``split.group_by``) are drawn in whole groups.

    Returns the policy name (:func:`split_policy`) and, per prepared split, its rows (the source
    frames' rows, source order kept) and a description of their origin for messages.
    """
    policy = split_policy(list(frames))
    train = frames["train"]
    if policy == "given":
        return policy, {s: _Split(frames[s], wheres[s]) for s in SPLITS}

    def carve(frame: pd.DataFrame, k: int, stream: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        if GROUP in frame:  # split.group_by: whole groups (pvigroup.data.grouped)
            pick = grouped_pick(
                frame["label"].to_numpy(),
                frame[GROUP].to_numpy(),
                k,
                rng=_rng(seed, stream),
                stratify=stratify,
            )
        else:
            pick = stratified_pick(
                frame["label"].to_numpy(), k, rng=_rng(seed, stream), stratify=stratify
            )
        mask = np.zeros(len(frame), dtype=bool)
        mask[pick] = True
        return frame[~mask].reset_index(drop=True), frame[mask].reset_index(drop=True)

    frac_txt = f"dev_fraction {dev_fraction:g}"
    if policy in ("dev-as-test", "split-train-dev"):
        test_role = "dev" if policy == "dev-as-test" else "test"
        rest, dev = carve(train, round(dev_fraction * len(train)), 1)
        return policy, {
            "train": _Split(rest, f"{wheres['train']} (less the dev rows)"),
            "dev": _Split(dev, f"{wheres['train']} ({frac_txt} of it)"),
            "test": _Split(frames[test_role], wheres[test_role]),
        }
    if test_fraction is None:  # dev and test each dev_fraction of all rows
        k = round(dev_fraction * len(train))
        rest, test = carve(train, k, 2)
        rest, dev = carve(rest, k, 3)
        test_txt, dev_txt = frac_txt, frac_txt
    else:  # test_fraction of all rows, then dev_fraction of the rest (the paper's Table 9)
        rest, test = carve(train, round(test_fraction * len(train)), 2)
        rest, dev = carve(rest, round(dev_fraction * len(rest)), 3)
        test_txt, dev_txt = f"test_fraction {test_fraction:g}", f"{frac_txt} of the rest"
    return policy, {
        "train": _Split(rest, f"{wheres['train']} (less the dev and test rows)"),
        "dev": _Split(dev, f"{wheres['train']} ({dev_txt} of it)"),
        "test": _Split(test, f"{wheres['train']} ({test_txt} of it)"),
    }


def subsample(
    frame: pd.DataFrame, max_rows: int | None, *, seed: int, stream: int, min_per_class: int = 1
) -> pd.DataFrame:
    """At most ``max_rows`` rows of ``frame`` (seeded, stratified by ``label``), order kept."""
    if max_rows is None or len(frame) <= max_rows:
        return frame
    pick = stratified_pick(
        frame["label"].to_numpy(), max_rows, rng=_rng(seed, stream), min_per_class=min_per_class
    )
    return frame.iloc[pick].reset_index(drop=True)


def label_counts(splits: Mapping[str, pd.DataFrame], label_names: Sequence[str]) -> pd.DataFrame:
    """Rows per (split, label), every label listed, zero counts included.

    Returns
    -------
    pandas.DataFrame
        Columns ``split, label, label_name, count`` in split then label order.
    """
    rows = []
    for split, frame in splits.items():
        counts = np.bincount(frame["label"].to_numpy(), minlength=len(label_names))
        for k, name in enumerate(label_names):
            rows.append({"split": split, "label": k, "label_name": name, "count": int(counts[k])})
    return pd.DataFrame(rows, columns=["split", "label", "label_name", "count"])


def check_splits(task: str, splits: Mapping[str, _Split], opts: TaskOptions) -> None:
    """Raise when a split has one class or a held-out split is too small to test on.

    A held-out split (dev, test) needs at least ``MIN_HELD_OUT_ROWS`` rows and at least
    ``MIN_HELD_OUT_PER_CLASS`` rows of every class the training split has.
    """
    field = opts.label_field
    train_classes = np.unique(splits["train"].frame["label"].to_numpy())
    for split, part in splits.items():
        labels = part.frame["label"].to_numpy()
        present = np.unique(labels)
        if len(present) < 2:
            only = opts.label_names[int(present[0])] if len(present) else "(no rows)"
            raise PvigroupError(
                f"task '{task}': split '{split}' (from {part.origin}) has only one class in label "
                f"field '{field}': {only!r} ({len(labels)} rows)"
            )
        if split not in HELD_OUT:
            continue
        hint = "; use more rows (max_rows, split.dev_fraction) or another source split"
        if len(labels) < MIN_HELD_OUT_ROWS:
            raise PvigroupError(
                f"task '{task}': held-out split '{split}' (from {part.origin}) has {len(labels)} "
                f"rows, too few to test on (at least {MIN_HELD_OUT_ROWS}){hint}"
            )
        counts = np.bincount(labels, minlength=len(opts.label_values))
        for c in train_classes:
            if counts[c] < MIN_HELD_OUT_PER_CLASS:
                raise PvigroupError(
                    f"task '{task}': held-out split '{split}' (from {part.origin}) has "
                    f"{counts[c]} row(s) of class {opts.label_names[c]!r} in label field "
                    f"'{field}', too few to test on (at least {MIN_HELD_OUT_PER_CLASS}){hint}"
                )
