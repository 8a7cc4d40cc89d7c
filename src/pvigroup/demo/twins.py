"""Synthetic tasks with planted difficulty: stratified parts of a corpus, noisy twins with a share
of wrong labels, and the flip record written beside each twin."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pvigroup.errors import PvigroupError

log = logging.getLogger("pvigroup.demo")


def partition(labels: Sequence[str], parts: int, seed: int) -> np.ndarray:
    """Assign each row to one of ``parts`` disjoint parts, stratified by label and seeded.

    Each class is shuffled and dealt into near-equal chunks; the chunk order is rotated from
    class to class so part sizes stay within one row of each other where possible.

    Returns
    -------
    numpy.ndarray of int64
        The part (0 .. parts-1) of each row.
    """
    labels = np.asarray(labels, dtype=object)
    rng = np.random.default_rng([seed % 2**64, 7])
    assignment = np.full(len(labels), -1, dtype=np.int64)
    offset = 0
    for value in sorted(set(labels.tolist())):
        members = rng.permutation(np.flatnonzero(labels == value))
        for j, chunk in enumerate(np.array_split(members, parts)):
            assignment[chunk] = (j + offset) % parts
        offset += len(members) % parts
    return assignment


TWIN_CSV = re.compile(r"^(?P<stem>[A-Za-z0-9_-]+-part\d+of\d+-noise\d+)\.csv$")


def flip_record(twin_csv: str | Path) -> Path | None:
    """The flip record the ``make_twin_task`` rule writes beside a noisy twin csv, or ``None``.

    ``resources/demo/bbc-part2of3-noise30.csv`` has its record in
    ``resources/demo/bbc-part2of3-noise30.flipped.tsv``; a path that is not such a twin (any
    other data file) has none.
    """
    path = Path(twin_csv)
    match = TWIN_CSV.match(path.name)
    if match is None:
        return None
    return path.with_name(f"{match['stem']}.flipped.tsv")


def make_noisy_twin(
    in_csv: str | Path,
    out_csv: str | Path,
    *,
    noise: float,
    seed: int,
    part: int,
    parts: int,
    labels: list[str] | None = None,
    flipped_tsv: str | Path | None = None,
) -> Path:
    """Write one part of a corpus with a planted share of wrong labels.

    The corpus (a ``text,label`` csv) is cut into ``parts`` disjoint parts, stratified by label
    (the cut depends only on the data, ``parts`` and ``seed``, so parts of one cut never share a
    row). Part ``part`` is kept and exactly ``round(noise * n)`` of its rows, drawn uniformly,
    get a different label drawn uniformly from the other ``labels``. Texts are kept as they are.

    Parameters
    ----------
    in_csv, out_csv : path
        Input corpus and output csv.
    noise : float
        Share of flipped labels, in [0, 1].
    seed : int
        Seed of the cut and of the flips.
    part, parts : int
        Which part to keep, out of how many.
    labels : list of str, optional
        The corpus's label values (every row's label must be one of them; flips draw from
        them). Default: the distinct labels of the corpus.
    flipped_tsv : path, optional
        Also write the record of the flips here (see :func:`flip_record`): one row per flipped
        row of ``out_csv`` with columns ``row`` (0-based data row of ``out_csv``, the row number
        a prepared task's generated id carries), ``label`` (the planted label), ``orig_label``
        and ``source_row``. Written (header only) also when nothing is flipped.

    Returns
    -------
    pathlib.Path
        ``out_csv``, with columns ``text, label, noisy`` (1 where flipped), ``orig_label`` and
        ``source_row`` (0-based row of ``in_csv``), rows in source order.
    """
    in_csv, out_csv = Path(in_csv), Path(out_csv)
    if not 0 <= noise <= 1:
        raise PvigroupError(f"noise must be in [0, 1], got {noise}")
    if parts < 1 or not 0 <= part < parts:
        raise PvigroupError(f"part must be in 0..{parts - 1} (parts = {parts}), got {part}")
    if not in_csv.is_file():
        raise PvigroupError(f"{in_csv}: file does not exist")
    frame = pd.read_csv(in_csv, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
    for column in ("text", "label"):
        if column not in frame.columns:
            raise PvigroupError(f"{in_csv}: no column '{column}'; it has {list(frame.columns)}")
    if frame["label"].isna().any():
        i = int(np.flatnonzero(frame["label"].isna().to_numpy())[0])
        raise PvigroupError(f"{in_csv}, line {i + 2}: the label is empty")
    if labels is None:
        labels = sorted(set(frame["label"]))
    labels = [str(v) for v in labels]
    if noise > 0 and len(set(labels)) < 2:
        raise PvigroupError(f"flipping labels needs at least 2 labels, got {labels}")
    unknown = ~frame["label"].isin(labels)
    if unknown.any():
        i = int(np.flatnonzero(unknown.to_numpy())[0])
        raise PvigroupError(
            f"{in_csv}, line {i + 2}: label {frame['label'].iloc[i]!r} not one of {labels}"
        )
    keep = np.flatnonzero(partition(frame["label"].tolist(), parts, seed) == part)
    out = frame.iloc[keep].loc[:, ["text", "label"]].reset_index(drop=True)
    out["orig_label"] = out["label"]
    out["source_row"] = keep
    flips = round(noise * len(out))
    rng = np.random.default_rng([seed % 2**64, 11, part])
    chosen = np.sort(rng.choice(len(out), size=flips, replace=False))
    new_labels = out["label"].to_numpy(dtype=object).copy()
    for i in chosen:
        others = [v for v in labels if v != new_labels[i]]
        new_labels[i] = others[int(rng.integers(len(others)))]
    out["label"] = pd.Series(new_labels, dtype="str")
    out["noisy"] = 0
    out.loc[chosen, "noisy"] = 1
    out = out.loc[:, ["text", "label", "noisy", "orig_label", "source_row"]]
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_csv.with_name(out_csv.name + ".part")
    out.to_csv(tmp, index=False, lineterminator="\n", encoding="utf-8")
    os.replace(tmp, out_csv)
    if flipped_tsv is not None:
        flipped_tsv = Path(flipped_tsv)
        record = out.loc[out["noisy"] == 1, ["label", "orig_label", "source_row"]]
        record.insert(0, "row", record.index.to_numpy(dtype=np.int64))
        tmp = flipped_tsv.with_name(flipped_tsv.name + ".part")
        record.to_csv(tmp, sep="\t", index=False, lineterminator="\n", encoding="utf-8")
        os.replace(tmp, flipped_tsv)
    log.info(
        "%s: part %d of %d, %d rows, %d labels flipped (noise %.3g), written to %s",
        in_csv,
        part,
        parts,
        len(out),
        flips,
        noise,
        out_csv,
    )
    return out_csv
