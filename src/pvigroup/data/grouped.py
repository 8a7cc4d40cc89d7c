"""Group-aware splits: every row of a group (``split.group_by``, e.g. an abstract's ``pmid``) in
one of train/dev/test, stratified by label as far as the groups allow, seeded.

Several sentences of one abstract are not independent: with some in train and some in the PVI
split, g' has seen the abstract and PVI and accuracy are inflated, and the text-overlap report
cannot see it (the sentences differ). :func:`grouped_pick` draws whole groups instead of rows.

The draw (:func:`grouped_pick`) puts each group in one of two bins, the drawn part (about ``k``
rows) and the rest, with per-label targets: ``k * n_c / n`` rows of label ``c`` in the drawn part
(only ``k`` rows in all with ``stratify: false``). Groups are taken largest first (equal sizes in
a seeded random order) and each goes to the bin where it brings the label counts closest to the
targets (squared deviation, each label weighted by 1 / its row count, so a rare label counts as
much as a common one). With many small groups the drawn part matches the targets to a row or
two; with few large groups it cannot, and :func:`group_summary` in ``task.json`` shows how far
it got (rows and groups per split, the largest group).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from pvigroup.data.canonical import _column, _row_error
from pvigroup.data.options import value_text
from pvigroup.data.sources import SourceSplit

GROUP = "_group"  # the column carrying each prepared row's group value until the files are written


def attach_groups(frame: pd.DataFrame, src: SourceSplit, field: Any, task: str) -> pd.DataFrame:
    """``frame`` (a :func:`~pvigroup.data.canonical.canonical_split` of ``src``) with the group
    value of each row, as text, in column ``_group``.

    Raises
    ------
    PvigroupError
        The field is not in the file (the message lists the fields it has), or a row has no
        value in it (named by file and line).
    """
    column = _column(src.frame, field, task=task, src=src, what="split.group_by")
    # a canonical split has every source row, in source order (``_row`` = position)
    values = [value_text(v) for v in src.frame[column].tolist()]
    missing = np.flatnonzero([v is None or not v.strip() for v in values])
    if missing.size:
        _row_error(task, src, frame["id"].tolist(), missing,
                   f"split.group_by field '{field}' is empty")
    out = frame.copy()
    out[GROUP] = pd.Series([values[i] for i in frame["_row"].tolist()], index=frame.index,
                           dtype=object)
    return out


def grouped_pick(
    labels: np.ndarray,
    groups: np.ndarray,
    k: int,
    *,
    rng: np.random.Generator,
    stratify: bool = True,
) -> np.ndarray:
    """Positions of about ``k`` rows made of whole groups, stratified by label (module docs).

    Parameters
    ----------
    labels : array of int
        Label id of each row.
    groups : array
        Group value of each row (any hashable; equal values are one group).
    k : int
        Rows wanted in the drawn part.
    rng : numpy.random.Generator
        Orders groups of equal size (seeded by the caller).
    stratify : bool
        Match each label's share (else only the number of rows).

    Returns
    -------
    numpy.ndarray of int64
        Sorted positions of the drawn rows: every row of a drawn group, none of another.
    """
    labels = np.asarray(labels)
    n = len(labels)
    if k <= 0 or n == 0:
        return np.zeros(0, dtype=np.int64)
    codes, group_of = np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True)
    n_groups = len(codes)
    classes, label_of = np.unique(labels, return_inverse=True)
    if not stratify:
        label_of = np.zeros(n, dtype=np.int64)
        classes = classes[:1]
    counts = np.zeros((n_groups, len(classes)), dtype=np.int64)
    np.add.at(counts, (group_of, label_of), 1)
    totals = counts.sum(axis=0)
    target = np.stack([k * totals / n, totals - k * totals / n])  # bin 0 = drawn, 1 = rest
    weight = 1.0 / np.maximum(totals, 1)
    sizes = counts.sum(axis=1)
    order = rng.permutation(n_groups)
    order = order[np.argsort(-sizes[order], kind="stable")]
    filled = np.zeros_like(target)
    drawn = np.zeros(n_groups, dtype=bool)
    for g in order:
        v = counts[g]
        cost = ((v * (2 * (filled - target) + v)) * weight).sum(axis=1)
        b = int(np.argmin(cost))
        filled[b] += v
        drawn[g] = b == 0
    return np.flatnonzero(drawn[group_of]).astype(np.int64)


def group_summary(field: Any, splits: Mapping[str, pd.DataFrame]) -> dict[str, Any]:
    """What ``task.json`` records under ``groups``: the field, and per split the number of
    groups, the rows of its largest group and that group's value."""
    out: dict[str, Any] = {"field": str(field), "n_groups": {}, "largest": {}}
    for split, frame in splits.items():
        sizes = frame[GROUP].value_counts(sort=False)
        out["n_groups"][split] = len(sizes)
        if len(sizes):
            top = sizes.sort_values(ascending=False, kind="stable")
            out["largest"][split] = {"group": str(top.index[0]), "rows": int(top.iloc[0])}
        else:
            out["largest"][split] = None
    return out
