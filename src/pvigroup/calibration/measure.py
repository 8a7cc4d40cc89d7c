"""``calibrate``: time the configured model on this machine's device, one length bucket at a time.

Each bucket is measured through :func:`pvigroup.engine.train` itself, so the numbers are those of
the precision, compilation and out-of-memory decisions the real jobs get on this card: a
synthetic two-label task whose rows all have the bucket's length (``max_length`` = the bucket,
texts longer than it) is trained for ``warmup_steps + steps`` optimizer steps of the configured
batch size, the time between the step callbacks after the warm-up (compilation, CUDA graph
capture) is the step time, then ``readout_rows`` rows are read out with
:func:`pvigroup.engine.predict_logprobs` (tokenising included, as ``compute_pvi`` does).
"""

from __future__ import annotations

import datetime
import logging
import platform
import resource
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pvigroup import __version__
from pvigroup.errors import PvigroupError
from pvigroup.io import write_json

log = logging.getLogger(__name__)

#: What ``calibrate`` measures unless the config's ``calibrate`` section says otherwise.
DEFAULTS = {"steps": 6, "warmup_steps": 3, "readout_rows": 2048}
WORDS = ("study", "patients", "results", "cells", "effect", "increase", "treatment", "model",
         "reported", "significant", "analysis", "risk", "group", "data", "protein", "level")


def plan(config: Mapping[str, Any], model: str) -> dict[str, Any]:
    """What ``calibrate`` measures for ``model``: buckets, batch size, steps, read-out rows.

    The buckets are every padded length a job can see: the engine's (``engine.buckets``) as
    each ``max_length`` the config trains with caps them (``pvi.train``, task overrides, and
    ``train.grid`` unless ``train.enabled`` is false); the batch size the largest of ``pvi.train.batch_size`` and
    ``train.batch_size`` (the latter only with the training stage on).
    """
    from pvigroup.engine.schedule import effective_buckets

    if model not in (config.get("models") or {}):
        raise PvigroupError(f"model {model!r} is not in config key models")
    pvi_train = (config.get("pvi") or {}).get("train") or {}
    train = config.get("train") or {}
    lengths = [int(pvi_train.get("max_length", 128))]
    for task in (config.get("tasks") or {}).values():
        over = (task or {}).get("overrides") or {}
        if "max_length" in over:
            lengths.append(int(over["max_length"]))
    training = train.get("enabled", True)
    grid_lengths = (train.get("grid") or {}).get("max_length") or [] if training else []
    grid_lengths = grid_lengths if isinstance(grid_lengths, list) else [grid_lengths]
    lengths += [int(v) for v in grid_lengths]
    batch = max(int(pvi_train.get("batch_size", 32)),
                int(train.get("batch_size") or 0) if training else 0)
    settings = {**DEFAULTS, **(config.get("calibrate") or {})}
    buckets = (config.get("engine") or {}).get("buckets", (32, 64, 128, 256, 512))
    return {
        # every padded length a job can see: each job's max_length caps the buckets at itself
        "buckets": sorted({b for n in lengths for b in effective_buckets(buckets, n)}),
        "batch_size": batch,
        "lr": float(pvi_train.get("lr", 2e-5)),
        "steps": int(settings["steps"]),
        "warmup_steps": int(settings["warmup_steps"]),
        "readout_rows": int(settings["readout_rows"]),
    }


def _rows(n: int, length: int, seed: int) -> pd.DataFrame:
    """``n`` rows of text longer than ``length`` tokens (truncation gives exactly ``length``)."""
    rng = np.random.default_rng(seed)
    text = [" ".join(rng.choice(WORDS, size=length + 8)) for _ in range(n)]
    return pd.DataFrame({"id": [f"c{seed}:{i}" for i in range(n)], "text": text,
                         "label": rng.integers(0, 2, size=n).astype(np.int64)})


class _Clock:
    """Step callback: the time after every optimizer step (device synchronised)."""

    def __init__(self, sync):
        self.sync, self.times = sync, []

    def __call__(self, epoch: int, step: int) -> None:
        self.sync()
        self.times.append(time.perf_counter())


def _host_peak_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux
    return round(kb / 1024, 1)


