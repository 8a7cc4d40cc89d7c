"""Resumable training: where a run stands, its checkpoint, and SIGTERM as a clean exit.

A checkpoint holds the model, the optimizer, the schedule, the :class:`Progress` (epoch, batch
within the epoch, the epoch's running loss, the history, the kept epoch), the weights of the kept
epoch, the RNG states and the :class:`pvigroup.engine.steps.Stepper`'s decisions (scaler,
micro-batch, compile fallback). It belongs to one run, named by its fingerprint: a checkpoint of
another run is removed and training starts afresh.

On SIGTERM (Slurm's preemption and time limit) :class:`Terminate` sets a flag that the loop reads
after each optimizer step; :meth:`Checkpoints.preempt` then writes the checkpoint and exits with
:data:`PREEMPTED_STATUS`. A run with the same arguments resumes at the same batch of the epoch.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path

import torch

log = logging.getLogger(__name__)

PREEMPTED_STATUS = 143  # 128 + SIGTERM, what Slurm and shells expect of a terminated job


def default_resume_dir(out_dir: str | Path) -> Path:
    """``<out_dir>.resume/``: beside the output, which Snakemake deletes when a job fails."""
    out_dir = Path(out_dir)
    return out_dir.with_name(out_dir.name + ".resume")


@dataclass
class Progress:
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

    def start_epoch(self, epoch: int) -> None:
        """Move to ``epoch`` at its first batch, with the epoch's running sums at zero."""
        self.epoch, self.batch = epoch, 0
        self.loss_sum, self.n_seen, self.seconds = 0.0, 0, 0.0


class Terminate:
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


def save_checkpoint(path: Path, payload: dict) -> None:
    """Write ``payload`` to ``path`` atomically (a temporary file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


class Checkpoints:
    """The checkpoint of one run in ``resume_dir``: restore it, write it, exit on SIGTERM.

    Parameters
    ----------
    resume_dir : Path
        Holds ``checkpoint.pt``; removed by :meth:`clear` when training completes.
    fingerprint : str
        :func:`pvigroup.engine.loop.run_fingerprint` of the run; a checkpoint must match it.
    model, optimizer, scheduler, stepper
        What is saved and restored besides the progress.
    device : torch.device
        The CUDA RNG state is kept on CUDA only.
    """

    def __init__(self, resume_dir: Path, fingerprint: str, model, optimizer, scheduler, stepper,
                 device: torch.device):
        self.resume_dir = Path(resume_dir)
        self.path = self.resume_dir / "checkpoint.pt"
        self.fingerprint = fingerprint
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.stepper, self.device = stepper, device

    def restore(self) -> tuple[Progress, dict | None, bool]:
        """``(progress, best_state, resumed)``: from this run's checkpoint, or a fresh start.

        Loads the model, optimizer, schedule, RNG states and the stepper's decisions in place. A
        checkpoint of another run (another fingerprint) is removed with a WARNING.
        """
        if not self.path.exists():
            return Progress(), None, False
        ckpt = torch.load(self.path, map_location="cpu", weights_only=True)
        if ckpt.get("fingerprint") != self.fingerprint:
            log.warning("%s belongs to another run (arguments differ); starting afresh", self.path)
            shutil.rmtree(self.resume_dir)
            return Progress(), None, False
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        torch.set_rng_state(ckpt["rng"]["cpu"])
        if self.device.type == "cuda" and ckpt["rng"].get("cuda") is not None:
            torch.cuda.set_rng_state_all(ckpt["rng"]["cuda"])
        self.stepper.load_state_dict(ckpt.get("engine"))
        return Progress(**ckpt["progress"]), ckpt.get("best_state"), True

    def save(self, prog: Progress, best_state: dict | None) -> None:
        """Write the checkpoint of the run as it stands."""
        rng = {"cpu": torch.get_rng_state()}
        rng["cuda"] = torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None
        save_checkpoint(
            self.path,
            {
                "fingerprint": self.fingerprint,
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "progress": prog.__dict__,
                "best_state": best_state,
                "rng": rng,
                "engine": self.stepper.state_dict(),
            },
        )

    def preempt(self, prog: Progress, best_state: dict | None, where: str):
        """Write the checkpoint and exit with status 143 (``where``: the position, for the log)."""
        self.save(prog, best_state)
        self.exit(where)

    def exit(self, where: str):
        """Exit with status 143 once the checkpoint at ``where`` is written."""
        log.warning("checkpoint written to %s %s; exiting", self.path, where)
        raise SystemExit(PREEMPTED_STATUS)

    def clear(self) -> None:
        """Remove the resume directory (training completed)."""
        if self.resume_dir.exists():
            shutil.rmtree(self.resume_dir)
