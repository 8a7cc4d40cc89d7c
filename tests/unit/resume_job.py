"""One training job of the resume tests, run in its own process (not collected by pytest).

    python resume_job.py LEVEL KIND PRETRAINED OUT [KILL_EPOCH]

LEVEL ``engine`` trains with :func:`pvigroup.engine.train` (dev selection among epochs 1-2 of 3);
LEVEL ``train`` runs :func:`pvigroup.train.train_stl` / ``train_mtl`` (grid of epochs 1-3 x two
learning rates; SIGTERM in the second grid point).
KIND is ``stl`` (one task) or ``mtl`` (two tasks). The tests run the uninterrupted reference in
their own process (:func:`run_here`), the interrupted and the resumed runs as this script. With
KILL_EPOCH (0-based), the process sends itself SIGTERM after the second optimizer step of that
epoch, as Slurm does on preemption, and the engine exits with status 143 after writing its
checkpoint.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import numpy as np
import pandas as pd

WORDS = {"a": ["bad", "good"], "b": ["red", "green", "blue"]}
FILLER = ["the", "one", "was", "very", "quite", "it", "is", "so", "and", "then"]
ENGINE = {"device": "cpu", "compile": "off", "buckets": [8, 16], "eval_batch_size": 64,
          "threads": 1, "progress": False}


def frame(name: str, split: str, size: int, seed: int) -> pd.DataFrame:
    """Keyword tasks with 25 % of the labels flipped: dev scores move from epoch to epoch."""
    rng = np.random.default_rng(seed)
    words = WORDS[name]
    labels = np.arange(size) % len(words)
    texts = [" ".join([*rng.choice(FILLER, rng.integers(1, 8)), words[y],
                       *rng.choice(FILLER, rng.integers(0, 6))]) for y in labels]
    flip = rng.random(size) < 0.25
    labels = np.where(flip, (labels + 1) % len(words), labels)
    return pd.DataFrame({"id": [f"{name}:{split}:{i}" for i in range(size)], "text": texts,
                         "text_pair": pd.Series([None] * size, dtype=object),
                         "label": labels.astype("int64"),
                         "label_name": [words[y] for y in labels]})


def names_of(kind: str) -> list[str]:
    return ["a"] if kind == "stl" else ["a", "b"]


def killer(kill_epoch: int | None):
    seen = {"n": 0}

    def callback(epoch: int, step: int) -> None:
        if kill_epoch is not None and epoch == kill_epoch:
            seen["n"] += 1
            if seen["n"] == 2:
                os.kill(os.getpid(), signal.SIGTERM)

    return callback


def run_engine(kind: str, pretrained: str, out: Path, kill_epoch: int | None) -> None:
    from pvigroup.engine import EngineOptions, TaskData, TrainParams, train

    tasks = [TaskData(n, WORDS[n], frame(n, "train", 40 - 12 * i, 10 + i),
                      frame(n, "dev", 24, 20 + i)) for i, n in enumerate(names_of(kind))]
    params = TrainParams(epochs=3, batch_size=8, lr=3e-3, max_length=16, warmup_ratio=0.1,
                         seed=3, select_on_dev=True, select_epochs=(1, 2),
                         sampler="proportional")
    options = EngineOptions(**{**ENGINE, "buckets": tuple(ENGINE["buckets"])})
    train(pretrained, tasks, params, out / "model", options=options,
          step_callback=killer(kill_epoch))


def run_train(kind: str, pretrained: str, out: Path, kill_epoch: int | None) -> None:
    from pvigroup import engine
    from pvigroup import train as tr
    from pvigroup.io import write_json, write_parquet

    real = engine.train
    calls = {"n": 0}

    def train_with_kill(*args, **kwargs):
        # SIGTERM only in the second grid point: the first must come back from its record
        calls["n"] += 1
        return real(*args, step_callback=killer(kill_epoch if calls["n"] == 2 else None),
                    **kwargs)

    engine.train = train_with_kill
    try:
        _train_job(kind, pretrained, out, tr, write_json, write_parquet)
    finally:  # also run inside the test process (the uninterrupted reference)
        engine.train = real


def _train_job(kind, pretrained, out, tr, write_json, write_parquet) -> None:
    jsons = []
    for i, name in enumerate(names_of(kind)):
        d = out / "data" / name
        for split, size in (("train", 40 - 12 * i), ("dev", 24), ("test", 16)):
            write_parquet(frame(name, split, size, 10 * i + len(split)), d / f"{split}.parquet",
                          {"task": name, "split": split})
        write_json({"task": name, "labels": WORDS[name], "pair": False, "private": False,
                    "fingerprint": {"train": name}}, d / "task.json")
        jsons.append(d / "task.json")
    settings = {"grid": {"epochs": [1, 2, 3], "lr": [3e-3, 1e-3], "max_length": [16]},
                "batch_size": 8, "grad_accum": 1}
    common = {"model": "tiny", "seed": 3, "pretrained": pretrained, "train": settings,
              "engine": ENGINE}
    if kind == "stl":
        tr.train_stl(jsons[0], out / "metrics.json", out / "predictions.parquet", out / "model",
                     task="a", **common)
    else:
        tr.train_mtl(jsons, out / "metrics.json", out / "predictions.parquet", out / "model",
                     group="a__b", **common)


def run_here(level: str, kind: str, pretrained: str, out: Path) -> None:
    """The uninterrupted reference run in the calling process (no SIGTERM), leaving torch's
    thread count as it found it (the engine sets it to ``ENGINE["threads"]``)."""
    import torch

    threads = torch.get_num_threads()
    try:
        {"engine": run_engine, "train": run_train}[level](kind, pretrained, Path(out), None)
    finally:
        torch.set_num_threads(threads)


if __name__ == "__main__":
    import logging

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    level, kind, pretrained, out = sys.argv[1:5]
    kill = int(sys.argv[5]) if len(sys.argv) > 5 else None
    {"engine": run_engine, "train": run_train}[level](kind, pretrained, Path(out), kill)
