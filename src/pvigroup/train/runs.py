"""One STL or MTL job: load the tasks, search the grid through the engine, score on test."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pvigroup import __version__
from pvigroup.errors import PvigroupError
from pvigroup.io import read_json, read_parquet, write_json, write_parquet
from pvigroup.train.settings import (
    GridPoint,
    TrainSettings,
    grid_points,
    same_run_lengths,
    select_best,
)
from pvigroup.workflow import SEP, group_id

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- training
def _load_split(task_json: Path, split: str) -> pd.DataFrame:
    df = read_parquet(task_json.parent / f"{split}.parquet")
    missing = [c for c in ("id", "text", "label") if c not in df.columns]
    if missing:
        raise PvigroupError(f"{task_json.parent / f'{split}.parquet'}: missing column(s) "
                            f"{', '.join(missing)}")
    if "text_pair" not in df.columns:
        df["text_pair"] = None
    return df


def _load_tasks(task_jsons: Sequence[str | Path], expected: Sequence[str]):
    """(info, TaskData, test frame) for each task.json, in ``expected`` order."""
    from pvigroup.engine import TaskData

    found = {}
    for path in map(Path, task_jsons):
        info = read_json(path)
        found[info["task"]] = (path, info)
    missing = [t for t in expected if t not in found]
    if missing:
        raise PvigroupError(f"no task.json for task(s) {', '.join(missing)} among "
                            f"{', '.join(map(str, task_jsons))}")
    out = []
    for name in expected:
        path, info = found[name]
        labels = list(info["labels"])
        train_df, dev_df = _load_split(path, "train"), _load_split(path, "dev")
        if dev_df.empty:
            raise PvigroupError(f"{path.parent / 'dev.parquet'}: no rows; model selection "
                                "needs a dev split")
        test_df = _load_split(path, "test")
        out.append((info, TaskData(name, labels, train_df, dev_df), test_df))
    return out


def _engine_params(settings: TrainSettings, point: GridPoint, seed: int, tasks: Sequence[str]):
    from pvigroup.engine import TrainParams

    weights = None
    if len(tasks) > 1:
        weights = {t: float(settings.loss_weights.get(t, 1.0)) for t in tasks}
    params = TrainParams(
        epochs=int(point.epochs), batch_size=int(settings.batch_size), lr=float(point.lr),
        max_length=int(point.max_length), grad_accum=int(settings.grad_accum),
        warmup_ratio=float(settings.warmup_ratio), weight_decay=float(settings.weight_decay),
        max_grad_norm=float(settings.max_grad_norm), head=str(settings.head), seed=int(seed), sampler=settings.sampler, temperature=float(settings.temperature),
        loss_weights=weights, select_on_dev=point.select,
        select_epochs=tuple(int(e) for e in point.allowed_epochs) if point.select else None,
    )
    params.check()
    return params


def _run_dev_score(result, point: GridPoint) -> tuple[int, float | None]:
    """(kept epoch, its mean dev macro-F1) of one engine run of ``point``.

    With ``select_on_dev`` the engine keeps its best dev epoch among ``point.allowed_epochs``,
    otherwise the last one; either way ``best_epoch``/``dev_score`` describe the weights it
    saved. Raises ``PvigroupError`` if the engine kept an epoch the grid does not allow.
    """
    epoch, score = int(result.best_epoch), result.dev_score
    if epoch not in point.allowed_epochs:
        raise PvigroupError(f"{result.out_dir}: the engine kept epoch {epoch}, not one of the "
                            f"grid's epochs {list(point.allowed_epochs)}")
    return epoch, None if score is None else float(score)


def longest_row(pretrained: str, frames: Sequence[pd.DataFrame], cap: int) -> int:
    """Token count of the longest row of ``frames`` as the engine encodes it, at most ``cap``.

    Special tokens included, with the model's tokenizer (:func:`pvigroup.engine.encode.encode_frame`);
    a row longer than ``cap`` counts as ``cap`` (enough for :func:`same_run_lengths` with
    ``cap`` = the grid's largest ``max_length``).
    """
    from transformers import AutoTokenizer

    from pvigroup.engine.encode import encode_frame

    try:
        tok = AutoTokenizer.from_pretrained(pretrained)
    except OSError as err:
        raise PvigroupError(f"tokenizer of {pretrained!r} cannot be loaded: {err}") from None
    lengths = [int(encode_frame(tok, df, int(cap), False).lengths.max())
               for df in frames if df is not None and len(df)]
    return max(lengths, default=0)


def search_grid(pretrained: str, tasks: Sequence[Any], settings: TrainSettings, seed: int,
                out_model: str | Path, *, options: Any,
                longest: int | None = None) -> tuple[GridPoint, list[dict]]:
    """Train every grid point, keep the model with the best dev score in ``out_model``.

    A grid point whose ``max_length`` truncates no row (``longest``, the longest row of every
    split in tokens, fits in a smaller grid value) would train exactly the run of that smaller
    value (same rows, buckets, batches and seed): it is not trained again but recorded as that
    run, with ``same_as: {max_length: <smaller>}`` (:func:`same_run_lengths`). Ties in the
    selection go to the earlier point, so the smaller ``max_length`` is the one selected.

    Parameters
    ----------
    pretrained
        A directory or hub id ``from_pretrained`` accepts (already resolved).
    tasks
        The engine's ``TaskData`` of each task (one for STL); each needs a dev split.
    settings
        The job's settings.
    seed
        Seeds initialisation, dropout and batch order.
    out_model
        Where the selected model is left (engine format); the others are deleted.
    options
        ``EngineOptions``.
    longest
        The longest row in tokens (:func:`longest_row`); None trains every point.

    Returns
    -------
    (GridPoint, list of dict)
        The selected point (``epochs`` = the epoch kept) and one record per run:
        ``lr, max_length, epochs`` (run length), ``allowed_epochs`` (those it could keep),
        ``epoch`` (kept), ``dev_score``, ``history`` and, for a point recorded as another run,
        ``same_as``.
    """
    from pvigroup.engine import train

    out_model = Path(out_model)
    scratch = _grid_scratch(out_model, pretrained, tasks, settings, seed)
    best_dir = scratch / "best"
    if out_model.exists():
        shutil.rmtree(out_model)
    names = [t.name for t in tasks]
    records: list[dict] = []
    lengths = ({v: v for v in settings.max_length} if longest is None
               else same_run_lengths(longest, settings.max_length))
    trained: dict[tuple, int] = {}  # (lr, max_length, epochs) -> index of its record
    for i, point in enumerate(grid_points(settings)):
        same = lengths[point.max_length]
        key = (point.lr, same, point.epochs)
        if same != point.max_length and key in trained:
            records.append({**records[trained[key]], "max_length": point.max_length,
                            "same_as": {"max_length": same}})
            log.info("grid point %d: lr=%g max_length=%d is the run of max_length=%d (every row "
                     "has at most %d tokens): not trained again", i, point.lr,
                     point.max_length, same, longest)
            continue
        done = scratch / f"run{i}.done.json"
        if done.exists():  # finished before the job was preempted: its record, not a rerun
            trained[(point.lr, point.max_length, point.epochs)] = len(records)
            records.append(read_json(done))
            log.info("grid point %d: finished before the restart (dev score %s)", i,
                     records[-1]["dev_score"])
            continue
        params = _engine_params(settings, point, seed, names)
        run_dir = scratch / f"run{i}"
        log.info("grid point %d: lr=%g max_length=%d epochs=%d (%s) for %s, seed %d", i,
                 point.lr, point.max_length, point.epochs,
                 f"best dev epoch of {list(point.allowed_epochs)}" if point.select
                 else "last epoch", ", ".join(names), seed)
        result = train(pretrained, list(tasks), params, run_dir, options=options)
        epoch, score = _run_dev_score(result, point)
        trained[(point.lr, point.max_length, point.epochs)] = len(records)
        records.append({"lr": point.lr, "max_length": point.max_length, "epochs": point.epochs,
                        "allowed_epochs": list(point.allowed_epochs), "epoch": epoch,
                        "dev_score": score, "history": result.history})
        log.info("grid point %d: dev score %s at epoch %d", i, score, epoch)
        j = select_best([r["dev_score"] for r in records])
        if j == len(records) - 1:  # new best: keep this model, drop the previous best
            shutil.rmtree(best_dir, ignore_errors=True)
            shutil.move(str(run_dir), str(best_dir))
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
        write_json(records[-1], done)  # last: a restart before it retrains this point
    best_i = select_best([r["dev_score"] for r in records])  # raises if no run had a score
    best = records[best_i]
    shutil.move(str(best_dir), str(out_model))
    shutil.rmtree(scratch, ignore_errors=True)
    chosen = GridPoint(best["lr"], best["max_length"], best["epoch"], False)
    return chosen, records


def _grid_scratch(out_model: Path, pretrained: str, tasks: Sequence[Any],
                  settings: TrainSettings, seed: int) -> Path:
    """``<model>.grid/``: the grid search's runs, kept across a preemption of the job.

    It holds each finished grid point's record (``run<i>.done.json``), the best model so far
    (``best/``) and the engine's checkpoint of the point in progress (``run<i>.resume/``), so a
    restarted job trains only what it had not finished. ``grid.json`` fingerprints the job
    (pretrained model, settings, seed, each task's labels and data); a scratch folder left by a
    job with other inputs is removed instead of reused.
    """
    from pvigroup.io import fingerprint_frame

    desc = {"pretrained": str(pretrained), "settings": asdict(settings), "seed": int(seed),
            "tasks": [{"name": t.name, "labels": list(t.labels),
                       "train": fingerprint_frame(t.train),
                       "dev": fingerprint_frame(t.dev) if t.dev is not None else None}
                      for t in tasks]}
    fingerprint = hashlib.sha256(json.dumps(desc, sort_keys=True, default=str).encode())
    scratch = out_model.with_name(out_model.name + ".grid")
    state = scratch / "grid.json"
    if state.exists() and read_json(state).get("fingerprint") == fingerprint.hexdigest():
        log.info("resuming the grid search in %s", scratch)
        return scratch
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    write_json({"fingerprint": fingerprint.hexdigest()}, state)
    return scratch


def evaluate_model(model_dir: str | Path, tests: Mapping[str, pd.DataFrame],
                   labels: Mapping[str, Sequence[str]], *, options: Any
                   ) -> tuple[dict[str, dict], pd.DataFrame]:
    """Score a trained model on each task's test split.

    Returns ``{task: {accuracy, macro_f1, per_class_f1, n}}`` and the per-instance predictions
    (``id, task, label, pred, correct``), tasks in the order of ``tests``.
    """
    from pvigroup.engine import evaluate, load_model

    model = load_model(model_dir, tasks=list(tests), options=options)
    metrics: dict[str, dict] = {}
    frames = []
    for task, df in tests.items():
        res = evaluate(model, task, df, options=options)
        preds = np.asarray(res["preds"], dtype=np.int64)
        per_class = res.get("per_class_f1") or {}
        if not isinstance(per_class, Mapping):  # a list in label order
            per_class = dict(zip(map(str, labels[task]), per_class, strict=True))
        metrics[task] = {"accuracy": float(res["accuracy"]), "macro_f1": float(res["macro_f1"]),
                         "per_class_f1": {str(k): float(v) for k, v in per_class.items()},
                         "n": int(res.get("n", len(df)))}
        gold = df["label"].to_numpy(dtype=np.int64)
        frames.append(pd.DataFrame({"id": df["id"].astype(str).to_numpy(), "task": task,
                                    "label": gold, "pred": preds, "correct": gold == preds}))
        log.info("%s test: accuracy %.4f, macro-F1 %.4f (n=%d)", task,
                 metrics[task]["accuracy"], metrics[task]["macro_f1"], metrics[task]["n"])
    predictions = pd.concat(frames, ignore_index=True)
    predictions["task"] = predictions["task"].astype(str)
    return metrics, predictions


def train_group(task_jsons: Sequence[str | Path], out_metrics: str | Path,
                out_predictions: str | Path, out_model: str | Path, *, kind: str, group: str,
                model: str, seed: int, pretrained: str, train: Mapping[str, Any],
                engine: Mapping[str, Any] | None = None) -> dict:
    """Train one STL task or one MTL group for one seed, select on dev, score on test.

    Parameters
    ----------
    task_jsons
        ``results/data/{task}/task.json`` of each task; the splits are read beside them.
    out_metrics, out_predictions, out_model
        ``metrics.json``, ``predictions.parquet`` and the model directory (engine format: shared
        encoder plus one head per task, each reloadable alone).
    kind
        ``"stl"`` (one task) or ``"mtl"`` (two tasks or more).
    group
        The task id (STL) or group id (MTL).
    model
        The model key (for paths and provenance).
    seed
        The run's seed.
    pretrained
        The model spec (hub id, directory or ``py:module.function``).
    train
        The job's ``train`` params (see :func:`job_settings`).
    engine
        The ``engine:`` config section.

    Returns
    -------
    dict
        The metrics written to ``out_metrics``.
    """
    from pvigroup.config import engine_options, resolve_pretrained

    if kind not in ("stl", "mtl"):
        raise PvigroupError(f"kind must be 'stl' or 'mtl', got {kind!r}")
    names = group.split(SEP)
    if group_id(names) != group:
        raise PvigroupError(f"group {group!r} is not a sorted group id")
    if kind == "stl" and len(names) != 1:
        raise PvigroupError(f"STL trains one task, got group {group!r}")
    if kind == "mtl" and len(names) < 2:
        raise PvigroupError(f"MTL needs a group of two tasks or more, got {group!r}")
    settings = TrainSettings.from_params(train)
    options = engine_options(engine or {})
    loaded = _load_tasks(task_jsons, names)
    task_data = [td for _, td, _ in loaded]
    tests = {info["task"]: test for info, _, test in loaded}
    labels = {info["task"]: list(info["labels"]) for info, _, _ in loaded}

    resolved = resolve_pretrained(pretrained)
    longest = None
    if len(set(settings.max_length)) > 1:  # which grid points are the same run
        frames = [f for td in task_data for f in (td.train, td.dev)] + list(tests.values())
        longest = longest_row(resolved, frames, max(settings.max_length))
    chosen, records = search_grid(resolved, task_data, settings, seed, out_model,
                                  options=options, longest=longest)
    test_metrics, predictions = evaluate_model(out_model, tests, labels, options=options)
    dev_score = max(r["dev_score"] for r in records if r["dev_score"] is not None)
    metrics = {
        "kind": kind, "group": group, "tasks": names, "model": model, "seed": int(seed),
        "selected": {"epochs": chosen.epochs, "lr": chosen.lr, "max_length": chosen.max_length},
        "epoch_selection": {"search": settings.epoch_search,
                            "allowed": sorted(set(settings.epochs)), "selected": chosen.epochs},
        "grid": records, "dev_score": float(dev_score), "test": test_metrics,
        "settings": {**asdict(settings), "loss_weights": dict(settings.loss_weights)},
        "pretrained": pretrained, "pvigroup": __version__,
        "data": {info["task"]: info.get("fingerprint") for info, _, _ in loaded},
        "longest_row": longest,
        "provenance": _provenance(out_model, loaded),
    }
    write_json(metrics, out_metrics)
    write_parquet(predictions, out_predictions,
                  {"kind": kind, "group": group, "model": model, "seed": int(seed),
                   "split": "test", "selected": metrics["selected"]})
    log.info("%s %s seed %d: selected %s (dev %.4f)", kind.upper(), group, seed,
             metrics["selected"], dev_score)
    return metrics


def _provenance(model_dir: Path, loaded) -> dict:
    """The selected run's engine provenance and each task's dataset revision."""
    from pvigroup.engine.provenance import dataset_revision

    meta = read_json(Path(model_dir) / "meta.json")
    return {**(meta.get("provenance") or {}),
            "dataset_revision": {info["task"]: dataset_revision(info) for info, _, _ in loaded}}


def train_stl(task_json: str | Path, out_metrics: str | Path, out_predictions: str | Path,
              out_model: str | Path, *, task: str, **kwargs: Any) -> dict:
    """One task, one seed: :func:`train_group` with ``kind="stl"``."""
    return train_group([task_json], out_metrics, out_predictions, out_model, kind="stl",
                       group=task, **kwargs)


def train_mtl(task_jsons: Sequence[str | Path], out_metrics: str | Path,
              out_predictions: str | Path, out_model: str | Path, *, group: str,
              **kwargs: Any) -> dict:
    """One group, one seed, hard parameter sharing: :func:`train_group` with ``kind="mtl"``."""
    return train_group(task_jsons, out_metrics, out_predictions, out_model, kind="mtl",
                       group=group, **kwargs)
