"""Pointwise V-usable information (Ethayarajh et al., 2022).

PVI(x → y) = −log2 g[∅](y) + log2 g′[x](y), where g′ is fine-tuned on (x, y) and g on (∅, y).
The mean PVI over a held-out split estimates the V-usable information I_V(X → Y).

The pure functions here take log-probabilities (natural log, one row per instance, one column per
label id) and gold label ids; everything is indexed by label id and joined by instance id, never by
row order or label string (the pitfalls of the reference implementation).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pvigroup import __version__
from pvigroup.errors import PvigroupError
from pvigroup.io import read_json, read_meta, read_parquet, write_json, write_parquet
from pvigroup.metrics import macro_f1  # the one macro-F1 (scikit-learn's convention)

log = logging.getLogger(__name__)

LN2 = math.log(2.0)


# --------------------------------------------------------------------------- pure math
def gold_log2(logprobs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """log2 p(y_i) for each row ``i`` of natural-log probabilities ``logprobs`` (n, C)."""
    logprobs = np.asarray(logprobs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if logprobs.ndim != 2 or logprobs.shape[0] != labels.shape[0]:
        raise ValueError(f"logprobs {logprobs.shape} do not match {labels.shape[0]} labels")
    if labels.size and (labels.min() < 0 or labels.max() >= logprobs.shape[1]):
        raise ValueError(f"label ids must lie in [0, {logprobs.shape[1]})")
    return logprobs[np.arange(labels.size), labels] / LN2


def pvi(logprobs_gprime: np.ndarray, logprobs_null: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-instance PVI in bits: log2 g′[x](y) − log2 g[∅](y)."""
    return gold_log2(logprobs_gprime, labels) - gold_log2(logprobs_null, labels)


def empirical_prior(train_labels: np.ndarray, n_labels: int) -> np.ndarray:
    """Natural-log label frequencies of the training labels: the best a null model can learn.

    Cross-entropy on (∅, y) is minimised by the empirical label distribution, so this is the
    closed-form optimum of g. A label that never occurs in train has probability 0.
    """
    counts = np.bincount(np.asarray(train_labels, dtype=np.int64), minlength=n_labels)
    with np.errstate(divide="ignore"):
        return np.log(counts / counts.sum())


def majority_accuracy(train_labels: np.ndarray, eval_labels: np.ndarray) -> float:
    """Accuracy of always predicting the most frequent training label (ties: lowest id)."""
    majority = int(np.bincount(np.asarray(train_labels, dtype=np.int64)).argmax())
    return float(np.mean(np.asarray(eval_labels) == majority))


def collapse_check(log2_gprime: np.ndarray, labels: np.ndarray, train_labels: np.ndarray,
                   n_labels: int) -> dict[str, float | bool | None]:
    """Is g′ no better than the label prior? Compared in log-loss on the held-out rows.

    ``gprime_log_loss`` is the mean −log2 g′(y) (bits), ``prior_log_loss`` the cross-entropy of
    the train label prior (:func:`empirical_prior`) on the same rows, i.e. the loss of the best
    input-free model. ``collapsed`` when g′'s loss is not below the prior's: then the V-usable
    information g′ shows over the prior is ≤ 0 and PVI only reflects the label prior. Accuracy
    against the majority label is no test on a skewed task (a g′ that learned something can sit
    at the majority accuracy). ``prior_log_loss`` is None (infinite) when a held-out label never
    occurs in train; g′ then never counts as collapsed.
    """
    labels = np.asarray(labels, dtype=np.int64)
    g_loss = float(-np.mean(np.asarray(log2_gprime, dtype=np.float64)))
    with np.errstate(divide="ignore"):
        p_log2 = empirical_prior(train_labels, n_labels)[labels] / LN2
    p_loss = float(-np.mean(p_log2))
    finite = math.isfinite(p_loss)
    return {"gprime_log_loss": g_loss, "prior_log_loss": p_loss if finite else None,
            "collapsed": bool(finite and g_loss >= p_loss)}


