"""Input validation, tokenisation and padding: one code path for training and read-out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pvigroup.errors import PvigroupError


@dataclass
class Encoded:
    """Token ids of a frame's rows, unpadded, in frame order."""

    input_ids: list[np.ndarray]
    token_type_ids: list[np.ndarray] | None

    @property
    def lengths(self) -> np.ndarray:
        return np.fromiter(
            (len(x) for x in self.input_ids), dtype=np.int64, count=len(self.input_ids)
        )

    def __len__(self) -> int:
        return len(self.input_ids)


def _pair_mask(df: pd.DataFrame) -> np.ndarray:
    if "text_pair" not in df.columns:
        return np.zeros(len(df), dtype=bool)
    return (~df["text_pair"].isna()).to_numpy(dtype=bool)


def validate_frame(
    task: str,
    df: pd.DataFrame,
    n_labels: int,
    split: str,
    *,
    labels: bool = True,
    text: bool = True,
) -> None:
    """Check a frame's columns and values; raise ``PvigroupError`` naming task, split and row id.

    Parameters
    ----------
    task, split : str
        Used in messages only.
    n_labels : int
        Label ids must lie in ``[0, n_labels)``.
    labels : bool
        Whether a ``label`` column is required.
    text : bool
        Whether ``text`` must be non-missing (not needed for null-input models).
    """
    need = ["id", "text"] + (["label"] if labels else [])
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise PvigroupError(f"task {task!r} ({split}): missing column(s) {', '.join(missing)}")
    if text:
        bad = df["text"].isna().to_numpy()
        if bad.any():
            row = df["id"].iloc[int(np.flatnonzero(bad)[0])]
            raise PvigroupError(f"task {task!r} ({split}): row id {row!r} has no text")
    if labels:
        lab = df["label"]
        if lab.isna().any():
            row = df["id"].iloc[int(np.flatnonzero(lab.isna().to_numpy())[0])]
            raise PvigroupError(f"task {task!r} ({split}): row id {row!r} has no label")
        values = lab.to_numpy()
        if not np.issubdtype(values.dtype, np.integer):
            as_float = values.astype(np.float64)
            if not np.all(np.equal(np.mod(as_float, 1), 0)):
                raise PvigroupError(f"task {task!r} ({split}): label column is not integer ids")
        values = values.astype(np.int64)
        out = (values < 0) | (values >= n_labels)
        if out.any():
            i = int(np.flatnonzero(out)[0])
            raise PvigroupError(
                f"task {task!r} ({split}): row id {df['id'].iloc[i]!r} has label {values[i]}, "
                f"outside [0, {n_labels})"
            )


def encode_frame(tokenizer, df: pd.DataFrame, max_length: int, null_input: bool) -> Encoded:
    """Tokenise a frame's rows, in frame order.

    Single-text rows are encoded as ``tokenizer(text)``, pair rows as the sentence pair
    ``tokenizer(text, text_pair)`` with ``truncation="longest_first"`` (both segments are
    trimmed, the longer first, so neither loses all its tokens), both up to ``max_length``.

    With ``null_input`` every text (and text pair) is replaced by the empty string, so every
    single-text row encodes as ``[CLS] [SEP]`` and every pair row as ``[CLS] [SEP] [SEP]``
    (the tokenizer's own empty encodings). Training and read-out both call this function, so g
    is trained and read out on the same null input.
    """
    n = len(df)
    pair = _pair_mask(df)
    if null_input:
        texts = [""] * n
        pairs = [""] * n
    else:
        texts = df["text"].astype(object).tolist()
        pairs = df["text_pair"].astype(object).tolist() if "text_pair" in df.columns else [None] * n
    with_types = "token_type_ids" in getattr(tokenizer, "model_input_names", [])
    ids: list[np.ndarray | None] = [None] * n
    types: list[np.ndarray | None] = [None] * n
    for is_pair in (False, True):
        rows = np.flatnonzero(pair == is_pair)
        if not len(rows):
            continue
        a = [str(texts[i]) for i in rows]
        b = [str(pairs[i]) for i in rows] if is_pair else None
        enc = tokenizer(
            a,
            b,
            truncation="longest_first",
            max_length=max_length,
            padding=False,
            return_token_type_ids=with_types,
            return_attention_mask=False,
        )
        for j, i in enumerate(rows):
            ids[i] = np.asarray(enc["input_ids"][j], dtype=np.int64)
            if with_types:
                types[i] = np.asarray(enc["token_type_ids"][j], dtype=np.int64)
    return Encoded(ids, types if with_types else None)  # type: ignore[arg-type]


def pad_batch(
    enc: Encoded, rows: np.ndarray, length: int, pad_id: int, size: int | None = None
) -> dict[str, np.ndarray]:
    """Right-pad the rows ``rows`` of ``enc`` to ``length`` tokens.

    With ``size`` larger than ``len(rows)`` the batch is filled up to ``size`` rows with copies of
    its first row (real tokens, so attention never sees an all-masked row); ``weight`` is 1 for
    real rows and 0 for the fill, so the fill adds nothing to the loss or its gradient.
    """
    size = len(rows) if size is None else size
    input_ids = np.full((size, length), pad_id, dtype=np.int64)
    mask = np.zeros((size, length), dtype=np.int64)
    types = np.zeros((size, length), dtype=np.int64) if enc.token_type_ids is not None else None
    filled = np.concatenate([rows, np.full(size - len(rows), rows[0], dtype=rows.dtype)])
    for j, i in enumerate(filled):
        ids = enc.input_ids[i]
        input_ids[j, : len(ids)] = ids
        mask[j, : len(ids)] = 1
        if types is not None:
            types[j, : len(ids)] = enc.token_type_ids[i]  # type: ignore[index]
    weight = np.zeros(size, dtype=np.float32)
    weight[: len(rows)] = 1.0
    out = {"input_ids": input_ids, "attention_mask": mask, "weight": weight}
    if types is not None:
        out["token_type_ids"] = types
    return out
