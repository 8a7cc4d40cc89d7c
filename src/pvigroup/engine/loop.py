"""The training loop shared by g', g, STL and MTL, with resumable checkpoints.

The order follows one read from top to bottom: check inputs → seed → model and tokenisation →
length buckets and the epoch plan → AdamW (no decay on biases and norms) and the linear schedule
→ resume → loop (one task per batch, gradient accumulation, per-epoch dev read-out) → save.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from pvigroup import __version__
from pvigroup.engine.encode import encode_frame, pad_batch, validate_frame
from pvigroup.engine.metrics import classification_metrics
from pvigroup.engine.model import MultiTaskModel, build_model, save_model
from pvigroup.engine.provenance import engine_provenance, model_revision
from pvigroup.engine.memory import MicroBatch
from pvigroup.engine.readout import logprobs_encoded
from pvigroup.engine.schedule import (
    assign_buckets,
    effective_buckets,
    epoch_plan,
    is_update_step,
    lr_factor,
    steps_per_epoch,
    stream_id,
    warmup_steps,
)
from pvigroup.engine.steps import Stepper
from pvigroup.engine.types import EngineOptions, TaskData, TrainParams, TrainResult
from pvigroup.errors import PvigroupError
from pvigroup.io import fingerprint_frame

log = logging.getLogger(__name__)

PREEMPTED_STATUS = 143  # 128 + SIGTERM, what Slurm and shells expect of a terminated job
LOG_EVERY = 50  # micro-batches between host syncs for the progress bar


def default_resume_dir(out_dir: str | Path) -> Path:
    """``<out_dir>.resume/``: beside the output, which Snakemake deletes when a job fails."""
    out_dir = Path(out_dir)
    return out_dir.with_name(out_dir.name + ".resume")


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
    for key in params.loss_weights or {}:
        if key not in seen:
            raise PvigroupError(f"train params: loss_weights names unknown task {key!r}")


def is_new_best(score: float | None, best: float | None, epoch: int, params: TrainParams) -> bool:
    """Whether the 1-based ``epoch`` with dev ``score`` replaces the kept ``best`` epoch.

    Only an epoch that ``params.select_epochs`` allows (any, when ``None``) and that has a score
    can be kept; a later epoch must beat the kept score strictly (ties keep the earlier epoch).
    """
    if score is None or math.isnan(score) or not params.may_keep(epoch):
        return False
    return best is None or score > best


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


@dataclass
class _Progress:
    """Where training stands; all of it goes into a checkpoint."""

    epoch: int = 0  # 0-based epoch to run next (or running)
    batch: int = 0  # micro-batches of that epoch already done
    global_step: int = 0  # optimizer steps done
    loss_sum: float = 0.0  # this epoch's summed per-row loss so far
    n_seen: int = 0  # this epoch's real rows so far
    seconds: float = 0.0  # this epoch's training time so far
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_score: float | None = None


class _Terminate:
    """Turns SIGTERM into a flag the loop checks after each optimizer step."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum, frame):
        log.warning("SIGTERM received: finishing the current step, then writing a checkpoint")
        self.requested = True

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)