# --------------------------------------------------------------------------- data
def load_task(data_dir: str | Path, splits: tuple[str, ...] = ("train", "dev")):
    """The engine's ``TaskData`` for a prepared task directory (results/data/{task})."""
    from pvigroup.engine import TaskData

    data_dir = Path(data_dir)
    info = read_json(data_dir / "task.json")
    frames = {s: read_parquet(data_dir / f"{s}.parquet") for s in splits}
    return TaskData(name=info["task"], labels=list(info["labels"]), train=frames["train"],
                    dev=frames.get("dev"))


# --------------------------------------------------------------------------- rule functions
def finetune(data_dir: str | Path, out_dir: str | Path, *, pretrained: str,
             hparams: Mapping[str, Any], null_input: bool, engine: Mapping[str, Any]) -> None:
    """Fine-tune g′ (``null_input=False``) or g (``null_input=True``) on a task's train split.

    Both keep the last epoch (no selection on dev), as the PVI reference does; dev metrics are
    only logged.
    """
    from pvigroup.config import engine_options, resolve_pretrained
    from pvigroup.engine import TrainParams, train

    task = load_task(data_dir)
    params = TrainParams(**dict(hparams), select_on_dev=False)
    log.info("fine-tuning %s for task %s (%s input): %s", pretrained, task.name,
             "empty" if null_input else "full", params)
    train(resolve_pretrained(pretrained), [task], params, out_dir, null_input=null_input,
          options=engine_options(engine))


def fit_empirical_prior(data_dir: str | Path, out_json: str | Path) -> None:
    """Write the closed-form null model (train label frequencies) as ``prior.json``."""
    data_dir = Path(data_dir)
    info = read_json(data_dir / "task.json")
    labels = read_parquet(data_dir / "train.parquet")["label"].to_numpy()
    logp = empirical_prior(labels, len(info["labels"]))
    write_json({"task": info["task"], "labels": info["labels"], "null_model": "empirical-prior",
                "log_prior": [float(v) for v in logp],
                "counts": np.bincount(labels, minlength=len(info["labels"])).tolist()}, out_json)


def _null_logprobs(null_path: Path, task: str, df: pd.DataFrame, options,
                   micro=None) -> tuple[np.ndarray, str]:
    if null_path.is_file():
        prior = read_json(null_path)
        logp = np.asarray(prior["log_prior"], dtype=np.float64)
        return np.broadcast_to(logp, (len(df), logp.size)).copy(), "empirical-prior"
    from pvigroup.engine import predict_logprobs

    meta_path = null_path / "meta.json"
    if not read_json(meta_path).get("null_input"):
        raise PvigroupError(
            f"{meta_path}: the null model g was trained on the real input (null_input is not "
            f"true); PVI needs g fine-tuned on the empty input (finetune_null)")
    logp = predict_logprobs(null_path, task, df, null_input=True, options=options, micro=micro)
    check_null_readout(logp, null_path)
    return logp, "finetune"


def check_null_readout(logp_null: np.ndarray, where: str | Path) -> None:
    """Raise ``PvigroupError`` unless every row of g's read-out is the same distribution.

    g reads the empty input, so its output cannot depend on the instance; rows that differ mean
    it was read out on the real input.
    """
    logp_null = np.asarray(logp_null)
    if len(logp_null) and not np.array_equal(logp_null, np.broadcast_to(logp_null[0],
                                                                        logp_null.shape)):
        row = int(np.flatnonzero(np.any(logp_null != logp_null[0], axis=1))[0])
        raise PvigroupError(
            f"{where}: the null model's read-out differs between rows (row {row} vs row 0), so "
            f"g read the real input; it must read the empty input")


