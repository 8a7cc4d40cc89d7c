"""The engine's parameter and data types."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch

from pvigroup.engine.heads import HEADS
from pvigroup.engine.schedule import SAMPLERS
from pvigroup.errors import PvigroupError


@dataclass(frozen=True)
class TrainParams:
    """Hyperparameters of one training run (g', g, STL or MTL).

    Attributes
    ----------
    epochs, batch_size, lr, max_length
        Passes over the data, micro-batch size, peak learning rate, tokenisation limit.
    grad_accum
        The optimizer steps every ``grad_accum`` micro-batches and at the epoch's last one.
    warmup_ratio
        Fraction of optimizer steps of linear warm-up, then linear decay to 0.
    weight_decay
        AdamW decay (never on biases and LayerNorm weights).
    seed
        Seeds initialisation, dropout and the batch order of every epoch.
    sampler, temperature
        MTL task sampler: ``proportional`` (every batch once per epoch), ``temperature``
        (p_i ∝ n_i^(1/T)), ``uniform``, or ``every-task`` (rounds of one batch of every task,
        :func:`pvigroup.engine.schedule.round_plan`; needs ``grad_accum`` = the number of tasks,
        so that each round is one optimizer step).
    loss_weights
        Per-task loss weight (default 1).
    select_on_dev
        Keep the epoch with the best mean dev macro-F1 (else the last epoch).
    select_epochs
        With ``select_on_dev``, the (1-based) epochs that may be kept; ``None``: any of
        ``1..epochs``. The dev score is still read out after every epoch, but an epoch outside
        this set never replaces the kept weights (a grid of epochs {5..10} never keeps epoch 2).
    max_grad_norm
        Clip the global gradient norm to this value before each optimizer step (as
        ``transformers.Trainer`` does, default 1.0 there); 0 turns clipping off.
    head
        ``cnlp`` (dropout → dense → tanh → dropout → linear on the first token, new layers) or
        ``hf`` (as ``AutoModelForSequenceClassification`` builds it: BERT's pretrained pooler →
        dropout → linear; RoBERTa's classification head); see :mod:`pvigroup.engine.heads`.
    """

    epochs: int = 10
    batch_size: int = 32
    lr: float = 2e-5
    max_length: int = 128
    grad_accum: int = 1
    warmup_ratio: float = 0.0
    weight_decay: float = 0.0
    seed: int = 42
    sampler: str = "proportional"
    temperature: float = 2.0
    loss_weights: Mapping[str, float] | None = None
    select_on_dev: bool = False
    select_epochs: tuple[int, ...] | None = None
    max_grad_norm: float = 0.0
    head: str = "cnlp"

    def check(self) -> None:
        """Raise ``PvigroupError`` naming the first invalid field."""
        ints = {"epochs": 1, "batch_size": 1, "max_length": 2, "grad_accum": 1}
        for key, low in ints.items():
            value = getattr(self, key)
            if not isinstance(value, int) or value < low:
                raise PvigroupError(
                    f"train params: {key} must be an integer >= {low}, got {value!r}"
                )
        if not self.lr > 0:
            raise PvigroupError(f"train params: lr must be > 0, got {self.lr!r}")
        if not 0 <= self.warmup_ratio < 1:
            raise PvigroupError(
                f"train params: warmup_ratio must be in [0, 1), got {self.warmup_ratio!r}"
            )
        if self.weight_decay < 0 or self.max_grad_norm < 0:
            raise PvigroupError("train params: weight_decay and max_grad_norm must be >= 0")
        if self.head not in HEADS:
            raise PvigroupError(
                f"train params: head {self.head!r} is not one of {', '.join(HEADS)}"
            )
        if self.sampler not in SAMPLERS:
            raise PvigroupError(
                f"train params: sampler {self.sampler!r} is not one of {', '.join(SAMPLERS)}"
            )
        if not self.temperature > 0:
            raise PvigroupError(f"train params: temperature must be > 0, got {self.temperature!r}")
        if self.select_epochs is not None:
            if not self.select_on_dev:
                raise PvigroupError("train params: select_epochs needs select_on_dev=True")
            values = list(self.select_epochs)
            bad = [e for e in values if not isinstance(e, int) or not 1 <= e <= self.epochs]
            if not values or bad:
                raise PvigroupError(
                    f"train params: select_epochs must be a non-empty list of epochs in "
                    f"1..{self.epochs} (epochs), got {values!r}"
                )

    def may_keep(self, epoch: int) -> bool:
        """Whether the 1-based ``epoch`` may be kept as the best dev epoch."""
        return self.select_epochs is None or epoch in self.select_epochs

    def as_dict(self) -> dict:
        """JSON-ready copy (``loss_weights`` as a plain dict)."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["loss_weights"] = dict(self.loss_weights) if self.loss_weights else None
        if self.select_epochs is not None:
            out["select_epochs"] = sorted(set(self.select_epochs))
        return out


@dataclass(frozen=True)
class EngineOptions:
    """How to run (never what to learn): device, precision, compilation, batching of read-out.

    Attributes
    ----------
    device
        ``auto`` (CUDA when available), ``cpu`` or ``cuda``.
    precision
        ``auto`` (bf16 autocast on cards with native bf16, sm_80 and newer; fp16 autocast with a
        gradient scaler on sm_70-sm_75; fp32 on older cards and the CPU), ``fp32``, ``bf16`` or
        ``fp16`` (see :mod:`pvigroup.engine.device`).
    compile
        ``auto`` (``reduce-overhead`` on CUDA sm_70+ with Triton importable, else off; a
        compilation that fails continues eager with a warning), ``off`` or ``reduce-overhead``
        (``torch.compile`` with CUDA graphs, one static shape per length bucket; fails loudly).
    buckets
        Padded lengths of training batches; capped by ``max_length``, which is always one.
    eval_batch_size
        Rows per read-out batch.
    threads
        ``torch.set_num_threads`` when > 0.
    progress
        Show a tqdm bar (only on a terminal).
    """

    device: str = "auto"
    precision: str = "auto"
    compile: str = "auto"
    buckets: tuple[int, ...] = (32, 64, 128, 256, 512)
    eval_batch_size: int = 256
    threads: int = 0
    progress: bool = True

    def resolve_device(self) -> torch.device:
        """The torch device these options select."""
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if self.device not in ("cpu", "cuda"):
            raise PvigroupError(f"engine options: device {self.device!r} is not auto, cpu or cuda")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise PvigroupError(
                "engine options: device 'cuda' asked for, but no CUDA device is visible"
            )
        return torch.device(self.device)

    def device_info(self, device: torch.device):
        """The :class:`~pvigroup.engine.device.DeviceInfo` of ``device`` (card, capability)."""
        from pvigroup.engine.device import probe

        return probe(device)

    def precision_for(self, device: torch.device, info=None) -> str:
        """``fp32``, ``bf16`` or ``fp16`` on ``device`` (:func:`~pvigroup.engine.device.choose_precision`)."""
        from pvigroup.engine.device import choose_precision

        return choose_precision(self.precision, info or self.device_info(device))

    def autocast_dtype(self, device: torch.device, info=None) -> torch.dtype | None:
        """The autocast dtype (None for plain fp32)."""
        from pvigroup.engine.device import AUTOCAST

        return AUTOCAST[self.precision_for(device, info)]

    def compile_mode(self, device: torch.device, info=None) -> str | None:
        """The ``torch.compile`` mode, or None when compilation is off."""
        return self.compile_decision(device, info)[0]

    def compile_decision(self, device: torch.device, info=None) -> tuple[str | None, str]:
        """``(mode, reason)`` (:func:`~pvigroup.engine.device.choose_compile`)."""
        from pvigroup.engine.device import choose_compile

        return choose_compile(self.compile, info or self.device_info(device))


@dataclass
class TaskData:
    """One task's training (and optional dev) rows.

    ``train`` and ``dev`` have columns ``id``, ``text``, ``text_pair`` (str, or None/NaN for
    single-text rows; the column may be absent) and ``label`` (int index into ``labels``).
    """

    name: str
    labels: list[str]
    train: pd.DataFrame
    dev: pd.DataFrame | None = None


@dataclass(frozen=True)
class StepView:
    """What ``train``'s ``step_hook`` is given before each optimizer step.

    The hook runs before the step's forward and backward passes, so ``model`` holds the weights
    the step starts from; it must leave the model's parameters, gradients, mode and the RNG as
    it found them (the TAG lookahead, :mod:`pvigroup.baselines.tag`, reads losses only).

    Attributes
    ----------
    epoch, step
        0-based epoch and 0-based index of the optimizer step about to run.
    total_steps, steps_per_epoch
        Optimizer steps of the run and of one epoch.
    model
        The ``MultiTaskModel`` on its device (not the compiled wrapper), in ``train()`` mode.
    batches
        The step's planned batches: ``(task name, row indices into its train frame)``.
    inputs
        ``inputs(i)``: batch ``i`` as device tensors padded to its longest row, the model's
        keyword inputs plus ``labels`` and ``weight`` (1 for every row).
    """

    epoch: int
    step: int
    total_steps: int
    steps_per_epoch: int
    model: torch.nn.Module
    batches: tuple
    inputs: Callable[[int], dict]


@dataclass
class TrainResult:
    """What ``train`` returns: the model dir and the per-epoch history."""

    out_dir: Path
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    dev_score: float | None = None