def _save_checkpoint(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def window_end(start: int, n_batches: int, grad_accum: int) -> int:
    """One past the last batch of the accumulation window that begins at batch ``start``."""
    end = start
    while not is_update_step(end, n_batches, grad_accum):
        end += 1
    return end + 1


def train(
    pretrained: str,
    tasks: list[TaskData],
    params: TrainParams,
    out_dir,
    *,
    null_input: bool = False,
    options: EngineOptions = EngineOptions(),  # noqa: B008 - frozen, immutable default
    resume_dir=None,
    step_callback: Callable[[int, int], None] | None = None,
) -> TrainResult:
    """Fine-tune one shared encoder with one head per task and save it to ``out_dir``.

    One task gives g' (``null_input=False``), g (``null_input=True``) or an STL model; several
    tasks give an MTL model (hard parameter sharing, each batch from one task).

    Parameters
    ----------
    pretrained : str
        Hub id or local directory of the encoder (and its tokenizer).
    tasks : list of TaskData
        Distinct task names; label ids in ``[0, len(labels))``; non-empty train sets.
    params : TrainParams
    out_dir : path
        The model directory to write (engine format, see :mod:`pvigroup.engine.model`).
    null_input : bool
        Replace every input by the empty input (the null model g); stored in meta.json.
    options : EngineOptions
    resume_dir : path, optional
        Where checkpoints go (default ``<out_dir>.resume/``); a run with the same arguments
        resumes from the checkpoint there; the directory is removed when training completes.
    step_callback : callable, optional
        Called as ``step_callback(epoch, global_step)`` after every optimizer step.

    Returns
    -------
    TrainResult

    Raises
    ------
    PvigroupError
        Invalid tasks or params (the message names the task, row id or key).
    SystemExit
        Status 143 after SIGTERM, once a checkpoint recording the position in the epoch is written.
    """
    params.check()
    check_tasks(tasks, params, null_input)
    out_dir = Path(out_dir)
    resume_dir = Path(resume_dir) if resume_dir is not None else default_resume_dir(out_dir)
    ckpt_path = resume_dir / "checkpoint.pt"
    device = options.resolve_device()
    if options.threads > 0:
        torch.set_num_threads(options.threads)
    info = options.device_info(device)
    fingerprint = run_fingerprint(pretrained, tasks, params, null_input)
    names = [t.name for t in tasks]

    # -- seed, model, tokenisation
    torch.manual_seed(params.seed)
    model = build_model(
        pretrained, {t.name: t.labels for t in tasks}, params.max_length, null_input,
        head=params.head,
    )
    model.to(device)
    tok = model.tokenizer
    pad_id = tok.pad_token_id or 0
    train_enc = [encode_frame(tok, t.train, params.max_length, null_input) for t in tasks]
    train_y = [t.train["label"].to_numpy(dtype=np.int64) for t in tasks]
    dev_enc = [
        encode_frame(tok, t.dev, params.max_length, null_input)
        if t.dev is not None and len(t.dev)
        else None
        for t in tasks
    ]
    loss_w = [float((params.loss_weights or {}).get(n, 1.0)) for n in names]

    # -- buckets and plan
    buckets = effective_buckets(options.buckets, params.max_length)
    bucket_ids = [assign_buckets(e.lengths, buckets) for e in train_enc]
    streams = [stream_id(n) for n in names]

    def plan_of(epoch: int) -> list[tuple[int, np.ndarray]]:
        return epoch_plan(
            bucket_ids, params.batch_size, params.seed, epoch, params.sampler,
            params.temperature, streams,
        )  # fmt: skip

    n_batches = len(plan_of(0))
    total_steps = params.epochs * steps_per_epoch(n_batches, params.grad_accum)
    warm = warmup_steps(total_steps, params.warmup_ratio)

    # -- optimizer and schedule
    optimizer = torch.optim.AdamW(
        param_groups(model, params.weight_decay),
        lr=params.lr,
        fused=True,  # one kernel per parameter group; elementwise, so deterministic on CPU too
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, total_steps, warm)
    )

    # -- resume
    prog = _Progress()
    best_state: dict | None = None
    resumed: dict | None = None
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        if ckpt.get("fingerprint") != fingerprint:
            log.warning("%s belongs to another run (arguments differ); starting afresh", ckpt_path)
            shutil.rmtree(resume_dir)
        else:
            model.load_state_dict(ckpt["model"])
            optimizer.load_state_dict(ckpt["optimizer"])
            scheduler.load_state_dict(ckpt["scheduler"])
            prog = _Progress(**ckpt["progress"])
            best_state = ckpt.get("best_state")
            resumed = ckpt
            torch.set_rng_state(ckpt["rng"]["cpu"])
            if device.type == "cuda" and ckpt["rng"].get("cuda") is not None:
                torch.cuda.set_rng_state_all(ckpt["rng"]["cuda"])
            log.info(
                "resuming %s at epoch %d, batch %d/%d",
                out_dir,
                prog.epoch + 1,
                prog.batch,
                n_batches,
            )

    def checkpoint() -> None:
        rng = {"cpu": torch.get_rng_state()}
        rng["cuda"] = torch.cuda.get_rng_state_all() if device.type == "cuda" else None
        _save_checkpoint(
            ckpt_path,
            {
                "fingerprint": fingerprint,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "progress": prog.__dict__,
                "best_state": best_state,
                "rng": rng,
                "engine": stepper.state_dict(),
            },
        )

    # -- the step: precision, compiled forward with its eager fallback, out-of-memory split
    stepper = Stepper(
        model, optimizer, scheduler, device=device, info=info, options=options, params=params,
        encoded=train_enc, labels=train_y, bucket_ids=bucket_ids, buckets=buckets,
        loss_weights=loss_w, names=names, pad_id=pad_id,
    )  # fmt: skip
    readout = MicroBatch("read-out", int(options.eval_batch_size))
    if resumed is not None:
        stepper.load_state_dict(resumed.get("engine"))
    det_before = torch.are_deterministic_algorithms_enabled()
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    show = options.progress and sys.stderr.isatty()
    log.info(
        "training %s on %s: %d task(s), %d batches/epoch, %d epochs, buckets %s, precision %s, "
        "compile %s (%s)",
        out_dir, info.describe(), len(tasks), n_batches, params.epochs, list(buckets),
        stepper.precision, stepper.compile_label(), stepper.compile_reason,
    )  # fmt: skip

    try:
        with _Terminate() as term:
            for epoch in range(prog.epoch, params.epochs):
                plan = plan_of(epoch)
                start = prog.batch if epoch == prog.epoch else 0
                if epoch != prog.epoch:
                    prog.epoch, prog.batch = epoch, 0
                    prog.loss_sum, prog.n_seen, prog.seconds = 0.0, 0, 0.0
                model.train()
                loss_dev = torch.zeros((), device=device)
                t0 = time.perf_counter()
                bar = _bar(show, n_batches, start, epoch, params.epochs)
                i = start
                while i < n_batches:
                    end = window_end(i, n_batches, params.grad_accum)
                    loss, n_rows = stepper.window(plan, range(i, end), n_batches)
                    done_before = i
                    stepper.update()
                    loss_dev += loss
                    prog.n_seen += n_rows
                    prog.batch = i = end
                    prog.global_step += 1
                    if step_callback is not None:
                        step_callback(epoch, prog.global_step)
                    if term.requested and prog.batch < n_batches:
                        prog.loss_sum += float(loss_dev)
                        prog.seconds += time.perf_counter() - t0
                        checkpoint()
                        log.warning(
                            "checkpoint written to %s at epoch %d, batch %d/%d; exiting",
                            ckpt_path, epoch + 1, prog.batch, n_batches,
                        )  # fmt: skip
                        raise SystemExit(PREEMPTED_STATUS)
                    if bar is not None:
                        bar.update(end - done_before)
                        if end // LOG_EVERY != done_before // LOG_EVERY or end == n_batches:
                            elapsed = prog.seconds + time.perf_counter() - t0
                            bar.set_postfix(
                                loss=f"{(prog.loss_sum + float(loss_dev)) / max(1, prog.n_seen):.4f}",
                                samples_s=f"{prog.n_seen / max(elapsed, 1e-9):.1f}",
                            )
                if bar is not None:
                    bar.close()
                prog.loss_sum += float(loss_dev)  # one host sync per epoch
                prog.seconds += time.perf_counter() - t0
                # under select_on_dev, an epoch that may not be kept is not read out on dev
                # (the paper's grid keeps epochs 5..10 only: epochs 1..4 cost no dev pass)
                read_dev = not params.select_on_dev or params.may_keep(epoch + 1)
                entry = _epoch_entry(
                    model, names, tasks, dev_enc if read_dev else [None] * len(tasks),
                    options, epoch, prog, readout,
                )  # fmt: skip
                prog.history.append(entry)
                _log_epoch(entry, params.epochs)
                score = entry["dev_score"]
                if not params.select_on_dev:
                    prog.best_epoch, prog.best_score = epoch + 1, score
                elif is_new_best(score, prog.best_score, epoch + 1, params):
                    prog.best_epoch, prog.best_score = epoch + 1, score
                    best_state = {
                        k: v.detach().cpu().clone() for k, v in model.state_dict().items()
                    }
                prog.epoch, prog.batch = epoch + 1, 0
                prog.loss_sum, prog.n_seen, prog.seconds = 0.0, 0, 0.0
                if epoch + 1 < params.epochs:
                    checkpoint()
                    if term.requested:
                        log.warning(
                            "checkpoint written to %s after epoch %d; exiting", ckpt_path, epoch + 1
                        )
                        raise SystemExit(PREEMPTED_STATUS)
    finally:
        if device.type == "cpu":
            torch.use_deterministic_algorithms(det_before)

    # -- save
    if params.select_on_dev and best_state is not None:
        model.load_state_dict(best_state)
    elif params.select_on_dev and prog.history:
        log.warning(
            "%s: no selectable epoch (%s) has a dev score; keeping the last epoch",
            out_dir, "any" if params.select_epochs is None else sorted(params.select_epochs),
        )  # fmt: skip
        prog.best_epoch = len(prog.history)
    dev_score = prog.history[prog.best_epoch - 1]["dev_score"] if prog.best_epoch else None
    meta = {
        "tasks": {
            t.name: {"labels": list(t.labels), "n_train": len(t.train),
                     "n_dev": 0 if t.dev is None else len(t.dev)}
            for t in tasks
        },
        "max_length": params.max_length,
        "null_input": bool(null_input),
        "pretrained": str(pretrained),
        "params": params.as_dict(),
        "seed": params.seed,
        "history": prog.history,
        "best_epoch": prog.best_epoch,
        "dev_score": dev_score,
        "buckets": list(buckets),
        "fingerprint": fingerprint,
        "provenance": {
            **engine_provenance(options, device,
                                {**stepper.provenance(), "readout_batch": readout.record()}),
            "model_revision": model_revision(pretrained, model.encoder.config),
        },
    }  # fmt: skip
    model.eval()
    save_model(model, out_dir, meta)
    model.meta = {**meta, "pvigroup": __version__}
    if resume_dir.exists():
        shutil.rmtree(resume_dir)
    return TrainResult(out_dir, prog.history, prog.best_epoch, dev_score)


