"""One optimizer step of the training loop, and everything about the card it depends on.

:class:`Stepper` runs the planned batches of one gradient-accumulation window (forward,
loss, backward) and the optimizer step after them. It owns the decisions that differ between
cards and that must never kill a job after hours in the queue:

- precision: bf16 or fp16 autocast, fp16 with a ``torch.amp.GradScaler`` (:mod:`.device`);
- compilation: ``torch.compile`` with one static shape per (task, bucket, micro-batch); under
  ``compile: auto``, an error while compiling or running a shape's first compiled step switches
  the run to eager mode for good, with one WARNING, and the provenance says
  ``eager (fallback: …)``;
- memory: an out-of-memory error halves the micro-batch (:mod:`.memory`) and the window is run
  again from its start, so no gradient of the failed attempt is kept.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence

import numpy as np
import torch
from torch.nn import functional as F

from pvigroup.engine.device import AUTOCAST, DeviceInfo
from pvigroup.engine.encode import Encoded, pad_batch
from pvigroup.engine.memory import MicroBatch, is_out_of_memory, split_rows
from pvigroup.engine.schedule import accumulation_size
from pvigroup.engine.types import EngineOptions, TrainParams

log = logging.getLogger(__name__)

PRECISION_LABELS = {"fp32": "fp32", "bf16": "bf16-autocast", "fp16": "fp16-autocast+grad-scaler"}


def _set_recompile_limit(n: int) -> None:
    import torch._dynamo.config as dyn

    for name in ("recompile_limit", "cache_size_limit"):
        if hasattr(dyn, name):
            setattr(dyn, name, max(int(getattr(dyn, name)), n))
            return


class Stepper:
    """Forward/backward of planned batches and the optimizer step, on one device.

    Parameters
    ----------
    model, optimizer, scheduler
        The model on ``device``, its AdamW and learning-rate schedule.
    device, info
        The torch device and what it can do (:func:`pvigroup.engine.device.probe`).
    options, params
        Engine options and training hyperparameters.
    encoded, labels, bucket_ids, buckets
        Per task: the encoded train rows, their label ids and bucket index; the bucket lengths.
    loss_weights, names
        Per task: the loss weight and the head name.
    pad_id
        The tokenizer's padding id.
    """

    def __init__(self, model, optimizer, scheduler, *, device: torch.device, info: DeviceInfo,
                 options: EngineOptions, params: TrainParams, encoded: Sequence[Encoded],
                 labels: Sequence[np.ndarray], bucket_ids: Sequence[np.ndarray],
                 buckets: Sequence[int], loss_weights: Sequence[float], names: Sequence[str],
                 pad_id: int):
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.device, self.info, self.params = device, info, params
        self.encoded, self.labels, self.bucket_ids = encoded, labels, bucket_ids
        self.buckets, self.loss_weights, self.names, self.pad_id = buckets, loss_weights, names, pad_id
        self.precision = options.precision_for(device, info)
        self.amp = AUTOCAST[self.precision]
        self.scaler = torch.amp.GradScaler("cuda") if self.precision == "fp16" else None
        mode, self.compile_reason = options.compile_decision(device, info)
        self.compile_auto = options.compile == "auto"
        self.compile_mode = mode
        self.fallback: str | None = None
        self.forward = model
        if mode is not None:
            _set_recompile_limit(4 * len(buckets) * len(names) + 8)
            self.forward = torch.compile(model, mode=mode, dynamic=False)
        self.ok_shapes: set[tuple] = set()  # (task, length, micro-batch) run compiled
        self._shape: tuple | None = None
        self.precision_requested = options.precision
        self.micro = MicroBatch("train", params.batch_size)

    # -- what the run records
    @property
    def static(self) -> bool:
        """Whether batches are padded to static shapes (the compiled path)."""
        return self.forward is not self.model

    def compile_label(self) -> str:
        """``reduce-overhead``, ``off`` or ``eager (fallback: <error>)``."""
        if self.fallback is not None:
            return f"eager (fallback: {self.fallback})"
        return self.compile_mode or "off"

    def provenance(self) -> dict:
        """The decisions this run took: precision, compile mode, micro-batch."""
        return {
            "precision": PRECISION_LABELS[self.precision],
            "precision_requested": self.precision_requested,
            "compile": self.compile_label(),
            "compile_reason": self.compile_reason,
            "micro_batch": self.micro.record(),
        }

    def state_dict(self) -> dict:
        """What a checkpoint keeps so that a resumed run takes the same decisions."""
        return {
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "micro": {"size": self.micro.size, "requested": self.micro.requested,
                      "splits": self.micro.splits},
            "fallback": self.fallback,
        }

    def load_state_dict(self, state: dict | None) -> None:
        if not state:
            return
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        micro = state.get("micro") or {}
        if micro:
            self.micro = MicroBatch("train", int(micro["size"]), int(micro["requested"]),
                                    list(micro.get("splits") or []))
        if state.get("fallback"):
            self._go_eager(state["fallback"], log_it=False)

    # -- the work
    def window(self, plan: Sequence[tuple[int, np.ndarray]], indices: Sequence[int],
               n_batches: int) -> tuple[torch.Tensor, int]:
        """Forward and backward of the planned batches ``indices`` (one accumulation window).

        Returns the summed per-row loss (a device tensor) and the number of real rows. On an
        out-of-memory error the micro-batch is halved and on a first-step compile error (under
        ``compile: auto``) the run goes eager; either way the window runs again from its start
        with no gradient of the failed attempt kept.
        """
        while True:
            try:
                total = torch.zeros((), device=self.device)
                rows_done = 0
                for i in indices:
                    loss, n = self._batch(plan[i], i, n_batches)
                    total += loss
                    rows_done += n
                return total, rows_done
            except Exception as err:  # re-raised unless _recover handles it
                self.optimizer.zero_grad(set_to_none=True)
                if not self._recover(err, f"batch {indices[0] + 1} of {n_batches}"):
                    raise

    def _recover(self, err: BaseException, at: str) -> bool:
        """After a failed attempt at a window: whether to run it again, and how.

        Out of memory: the micro-batch is halved (an error at micro-batch 1). A compile error on
        a shape's first compiled step under ``compile: auto``: the run goes eager. Anything else
        is not handled (``False``).
        """
        if is_out_of_memory(err):
            self.micro.halve(err, at, "use a shorter max_length, a smaller model or a card with "
                                      "more memory")
            return True
        if self._may_fall_back(err):
            self._go_eager(f"{type(err).__name__}: {_first_line(err)}")
            return True
        return False

    def _batch(self, planned: tuple[int, np.ndarray], i: int, n_batches: int):
        t, rows = planned
        enc = self.encoded[t]
        if self.static:
            length = self.buckets[int(self.bucket_ids[t][rows[0]])]
        else:
            length = int(enc.lengths[rows].max())
        scale = self.loss_weights[t] / (
            len(rows) * accumulation_size(i, n_batches, self.params.grad_accum))
        total = torch.zeros((), device=self.device)
        for part in split_rows(rows, self.micro.size):
            self._shape = (t, length, self.micro.size)
            batch = pad_batch(enc, part, length, self.pad_id,
                              self.micro.size if self.static else None)
            y = np.zeros(len(batch["weight"]), dtype=np.int64)
            y[: len(part)] = self.labels[t][part]
            x = {k: torch.from_numpy(v).to(self.device, non_blocking=True)
                 for k, v in batch.items() if k != "weight"}
            w = torch.from_numpy(batch["weight"]).to(self.device, non_blocking=True)
            target = torch.from_numpy(y).to(self.device, non_blocking=True)
            if self.static and self.device.type == "cuda":
                torch.compiler.cudagraph_mark_step_begin()
            with self._autocast():
                logits = self.forward(self.names[t], **x)
            row_loss = F.cross_entropy(logits.float(), target, reduction="none") * w
            loss = row_loss.sum() * scale
            (self.scaler.scale(loss) if self.scaler is not None else loss).backward()
            total += row_loss.detach().sum()
            if self.static:
                self.ok_shapes.add(self._shape)
        return total, len(rows)

    def inputs(self, t: int, rows: np.ndarray) -> dict[str, torch.Tensor]:
        """Task ``t``'s ``rows`` on the device, padded to their longest row, with ``labels``.

        The model's keyword inputs plus ``weight`` (1 per row) and ``labels``: what a
        ``step_hook`` reads (:class:`pvigroup.engine.types.StepView`).
        """
        enc = self.encoded[t]
        arrays = pad_batch(enc, rows, int(enc.lengths[rows].max()), self.pad_id)
        out = {k: torch.from_numpy(v).to(self.device) for k, v in arrays.items()}
        out["labels"] = torch.from_numpy(self.labels[t][rows]).to(self.device)
        return out

    def update(self) -> None:
        """Clip, optimizer and schedule step, zero the gradients (with the scaler under fp16)."""
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        if self.params.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.params.max_grad_norm)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)

    # -- helpers
    def _autocast(self):
        if self.amp is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp)

    def _may_fall_back(self, err: BaseException) -> bool:
        """A compile error under ``compile: auto`` on a shape not yet run compiled."""
        if not (self.compile_auto and self.static):
            return False
        return self._shape not in self.ok_shapes

    def _go_eager(self, cause: str, log_it: bool = True) -> None:
        self.fallback = cause
        self.forward = self.model
        if log_it:
            log.warning("torch.compile failed (%s); continuing eager (uncompiled) for the rest "
                        "of the run: set engine.compile: off to skip the attempt", cause)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return (text.splitlines()[0] if text else "")[:300]
