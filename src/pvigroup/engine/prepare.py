"""What a training run is before its first step: checked tasks, a fingerprint, the optimizer."""

from __future__ import annotations

import hashlib
import json

import torch

from pvigroup.engine.encode import validate_frame
from pvigroup.engine.schedule import lr_factor, warmup_steps
from pvigroup.engine.types import TaskData, TrainParams
from pvigroup.errors import PvigroupError
from pvigroup.io import fingerprint_frame


def check_tasks(tasks: list[TaskData], params: TrainParams, null_input: bool) -> None:
    """Validate the task list and every frame; raise ``PvigroupError`` naming task and row."""
    if not tasks:
        raise PvigroupError("no task to train on")
    seen: set[str] = set()
    for task in tasks:
        if task.name in seen:
            raise PvigroupError(f"task {task.name!r} is given twice")
        seen.add(task.name)
        if not task.labels:
            raise PvigroupError(f"task {task.name!r}: empty label list")
        if task.train is None or len(task.train) == 0:
            raise PvigroupError(f"task {task.name!r}: empty train set")
        validate_frame(task.name, task.train, len(task.labels), "train", text=not null_input)
        if task.dev is not None and len(task.dev):
            validate_frame(task.name, task.dev, len(task.labels), "dev", text=not null_input)
        elif params.select_on_dev:
            raise PvigroupError(f"task {task.name!r}: select_on_dev needs a dev set")
    if params.sampler == "every-task" and params.grad_accum != len(tasks):
        raise PvigroupError(f"train params: sampler every-task steps once per round of the "
                            f"{len(tasks)} tasks, so grad_accum must be {len(tasks)}, "
                            f"got {params.grad_accum}")
    for key in params.loss_weights or {}:
        if key not in seen:
            raise PvigroupError(f"train params: loss_weights names unknown task {key!r}")


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """AdamW groups: decay on matrices, none on biases and LayerNorm weights (1-d tensors)."""
    decay, no_decay = [], []
    for _, p in model.named_parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def run_fingerprint(
    pretrained: str, tasks: list[TaskData], params: TrainParams, null_input: bool
) -> str:
    """sha256 of everything that determines the trained weights (a checkpoint must match it)."""
    desc = {
        "pretrained": str(pretrained),
        "params": params.as_dict(),
        "null_input": bool(null_input),
        "tasks": [
            {
                "name": t.name,
                "labels": list(t.labels),
                "train": fingerprint_frame(t.train),
                "dev": fingerprint_frame(t.dev) if t.dev is not None else None,
            }
            for t in tasks
        ],
    }
    return hashlib.sha256(json.dumps(desc, sort_keys=True, default=str).encode()).hexdigest()


def make_optimizer(model: torch.nn.Module, params: TrainParams, total_steps: int):
    """AdamW (fused: one kernel per parameter group) and the linear warm-up/decay schedule."""
    optimizer = torch.optim.AdamW(
        param_groups(model, params.weight_decay),
        lr=params.lr,
        fused=True,  # one kernel per parameter group; elementwise, so deterministic on CPU too
    )
    warm = warmup_steps(total_steps, params.warmup_ratio)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, total_steps, warm)
    )
    return optimizer, scheduler