def _bar(show: bool, total: int, initial: int, epoch: int, epochs: int):
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=f"epoch {epoch + 1}/{epochs}", unit="batch")


def _epoch_entry(
    model: MultiTaskModel,
    names,
    tasks,
    dev_enc,
    options: EngineOptions,
    epoch: int,
    prog: _Progress,
    readout: MicroBatch | None = None,
) -> dict:
    dev: dict[str, dict[str, float]] = {}
    for name, task, enc in zip(names, tasks, dev_enc, strict=True):
        if enc is None:
            continue
        preds = logprobs_encoded(model, name, enc, options, micro=readout).argmax(axis=1)
        m = classification_metrics(task.dev["label"].to_numpy(dtype=np.int64), preds, task.labels)
        dev[name] = {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"]}
    scores = [d["macro_f1"] for d in dev.values() if not math.isnan(d["macro_f1"])]
    return {
        "epoch": epoch + 1,
        "loss": prog.loss_sum / max(1, prog.n_seen),
        "samples_per_s": prog.n_seen / max(prog.seconds, 1e-9),
        "dev": dev,
        "dev_score": float(np.mean(scores)) if scores else None,
    }


def _log_epoch(entry: dict, epochs: int) -> None:
    dev = ", ".join(
        f"{t} acc {d['accuracy']:.4f} F1 {d['macro_f1']:.4f}" for t, d in entry["dev"].items()
    )
    log.info(
        "epoch %d/%d: loss %.4f, %.1f samples/s%s",
        entry["epoch"], epochs, entry["loss"], entry["samples_per_s"], f"; dev: {dev}" if dev else "",
    )  # fmt: skip
