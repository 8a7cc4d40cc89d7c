"""The training loop shared by g', g, STL and MTL, with resumable checkpoints.

:func:`train` reads from top to bottom: check inputs → seed → model and tokenisation → length
buckets and the epoch plan → AdamW (no decay on biases and norms) and the linear schedule → the
step (:class:`~pvigroup.engine.steps.Stepper`: precision, compilation, out-of-memory split) →
resume (:mod:`pvigroup.engine.checkpoint`) → epochs (one task per batch, gradient accumulation,
SIGTERM → checkpoint → exit 143, per-epoch dev read-out, the kept epoch) → save.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from pvigroup import __version__
from pvigroup.engine.checkpoint import (
    PREEMPTED_STATUS,
    Checkpoints,
    Progress,
    Terminate,
    default_resume_dir,
)
from pvigroup.engine.encode import encode_frame
from pvigroup.engine.memory import MicroBatch
from pvigroup.engine.metrics import classification_metrics
from pvigroup.engine.model import MultiTaskModel, build_model, save_model
from pvigroup.engine.prepare import check_tasks, make_optimizer, param_groups, run_fingerprint
from pvigroup.engine.provenance import engine_provenance, model_revision
from pvigroup.engine.readout import logprobs_encoded
from pvigroup.engine.schedule import (
    assign_buckets,
    effective_buckets,
    epoch_plan,
    is_update_step,
    steps_per_epoch,
    stream_id,
)
from pvigroup.engine.steps import Stepper
from pvigroup.engine.types import EngineOptions, StepView, TaskData, TrainParams, TrainResult

log = logging.getLogger(__name__)

LOG_EVERY = 50  # micro-batches between host syncs for the progress bar

__all__ = ["PREEMPTED_STATUS", "check_tasks", "default_resume_dir", "is_new_best",
           "param_groups", "run_fingerprint", "train", "window_end"]


def is_new_best(score: float | None, best: float | None, epoch: int, params: TrainParams) -> bool:
    """Whether the 1-based ``epoch`` with dev ``score`` replaces the kept ``best`` epoch.

    Only an epoch that ``params.select_epochs`` allows (any, when ``None``) and that has a score
    can be kept; a later epoch must beat the kept score strictly (ties keep the earlier epoch).
    """
    if score is None or math.isnan(score) or not params.may_keep(epoch):
        return False
    return best is None or score > best


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
    step_hook: Callable[[StepView], None] | None = None,
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
    step_hook : callable, optional
        Called as ``step_hook(view)`` before every optimizer step's forward pass, with a
        :class:`~pvigroup.engine.types.StepView` (the model and the step's batches); TAG's
        lookahead records through it.

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
    )  # fmt: skip
    model.to(device)
    tok = model.tokenizer
    train_enc = [encode_frame(tok, t.train, params.max_length, null_input) for t in tasks]
    dev_enc = [
        encode_frame(tok, t.dev, params.max_length, null_input)
        if t.dev is not None and len(t.dev)
        else None
        for t in tasks
    ]

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

    # -- optimizer and schedule; the step: precision, compiled forward, out-of-memory split
    optimizer, scheduler = make_optimizer(model, params, total_steps)
    stepper = Stepper(
        model, optimizer, scheduler, device=device, info=info, options=options, params=params,
        encoded=train_enc, labels=[t.train["label"].to_numpy(dtype=np.int64) for t in tasks],
        bucket_ids=bucket_ids, buckets=buckets,
        loss_weights=[float((params.loss_weights or {}).get(n, 1.0)) for n in names],
        names=names, pad_id=tok.pad_token_id or 0,
    )  # fmt: skip
    readout = MicroBatch("read-out", int(options.eval_batch_size))

    # -- resume
    ckpts = Checkpoints(resume_dir, fingerprint, model, optimizer, scheduler, stepper, device)
    prog, best_state, resumed = ckpts.restore()
    if resumed:
        log.info("resuming %s at epoch %d, batch %d/%d", out_dir, prog.epoch + 1, prog.batch,
                 n_batches)
    log.info(
        "training %s on %s: %d task(s), %d batches/epoch, %d epochs, buckets %s, precision %s, "
        "compile %s (%s)",
        out_dir, info.describe(), len(tasks), n_batches, params.epochs, list(buckets),
        stepper.precision, stepper.compile_label(), stepper.compile_reason,
    )  # fmt: skip

    # -- epochs
    show = options.progress and sys.stderr.isatty()
    with _deterministic_on_cpu(device), Terminate() as term:
        for epoch in range(prog.epoch, params.epochs):
            if epoch != prog.epoch:
                prog.start_epoch(epoch)
            bar = _bar(show, n_batches, prog.batch, epoch, params.epochs)
            model.train()
            _run_epoch(stepper, plan_of(epoch), prog, epoch, params, n_batches, bar=bar, term=term,
                       ckpts=ckpts, best_state=best_state, step_callback=step_callback,
                       step_hook=step_hook, total_steps=total_steps)
            # under select_on_dev, an epoch that may not be kept is not read out on dev
            # (the paper's grid keeps epochs 5..10 only: epochs 1..4 cost no dev pass)
            read_dev = not params.select_on_dev or params.may_keep(epoch + 1)
            entry = _epoch_entry(
                model, names, tasks, dev_enc if read_dev else [None] * len(tasks),
                options, epoch, prog, readout,
            )  # fmt: skip
            best_state = _keep_epoch(entry, epoch, prog, params, model, best_state)
            prog.start_epoch(epoch + 1)
            if epoch + 1 < params.epochs:
                ckpts.save(prog, best_state)
                if term.requested:
                    ckpts.exit(f"after epoch {epoch + 1}")

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
    ckpts.clear()
    return TrainResult(out_dir, prog.history, prog.best_epoch, dev_score)


# --------------------------------------------------------------------------- the parts of train
@contextlib.contextmanager
def _deterministic_on_cpu(device: torch.device):
    """Deterministic algorithms while training on the CPU; the previous setting restored."""
    before = torch.are_deterministic_algorithms_enabled()
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        if device.type == "cpu":
            torch.use_deterministic_algorithms(before)


def _run_epoch(stepper: Stepper, plan, prog: Progress, epoch: int, params: TrainParams,
               n_batches: int, *, bar, term: Terminate, ckpts: Checkpoints,
               best_state: dict | None, step_callback, step_hook=None,
               total_steps: int = 0) -> None:
    """The optimizer steps of one epoch from batch ``prog.batch`` on, ``prog`` kept current.

    Before each step: ``step_hook(view)`` (:func:`_view`). After each step: ``step_callback(epoch, global_step)``, then, on SIGTERM, a checkpoint at
    the position in the epoch and exit 143 (:meth:`Checkpoints.preempt`).
    """
    loss_dev = torch.zeros((), device=stepper.device)
    t0 = time.perf_counter()
    i = prog.batch
    while i < n_batches:
        end = window_end(i, n_batches, params.grad_accum)
        if step_hook is not None:
            step_hook(_view(stepper, plan, range(i, end), epoch, prog, total_steps,
                            params.epochs))
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
            _add_running(prog, loss_dev, t0)
            ckpts.preempt(prog, best_state, f"at epoch {epoch + 1}, batch {prog.batch}/{n_batches}")
        if bar is not None:
            _show(bar, prog, loss_dev, t0, done_before, end, n_batches)
    if bar is not None:
        bar.close()
    _add_running(prog, loss_dev, t0)  # one host sync per epoch


def _view(stepper: Stepper, plan, window: range, epoch: int, prog: Progress, total_steps: int,
          epochs: int) -> StepView:
    """The :class:`StepView` of the optimizer step that runs the planned batches ``window``."""
    planned = [plan[i] for i in window]
    return StepView(
        epoch=epoch, step=prog.global_step, total_steps=total_steps,
        steps_per_epoch=total_steps // epochs, model=stepper.model,
        batches=tuple((stepper.names[t], rows) for t, rows in planned),
        inputs=lambda i: stepper.inputs(*planned[i]),
    )  # fmt: skip


def _add_running(prog: Progress, loss_dev: torch.Tensor, t0: float) -> None:
    """Add the epoch's running loss (a device tensor: one host sync) and time to ``prog``."""
    prog.loss_sum += float(loss_dev)
    prog.seconds += time.perf_counter() - t0


