"""Read-out: log-probabilities and metrics of a trained model on a frame, in the frame's row order."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from pvigroup.engine.encode import Encoded, encode_frame, pad_batch, validate_frame
from pvigroup.engine.memory import MicroBatch, is_out_of_memory
from pvigroup.engine.metrics import classification_metrics
from pvigroup.engine.model import MultiTaskModel, load_model
from pvigroup.engine.types import EngineOptions
from pvigroup.errors import PvigroupError

log = logging.getLogger(__name__)


def _as_model(model, task: str, options: EngineOptions) -> MultiTaskModel:
    if isinstance(model, MultiTaskModel):
        if task not in model.heads:
            raise PvigroupError(
                f"model has no head for task {task!r} (has: {', '.join(model.heads)})"
            )
        return model
    if isinstance(model, str | Path):
        return load_model(model, [task], options)
    raise TypeError(
        f"model must be a model directory or a MultiTaskModel, not {type(model).__name__}"
    )


def _round_up(n: int, k: int) -> int:
    return -(-n // k) * k


def logprobs_encoded(
    model: MultiTaskModel, task: str, enc: Encoded, options: EngineOptions,
    micro: MicroBatch | None = None,
) -> np.ndarray:
    """Natural-log class probabilities of encoded rows, in ``enc`` order (float64).

    Rows are sorted by length and read in batches of ``options.eval_batch_size``, each padded
    to its longest row (rounded up to a multiple of 8 on CUDA), under ``torch.inference_mode``
    and the precision's autocast (:meth:`EngineOptions.autocast_dtype`); results are put back in
    the original order. Rows with identical token ids (all rows of a null-input model) are
    computed once, so they get identical outputs. On a CUDA out-of-memory error the batch is
    halved and read again (``micro`` keeps the smaller size for later calls and records it).
    """
    n = len(enc)
    n_labels = model.heads[task].n_labels
    out = np.empty((n, n_labels), dtype=np.float64)
    if n == 0:
        return out
    device = next(model.parameters()).device
    amp = options.autocast_dtype(device)
    pad_id = model.tokenizer.pad_token_id or 0
    # Deduplicate identical inputs (cheap; makes null-input read-out exactly constant).
    keys = [
        x.tobytes() + (b"|" + t.tobytes() if enc.token_type_ids is not None else b"")
        for x, t in zip(enc.input_ids, enc.token_type_ids or enc.input_ids, strict=True)
    ]
    first: dict[bytes, int] = {}
    inverse = np.fromiter((first.setdefault(k, i) for i, k in enumerate(keys)), np.int64, count=n)
    unique = np.unique(inverse)
    lengths = enc.lengths[unique]
    order = unique[np.argsort(lengths, kind="stable")]
    was_training = model.training
    model.eval()
    ctx = torch.autocast(device.type, dtype=amp) if amp is not None else contextlib.nullcontext()
    micro = micro if micro is not None else MicroBatch("read-out", int(options.eval_batch_size))
    try:
        with torch.inference_mode(), ctx:
            start = 0
            while start < len(order):
                rows = order[start : start + micro.size]
                try:
                    out[rows] = _read_batch(model, task, enc, rows, pad_id, device)
                except Exception as err:  # noqa: BLE001 - only out-of-memory is handled
                    if not is_out_of_memory(err):
                        raise
                    micro.halve(err, f"rows {start + 1}-{start + len(rows)} of {len(order)}",
                                "lower engine.eval_batch_size or use a shorter max_length")
                    continue
                start += len(rows)
    finally:
        model.train(was_training)
    return out[inverse]


def _read_batch(model, task: str, enc: Encoded, rows: np.ndarray, pad_id: int,
                device: torch.device) -> np.ndarray:
    length = int(enc.lengths[rows].max())
    if device.type == "cuda":
        length = _round_up(length, 8)
    batch = pad_batch(enc, rows, length, pad_id)
    tensors = {
        k: torch.from_numpy(v).to(device, non_blocking=True)
        for k, v in batch.items()
        if k != "weight"
    }
    logits = model(task, **tensors)
    return torch.log_softmax(logits.float(), dim=-1).double().cpu().numpy()


def predict_logprobs(
    model,
    task: str,
    df: pd.DataFrame,
    *,
    null_input: bool | None = None,
    options: EngineOptions | None = None,
    micro: MicroBatch | None = None,
) -> np.ndarray:
    """Natural-log class probabilities of every row of ``df``.

    Parameters
    ----------
    model : path or MultiTaskModel
        A model directory (only ``task``'s head is loaded) or a loaded model.
    task : str
        Which head to read out.
    df : pandas.DataFrame
        Columns ``id``, ``text`` and optionally ``text_pair``; ``label`` is not needed.
    null_input : bool, optional
        Replace every input by the empty input; default: as the model was trained.
    options : EngineOptions, optional
    micro : MicroBatch, optional
        The read-out batch size, shared between calls: it halves on a CUDA out-of-memory error
        and keeps what happened for provenance (default: a new one of ``eval_batch_size``).

    Returns
    -------
    numpy.ndarray
        ``(len(df), n_labels)`` float64 natural-log probabilities, rows in ``df`` order.
    """
    options = options or EngineOptions()
    model = _as_model(model, task, options)
    null = model.null_input if null_input is None else bool(null_input)
    validate_frame(task, df, model.heads[task].n_labels, "read-out", labels=False, text=not null)
    enc = encode_frame(model.tokenizer, df, model.max_length, null)
    return logprobs_encoded(model, task, enc, options, micro=micro)


def evaluate(model, task: str, df: pd.DataFrame, options: EngineOptions | None = None) -> dict:
    """Accuracy, macro-F1, per-class F1, ``n`` and ``preds`` (argmax ids in ``df`` order).

    ``df`` needs a ``label`` column; the input is null when the model was trained on null input.
    """
    options = options or EngineOptions()
    model = _as_model(model, task, options)
    labels = model.labels[task]
    validate_frame(task, df, len(labels), "evaluate", labels=True, text=not model.null_input)
    logp = predict_logprobs(model, task, df, options=options)
    preds = logp.argmax(axis=1).astype(np.int64)
    metrics = classification_metrics(df["label"].to_numpy(dtype=np.int64), preds, labels)
    metrics["preds"] = preds
    return metrics
