"""One LLM on one task (``prompt_llm``), metrics with draws, and the paper's Tables 7-8 (``collect_llm``)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from pvigroup import __version__
from pvigroup.errors import PvigroupError
from pvigroup.io import read_json, read_meta, read_parquet, write_json, write_parquet, write_tsv
from pvigroup.llm.prompts import (
    PromptOptions,
    TaskPrompt,
    fit_prompt,
    parse_answer,
    prompt_hash,
    select_shots,
    subsample_test,
)
from pvigroup.llm.spec import LLMSpec, refuse_private
from pvigroup.metrics import macro_f1  # the one macro-F1; -1 (unparseable) is a false negative
from pvigroup.train.aggregate import t_interval

log = logging.getLogger(__name__)

PREDICTION_COLUMNS = [
    "draw",
    "id",
    "prompt_hash",
    "raw_answer",
    "parsed_label",
    "label",
    "correct",
    "logliks",
]
TABLE_COLUMNS = [
    "task",
    "model",
    "llm",
    "domain",
    "accuracy",
    "macro_f1",
    "accuracy_ci",
    "macro_f1_ci",
    "n",
    "unparseable",
    "draws",
]
CHARS_PER_TOKEN = 4  # token estimate for API prompts, where the server's tokenizer is unknown


class Backend(Protocol):
    """What ``prompt_llm`` needs from a model: loglik scoring and/or generation."""

    def score(self, prompts: Sequence[str], answers: Sequence[str]) -> np.ndarray: ...

    def generate(self, prompts: Sequence[str]) -> list[str]: ...


class APIBackend:
    """``Backend`` over ``ChatClient`` (generation only)."""

    def __init__(self, spec: LLMSpec) -> None:
        from pvigroup.llm.api import ChatClient

        self.client = ChatClient(spec)
        self.spec = spec
        self.load_seconds = 0.0

    def count_tokens(self, text: str) -> int:
        return math.ceil(len(text) / CHARS_PER_TOKEN)

    def prompt_budget(self, answers: Sequence[str]) -> int | None:
        return self.spec.max_prompt_tokens

    def score(self, prompts: Sequence[str], answers: Sequence[str]) -> np.ndarray:
        raise PvigroupError(
            f"llm {self.spec.name}: the API backend cannot score answers; it generates"
        )

    def generate(self, prompts: Sequence[str]) -> list[str]:
        return self.client.complete(prompts)


def make_backend(spec: LLMSpec, threads: int | None = None) -> Any:
    """The backend object of ``spec``: ``LocalLM`` or ``APIBackend``."""
    if spec.is_local:
        from pvigroup.llm.local import LocalLM

        return LocalLM(spec, threads=threads)
    return APIBackend(spec)


# -- metrics -----------------------------------------------------------------------------------
def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of exact matches (an unparseable prediction, -1, is wrong)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float(np.mean(y_true == y_pred)) if len(y_true) else float("nan")


def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float | None]:
    """Mean and t-interval half-width over draws (None for a single draw): the seeds' interval
    of the STL/MTL tables (:func:`pvigroup.train.aggregate.t_interval`)."""
    return t_interval(values, level)


# -- one job -----------------------------------------------------------------------------------
def _read_split(path: str | Path, task: str) -> pd.DataFrame:
    df = read_parquet(path)
    missing = {"id", "text", "label"} - set(df.columns)
    if missing:
        raise PvigroupError(f"{path}: missing column(s) {sorted(missing)} for task {task}")
    if "text_pair" not in df.columns:
        df["text_pair"] = None
    return df.reset_index(drop=True)


def prompt_llm(
    *,
    train: str | Path,
    test: str | Path,
    task_json: str | Path,
    llm: str,
    llm_cfg: Mapping[str, Any],
    options: Mapping[str, Any] | None,
    task_cfg: Mapping[str, Any] | None,
    predictions: str | Path,
    metrics: str | Path,
    threads: int | None = None,
    backend: Any = None,
) -> dict[str, Any]:
    """Prompt one LLM on one task's test split with few-shot prompts; write predictions and metrics.

    Parameters
    ----------
    train, test, task_json
        The task's prepared ``train.parquet``, ``test.parquet`` and ``task.json``.
    llm, llm_cfg
        The LLM key and its ``llm.models.<llm>`` config entry.
    options
        The ``llm:`` config section (``models`` is ignored): shots, draws, seed, templates,
        ``max_test_rows``.
    task_cfg
        The task's ``domain`` and ``private`` flags from the config (``private`` is OR-ed with
        task.json's).
    predictions, metrics
        Output paths (formats in docs/architecture.md and docs/llm.md).
    threads
        torch CPU threads for a local model.
    backend
        A ready backend (tests); default built from ``llm_cfg``.

    Returns
    -------
    dict
        The metrics record written to ``metrics``.

    Raises
    ------
    PvigroupError
        For a private task and a non-local backend (before any model is loaded or request sent),
        missing columns, a bad template, or an API failure.
    """
    t_start = time.perf_counter()
    spec = LLMSpec.from_config(llm, llm_cfg)
    opts = PromptOptions.from_config({k: v for k, v in (options or {}).items() if k != "models"})
    meta = read_json(task_json)
    task = str(meta.get("task", Path(task_json).parent.name))
    task_cfg = dict(task_cfg or {})
    private = bool(meta.get("private", False)) or bool(task_cfg.get("private", False))
    refuse_private(task, private, spec)  # before reading text, loading a model or sending anything

    task_prompt = TaskPrompt.from_meta(meta, opts)
    n_labels = len(task_prompt.labels)
    train_df, test_df = _read_split(train, task), _read_split(test, task)
    test_df = subsample_test(test_df, opts.max_test_rows, opts.seed)
    if test_df.empty:
        raise PvigroupError(f"{test}: no test rows for task {task}")
    bad = test_df.index[(test_df["label"] < 0) | (test_df["label"] >= n_labels)]
    if len(bad):
        raise PvigroupError(
            f"{test}: row id {test_df.at[bad[0], 'id']} has a label outside 0..{n_labels - 1}"
        )
    log.info(
        "task %s: %d test rows, %d labels, llm %s (%s)",
        task,
        len(test_df),
        n_labels,
        llm,
        spec.mode,
    )

    if backend is None:
        backend = make_backend(spec, threads=threads)
    load_seconds = float(getattr(backend, "load_seconds", 0.0))
    count = getattr(backend, "count_tokens", None)
    budget = (
        backend.prompt_budget(task_prompt.answers) if hasattr(backend, "prompt_budget") else None
    )

    frames, per_draw = [], []
    n_cut = 0
    t_infer = time.perf_counter()
    for draw in range(opts.shot_draws):
        shots = select_shots(train_df, n_labels, opts.shots_per_class, opts.seed + draw)
        want = n_labels * opts.shots_per_class
        if len(shots) < want:
            log.warning(
                "task %s draw %d: %d shots instead of %d (a label has too few training rows)",
                task,
                draw,
                len(shots),
                want,
            )
        prompts, caps = [], []
        for row in test_df.itertuples(index=False):
            pair = row.text_pair if task_prompt.pair else None
            prompt, cap = fit_prompt(
                task_prompt,
                shots,
                str(row.text),
                None if pair is None else str(pair),
                max_chars=spec.max_chars_per_text,
                max_tokens=budget,
                count_tokens=count,
            )
            prompts.append(prompt)
            caps.append(cap)
        n_cut += sum(c is not None for c in caps)
        hashes = [prompt_hash(p) for p in prompts]
        log.info(
            "task %s draw %d: shots %s; %d prompts (first hash %s)",
            task,
            draw,
            list(shots["id"]),
            len(prompts),
            hashes[0][:12],
        )
        if spec.mode == "loglik":
            scores = np.asarray(backend.score(prompts, list(task_prompt.answers)), dtype=float)
            parsed = scores.argmax(axis=1).astype(np.int64)
            raw = [task_prompt.answers[p].strip() for p in parsed]
            logliks = [list(map(float, s)) for s in scores]
        else:
            raw = list(backend.generate(prompts))
            parsed = np.array([parse_answer(r, task_prompt.labels) for r in raw], dtype=np.int64)
            logliks = [None] * len(raw)
        labels = test_df["label"].to_numpy(dtype=np.int64)
        frame = pd.DataFrame(
            {
                "draw": np.full(len(test_df), draw, dtype=np.int64),
                "id": test_df["id"].astype(str).to_numpy(),
                "prompt_hash": hashes,
                "raw_answer": raw,
                "parsed_label": parsed,
                "label": labels,
                "correct": parsed == labels,
                "logliks": logliks,
            }
        )
        frames.append(frame)
        per_draw.append(
            {
                "draw": draw,
                "seed": opts.seed + draw,
                "shots": [str(x) for x in shots["id"]],
                "accuracy": accuracy(labels, parsed),
                "macro_f1": macro_f1(labels, parsed, n_labels),
                "unparseable": int(np.sum(parsed < 0)),
            }
        )
        log.info(
            "task %s draw %d: accuracy %.3f, macro-F1 %.3f, unparseable %d",
            task,
            draw,
            per_draw[-1]["accuracy"],
            per_draw[-1]["macro_f1"],
            per_draw[-1]["unparseable"],
        )
    infer_seconds = time.perf_counter() - t_infer

    preds = pd.concat(frames, ignore_index=True)[PREDICTION_COLUMNS]
    acc, acc_ci = mean_ci([d["accuracy"] for d in per_draw])
    f1, f1_ci = mean_ci([d["macro_f1"] for d in per_draw])
    record = {
        "task": task,
        "llm": llm,
        "model": spec.label,
        "domain": task_cfg.get("domain", meta.get("domain", "general")),
        "private": private,
        "accuracy": acc,
        "macro_f1": f1,
        "accuracy_ci": acc_ci,
        "macro_f1_ci": f1_ci,
        "n": len(test_df),
        "n_test_total": int(meta.get("n", {}).get("test", len(test_df)))
        if isinstance(meta.get("n"), dict)
        else None,
        "unparseable": int(sum(d["unparseable"] for d in per_draw)),
        "shots": per_draw[0]["shots"],
        "draws": per_draw,
        "mode": spec.mode,
        "answers": list(task_prompt.answers),
        "truncation": {
            "max_chars_per_text": spec.max_chars_per_text,
            "max_prompt_tokens": budget,
            "prompts_cut_to_fit": n_cut,
        },
        "options": opts.as_dict(),
        "backend": {k: v for k, v in spec.as_dict().items() if k != "name"},
        "api": backend.client.stats.as_dict() if hasattr(backend, "client") else None,
        "timing": {
            "load_seconds": load_seconds,
            "inference_seconds": infer_seconds,
            "seconds_per_prompt": infer_seconds / (len(test_df) * opts.shot_draws),
            "total_seconds": time.perf_counter() - t_start,
        },
        "data_fingerprint": {"train": _fingerprint(train), "test": _fingerprint(test)},
        "pvigroup": __version__,
    }
    write_parquet(
        preds, predictions, {"task": task, "llm": llm, "mode": spec.mode, "model": spec.label}
    )
    write_json(record, metrics)
    log.info(
        "task %s llm %s: accuracy %.3f, macro-F1 %.3f, %d unparseable; %.1f s (%.2f s per prompt)",
        task,
        llm,
        acc,
        f1,
        record["unparseable"],
        record["timing"]["total_seconds"],
        record["timing"]["seconds_per_prompt"],
    )
    return record


def _fingerprint(path: str | Path) -> str | None:
    try:
        return read_meta(path).get("fingerprint")
    except Exception:  # noqa: BLE001 - provenance only
        return None


# -- tables ------------------------------------------------------------------------------------
def table_rows(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per (task, LLM), the paper's ``task | model | acc | F1`` plus CI and counts."""
    rows = [
        {
            "task": r["task"],
            "model": r.get("model", r["llm"]),
            "llm": r["llm"],
            "domain": r.get("domain", "general"),
            "accuracy": r["accuracy"],
            "macro_f1": r["macro_f1"],
            "accuracy_ci": r.get("accuracy_ci"),
            "macro_f1_ci": r.get("macro_f1_ci"),
            "n": r["n"],
            "unparseable": r["unparseable"],
            "draws": len(r.get("draws") or [None]),
        }
        for r in records
    ]
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def collect_llm(
    metrics: Sequence[str | Path], table07: str | Path, table08: str | Path
) -> pd.DataFrame:
    """Write Table 7 (general and biomedical tasks) and Table 8 (clinical tasks) as TSV.

    The table is chosen by the task's ``domain``, as the paper does; a private task of another
    domain stays in Table 7 (it only ever ran on a local LLM).

    Rows keep the order of ``metrics`` (sorted task, then LLM as configured). A table with no row
    has the header only.
    """
    records = [read_json(p) for p in metrics]
    df = table_rows(records)
    clinical = (df["domain"] == "clinical").to_numpy()
    out = df
    write_tsv(out[~clinical], table07)
    write_tsv(out[clinical], table08)
    log.info(
        "LLM tables: %d rows in %s, %d in %s",
        int((~clinical).sum()),
        table07,
        int(clinical.sum()),
        table08,
    )
    return out