def measure_bucket(pretrained: str, length: int, p: Mapping[str, Any], options,
                   work: Path) -> dict[str, Any]:
    """Step seconds, read-out rows/s, peak memory and micro-batch of one bucket."""
    import torch

    from pvigroup.engine import TaskData, TrainParams, predict_logprobs, train
    from pvigroup.engine.model import load_model

    device = options.resolve_device()
    cuda = device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    n_steps = p["warmup_steps"] + p["steps"]
    task = TaskData("calibration", ["a", "b"], _rows(n_steps * p["batch_size"], length, length))
    params = TrainParams(epochs=1, batch_size=p["batch_size"], lr=p["lr"], max_length=length,
                         seed=0)
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    clock = _Clock(sync)
    out = work / f"bucket{length}"
    train(pretrained, [task], params, out, options=options, step_callback=clock)
    timed = np.diff(clock.times[p["warmup_steps"] - 1:]) if p["warmup_steps"] else np.diff(
        clock.times)
    gpu_peak = round(torch.cuda.max_memory_allocated(device) / 2**20, 1) if cuda else None
    model = load_model(out, options=options)
    meta = model.meta
    rows = _rows(p["readout_rows"], length, length + 1)
    predict_logprobs(model, "calibration", rows.head(min(len(rows), 64)), options=options)
    sync()
    t0 = time.perf_counter()
    predict_logprobs(model, "calibration", rows, options=options)
    sync()
    readout_s = time.perf_counter() - t0
    del model
    shutil.rmtree(out, ignore_errors=True)
    micro = (meta.get("provenance") or {}).get("micro_batch") or {}
    return {
        "length": int(length),
        "tokens_per_step": int(p["batch_size"] * length),
        "step_seconds": float(np.median(timed)) if len(timed) else None,
        "steps_timed": int(len(timed)),
        "readout_rows_per_s": round(len(rows) / readout_s, 1) if readout_s > 0 else None,
        "micro_batch": micro.get("used", p["batch_size"]),
        "gpu_peak_mb": gpu_peak,
        "host_peak_mb": _host_peak_mb(),
    }


def reference_step(buckets: Sequence[Mapping[str, Any]], ref_tokens: int) -> float | None:
    """Seconds of a step of ``ref_tokens`` tokens: a least-squares line through the buckets.

    ``seconds = a + b × tokens`` fitted to the measured (tokens per step, step seconds) points
    (a single point: scaled by its token count), evaluated at ``ref_tokens``; never below the
    fastest measured step.
    """
    pts = [(b["tokens_per_step"], b["step_seconds"]) for b in buckets
           if b.get("step_seconds") is not None]
    if not pts:
        return None
    x, y = np.array(pts, dtype=np.float64).T
    if len(pts) == 1 or np.ptp(x) == 0:
        return float(y.mean() * ref_tokens / x.mean())
    slope, icept = np.polyfit(x, y, 1)
    if slope <= 0:  # overhead-bound: the step time does not grow with the tokens
        return float(y.max())
    return float(max(icept + slope * ref_tokens, y.min()))


def calibrate(model: str, out_json: str | Path, *, pretrained: str, config: Mapping[str, Any],
              engine: Mapping[str, Any]) -> dict[str, Any]:
    """Measure ``model`` on this machine's device and write ``results/calibration/{model}.json``.

    Parameters
    ----------
    model : str
        The model key (``models.<key>``).
    out_json : path
        Where the JSON goes.
    pretrained : str
        The model spec (hub id, local directory or ``py:`` spec).
    config : mapping
        The validated workflow config (buckets, batch size, ``calibrate`` settings).
    engine : mapping
        The ``engine`` section (device, precision, compile as the real jobs get them).
    """
    import torch
    import transformers

    from pvigroup.config import engine_options, resolve_pretrained
    from pvigroup.engine.steps import PRECISION_LABELS
    from pvigroup.resources import REF_TOKENS

    p = plan(config, model)
    if p["steps"] < 2:
        raise PvigroupError("config key calibrate.steps must be >= 2 (step times are differences)")
    options = engine_options({**engine, "progress": False})
    device = options.resolve_device()
    info = options.device_info(device)
    path = resolve_pretrained(pretrained)
    log.info("calibrating %s (%s) on %s: buckets %s, batch %d, %d+%d steps each", model,
             pretrained, info.describe(), p["buckets"], p["batch_size"], p["warmup_steps"],
             p["steps"])
    buckets = []
    with tempfile.TemporaryDirectory(prefix="pvigroup-calibrate-") as tmp:
        for length in p["buckets"]:
            row = measure_bucket(path, length, p, options, Path(tmp))
            log.info("bucket %d: %.4f s per step of %d x %d tokens, read-out %.0f rows/s, "
                     "micro-batch %s", length, row["step_seconds"] or float("nan"),
                     p["batch_size"], length, row["readout_rows_per_s"] or 0, row["micro_batch"])
            buckets.append(row)
    mode, reason = options.compile_decision(device, info)
    threads = torch.get_num_threads()
    out = {
        "model": model,
        "pretrained": str(pretrained),
        "measured_on": info.type,
        "label": (f"CPU ({platform.machine()}, {threads} torch threads)" if info.type == "cpu"
                  else info.describe()),
        "device": info.as_dict(),
        "precision": PRECISION_LABELS[options.precision_for(device, info)],
        "compile": mode or "off",
        "compile_reason": reason,
        "batch_size": p["batch_size"],
        "warmup_steps": p["warmup_steps"],
        "buckets": buckets,
        "ref_tokens": REF_TOKENS,
        "ref_step_seconds": reference_step(buckets, REF_TOKENS),
        "largest_micro_batch": min(b["micro_batch"] for b in buckets),
        "host_peak_mb": max(b["host_peak_mb"] for b in buckets),
        "gpu_peak_mb": max((b["gpu_peak_mb"] or 0) for b in buckets) if info.type == "cuda"
        else None,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "transformers": transformers.__version__,
        "pvigroup": __version__,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    write_json(out, out_json)
    log.info("%s: %.4f s per reference step (%d tokens) on %s -> %s", model,
             out["ref_step_seconds"] or float("nan"), REF_TOKENS, out["label"], out_json)
    return out