def _keep_epoch(entry: dict, epoch: int, prog: Progress, params: TrainParams,
                model: MultiTaskModel, best_state: dict | None) -> dict | None:
    """Record the finished ``epoch`` (0-based) and return the weights kept so far.

    Without ``select_on_dev`` the last epoch is the kept one (its weights are the model's own);
    with it, an epoch that beats the kept one (:func:`is_new_best`) replaces its weights.
    """
    prog.history.append(entry)
    _log_epoch(entry, params.epochs)
    score = entry["dev_score"]
    if not params.select_on_dev:
        prog.best_epoch, prog.best_score = epoch + 1, score
    elif is_new_best(score, prog.best_score, epoch + 1, params):
        prog.best_epoch, prog.best_score = epoch + 1, score
        best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return best_state


def _bar(show: bool, total: int, initial: int, epoch: int, epochs: int):
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=f"epoch {epoch + 1}/{epochs}", unit="batch")


def _show(bar, prog: Progress, loss_dev: torch.Tensor, t0: float, done_before: int, end: int,
          n_batches: int) -> None:
    """Advance the progress bar; every ``LOG_EVERY`` batches, its loss and speed (a host sync)."""
    bar.update(end - done_before)
    if end // LOG_EVERY != done_before // LOG_EVERY or end == n_batches:
        elapsed = prog.seconds + time.perf_counter() - t0
        bar.set_postfix(
            loss=f"{(prog.loss_sum + float(loss_dev)) / max(1, prog.n_seen):.4f}",
            samples_s=f"{prog.n_seen / max(elapsed, 1e-9):.1f}",
        )


def _epoch_entry(
    model: MultiTaskModel,
    names,
    tasks,
    dev_enc,
    options: EngineOptions,
    epoch: int,
    prog: Progress,
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
