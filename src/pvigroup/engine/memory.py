"""Out-of-memory handling: a micro-batch that halves when the card runs out of memory.

On ``torch.cuda.OutOfMemoryError`` in a training or read-out step, the engine frees the CUDA
cache, halves the micro-batch and retries. In training the planned batch (``batch_size`` rows)
is then processed as several micro-batches whose gradients are accumulated before the one
optimizer step of that batch, each scaled by the batch's row count: the effective batch, the
learning-rate schedule and the numbers stay the same up to floating-point summation order (and
dropout masks, which are drawn per micro-batch). The smaller size is kept for the rest of the
run; at micro-batch 1 the engine gives up with an error that says what to change.
"""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass, field

import numpy as np
import torch

from pvigroup.errors import PvigroupError

log = logging.getLogger(__name__)


def is_out_of_memory(err: BaseException) -> bool:
    """Whether ``err`` is a CUDA out-of-memory error (``torch.cuda.OutOfMemoryError``)."""
    oom = getattr(torch.cuda, "OutOfMemoryError", None) or getattr(torch, "OutOfMemoryError", ())
    return isinstance(err, oom)


def free_cuda_cache() -> None:
    """Release cached CUDA blocks after an out-of-memory error (only garbage on the CPU)."""
    gc.collect()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()


def split_rows(rows: np.ndarray, size: int) -> list[np.ndarray]:
    """``rows`` cut into consecutive micro-batches of at most ``size`` rows (none dropped)."""
    if size < 1:
        raise ValueError(f"micro-batch size must be >= 1, got {size}")
    return [rows[i : i + size] for i in range(0, len(rows), size)]


@dataclass
class MicroBatch:
    """The current micro-batch size of one loop (training or read-out) and its history.

    Attributes
    ----------
    where : str
        ``train`` or ``read-out`` (log lines and the error name it).
    size : int
        Rows per forward pass now.
    requested : int
        The size the run was configured with.
    splits : list of dict
        One entry per halving: ``{"where", "from", "to", "at"}``.
    """

    where: str
    size: int
    requested: int = 0
    splits: list[dict] = field(default_factory=list)

    def __post_init__(self):
        self.requested = self.requested or self.size

    def halve(self, err: BaseException, at: str, hint: str = "") -> None:
        """Free the cache and halve the size after ``err``; raise ``PvigroupError`` at size 1."""
        free_cuda_cache()
        if self.size <= 1:
            raise PvigroupError(
                f"CUDA out of memory in a {self.where} step at micro-batch 1 ({at}): the model "
                f"does not fit this card even one row at a time; {hint or 'use a shorter max_length, a smaller model or a card with more memory'} "
                f"({str(err).splitlines()[0] if str(err) else type(err).__name__})"
            ) from None
        new = max(1, self.size // 2)
        self.splits.append({"where": self.where, "from": self.size, "to": new, "at": at})
        log.warning(
            "CUDA out of memory in a %s step (%s): micro-batch %d -> %d rows, kept for the rest "
            "of the run%s", self.where, at, self.size, new,
            " (gradients accumulated over the planned batch: same effective batch)"
            if self.where == "train" else "",
        )  # fmt: skip
        self.size = new

    def record(self) -> dict:
        """``{"requested", "used", "splits"}`` for provenance and metrics."""
        return {"requested": self.requested, "used": self.size, "splits": list(self.splits)}