def pvi_provenance(gprime_dir: str | Path, null_path: str | Path, info: Mapping[str, Any],
                   options, decisions: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What changes the numbers of a PVI file: read-out engine settings and library versions
    (``device, precision, compile, torch, transformers``), the checkpoint revision, the dataset
    revision (from ``task.json``) and the training provenance of g′ and g (their meta.json);
    ``decisions`` adds what the read-out did (its batch size after any out-of-memory split)."""
    from pvigroup.engine.provenance import dataset_revision, engine_provenance

    def trained(path: Path) -> dict | None:
        meta = path / "meta.json"
        return read_json(meta).get("provenance") if meta.is_file() else None

    gprime, null = trained(Path(gprime_dir)), trained(Path(null_path))
    return {**engine_provenance(options, decisions=decisions),
            "model_revision": (gprime or {}).get("model_revision"),
            "dataset_revision": dataset_revision(info),
            "training": {"gprime": gprime,
                         "null": null if Path(null_path).is_dir() else "empirical-prior"}}


def compute_pvi(data_dir: str | Path, gprime_dir: str | Path, null_path: str | Path,
                out_parquet: str | Path, out_summary: str | Path, *, split: str, model: str,
                model_spec: Mapping[str, Any], hparams: Mapping[str, Any],
                engine: Mapping[str, Any], allow_collapsed: bool = False) -> pd.DataFrame:
    """Read g′ and g out on the held-out ``split`` and write one PVI row per instance.

    Raises ``PvigroupError`` when g′ is no better than the label prior in log-loss
    (:func:`collapse_check`; a collapsed fine-tune makes PVI a label-prior artefact) unless
    ``allow_collapsed``. The parquet metadata and the summary record the provenance
    (:func:`pvi_provenance`).
    """
    from pvigroup.config import engine_options
    from pvigroup.engine import predict_logprobs
    from pvigroup.engine.memory import MicroBatch

    data_dir, null_path = Path(data_dir), Path(null_path)
    info = read_json(data_dir / "task.json")
    task, n_labels = info["task"], len(info["labels"])
    df = read_parquet(data_dir / f"{split}.parquet")
    train_labels = read_parquet(data_dir / "train.parquet")["label"].to_numpy()
    options = engine_options(engine)

    micro = MicroBatch("read-out", int(options.eval_batch_size))
    logp_g = predict_logprobs(gprime_dir, task, df, null_input=False, options=options,
                              micro=micro)
    logp_0, null_kind = _null_logprobs(null_path, task, df, options, micro)
    labels = df["label"].to_numpy(dtype=np.int64)
    if null_kind == "empirical-prior":
        unseen = sorted({int(y) for y in labels if not np.isfinite(logp_0[0, y])})
        if unseen:
            names = [info["labels"][y] for y in unseen]
            raise PvigroupError(
                f"{data_dir / 'train.parquet'}: label(s) {names} never occur in train, so the "
                f"empirical prior gives them probability 0 and PVI is infinite; use "
                f"pvi.null_model: finetune or add training rows of those labels")

    pred = logp_g.argmax(axis=1)
    out = pd.DataFrame({
        "id": df["id"].astype(str).to_numpy(),
        "task": task,
        "split": split,
        "label": labels,
        "log2_p_gprime": gold_log2(logp_g, labels),
        "log2_p_null": gold_log2(logp_0, labels),
    })
    out["pvi"] = out["log2_p_gprime"] - out["log2_p_null"]
    out["pred"] = pred.astype(np.int64)
    out["correct"] = out["pred"] == out["label"]
    if not np.all(np.isfinite(out["pvi"])):
        bad = out.loc[~np.isfinite(out["pvi"]), "id"].iloc[0]
        raise PvigroupError(f"{task}: PVI is not finite for instance {bad} (a probability "
                            "underflowed to 0); check the model outputs")

    acc = float(out["correct"].mean())
    maj = majority_accuracy(train_labels, labels)
    gate = collapse_check(out["log2_p_gprime"].to_numpy(), labels, train_labels, n_labels)
    collapsed = gate["collapsed"]
    provenance = pvi_provenance(gprime_dir, null_path, info, options,
                                {"readout_batch": micro.record()})
    summary = {
        "task": task, "model": model, "split": split, "n": len(out),
        "mean_pvi": float(out["pvi"].mean()), "sd_pvi": float(out["pvi"].std(ddof=1)),
        "gprime_accuracy": acc, "gprime_macro_f1": macro_f1(labels, pred, n_labels),
        "majority_accuracy": maj, "gprime_log_loss": gate["gprime_log_loss"],
        "prior_log_loss": gate["prior_log_loss"], "null_model": null_kind,
        "collapsed": bool(collapsed), "provenance": provenance,
    }
    meta = {
        "model": model, "pretrained": model_spec.get("pretrained"), "hparams": dict(hparams),
        "seed": hparams.get("seed"), "null_model": null_kind, "split": split,
        "data_fingerprint": read_meta(data_dir / f"{split}.parquet").get("fingerprint"),
        "package_version": __version__, "provenance": provenance,
    }
    write_parquet(out, out_parquet, meta)
    write_json(summary, out_summary)
    log.info("%s: mean PVI %.3f bits over %d %s instances; g' accuracy %.3f (majority %.3f)",
             task, summary["mean_pvi"], len(out), split, acc, maj)
    if collapsed and not allow_collapsed:
        raise PvigroupError(
            f"{task}: g' log-loss {gate['gprime_log_loss']:.3f} bits on {split} is no better "
            f"than the label prior's {gate['prior_log_loss']:.3f} bits (accuracy {acc:.3f}, "
            f"majority {maj:.3f}): the fine-tune collapsed, so PVI would only reflect the label "
            f"prior. Train longer or with a higher lr (tasks.{task}.overrides), or set "
            f"pvi.allow_collapsed: true to keep it")
    return out


def null_model_difference(pvi_df: pd.DataFrame, train_labels: np.ndarray,
                          n_labels: int) -> pd.DataFrame:
    """Per-instance PVI with the fine-tuned null model g next to PVI with the empirical prior.

    ``pvi_df`` is a PVI file made with ``null_model: finetune`` (columns ``id, label,
    log2_p_gprime, log2_p_null, pvi``); the prior is the train label frequencies
    (:func:`empirical_prior`). Returns ``id, label, pvi_finetune, pvi_prior, log2_p_null,
    log2_p_prior`` — g′ is shared, so ``pvi_finetune - pvi_prior = log2_p_prior - log2_p_null``.
    """
    missing = {"id", "label", "log2_p_gprime", "log2_p_null", "pvi"} - set(pvi_df.columns)
    if missing:
        raise PvigroupError(f"PVI table lacks columns {sorted(missing)}")
    labels = pvi_df["label"].to_numpy(dtype=np.int64)
    log2_prior = empirical_prior(train_labels, n_labels)[labels] / LN2
    return pd.DataFrame({
        "id": pvi_df["id"].to_numpy(),
        "label": labels,
        "pvi_finetune": pvi_df["pvi"].to_numpy(dtype=np.float64),
        "pvi_prior": pvi_df["log2_p_gprime"].to_numpy(dtype=np.float64) - log2_prior,
        "log2_p_null": pvi_df["log2_p_null"].to_numpy(dtype=np.float64),
        "log2_p_prior": log2_prior,
    })


def read_pvi(path: str | Path) -> np.ndarray:
    """The ``pvi`` column of a PVI parquet file, checked finite."""
    df = read_parquet(path)
    if "pvi" not in df:
        raise PvigroupError(f"{path}: no 'pvi' column (columns: {list(df.columns)})")
    return df["pvi"].to_numpy(dtype=np.float64)


__all__ = ["check_null_readout", "collapse_check", "compute_pvi", "empirical_prior", "finetune", "fit_empirical_prior", "gold_log2",
           "macro_f1", "majority_accuracy", "null_model_difference", "pvi", "pvi_provenance",
           "read_pvi"]
