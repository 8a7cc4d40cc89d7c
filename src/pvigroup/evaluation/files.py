"""The evaluation stage's files: what each workflow rule reads and writes (the science is in
:mod:`~pvigroup.evaluation.gain`, :mod:`~pvigroup.evaluation.methods`,
:mod:`~pvigroup.evaluation.predictor`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from pvigroup.errors import PvigroupError
from pvigroup.evaluation.answer import answer_html, answer_sentence
from pvigroup.evaluation.cost import estimated_gpu_hours, grouping_costs
from pvigroup.evaluation.gain import group_gains
from pvigroup.evaluation.methods import compare_methods
from pvigroup.evaluation.predictor import (
    MIN_PAIRS,
    N_PERMUTATIONS,
    PREDICTOR_COLUMNS,
    PredictorResult,
    pvi_predictor,
)
from pvigroup.io import read_tsv, write_tsv

log = logging.getLogger(__name__)


def gpu_hours_or_note(config: Mapping[str, Any], model: str,
                      workdir: str | Path = ".") -> tuple[dict[str, float] | None, str]:
    """The estimate's GPU-hours per rule, or ``None`` and why they are not available."""
    try:
        return estimated_gpu_hours(config, model, workdir=workdir), ""
    except (PvigroupError, KeyError, ValueError, OSError) as err:
        log.warning("GPU-hours not estimated for %s: %s", model, err)
        return None, f"GPU-hours not available (the estimate failed: {err})"


def evaluate_model(summary_tsv: str | Path, pairs_tsv: str | Path | None, *, out_gain: str | Path,
                   out_groups: str | Path, out_methods: str | Path, out_predictor: str | Path,
                   out_pairs: str | Path, model: str, sources: Sequence[str], alpha: float,
                   level: float = 0.95, seed: int = 0, n_permutations: int = N_PERMUTATIONS,
                   min_pairs: int = MIN_PAIRS, config: Mapping[str, Any] | None = None,
                   workdir: str | Path = ".") -> None:
    """Gain per group and task, methods side by side, and the PVI predictor for one model.

    Parameters
    ----------
    summary_tsv
        ``results/train/{model}/summary.tsv``.
    pairs_tsv
        ``results/stats/{model}/pairs.tsv`` (``None`` for a model with one task: no pair).
    out_gain, out_groups, out_methods, out_predictor, out_pairs
        ``gain.tsv``, ``groups.tsv``, ``methods.tsv``, ``predictor.tsv`` and the trained pairs
        the predictor read (``pairs.tsv``) under ``results/evaluation/{model}/``.
    model, sources, alpha, level, seed
        The model key, ``train.sources``, ``stats.alpha``, ``train.ci_level`` and the seed of the
        permutation tests (``stats.seed``).
    config
        The validated config, for the grouping costs (``None``: costs not computed).
    workdir
        Where ``benchmarks/`` is.
    """
    summary = read_tsv(summary_tsv)
    gains = group_gains(summary, model=model, level=level, where=str(summary_tsv))
    costs = {}
    if config is not None:
        hours, note = gpu_hours_or_note(config, model, workdir)
        costs = grouping_costs(config, model, workdir=workdir, gpu_hours=hours, gpu_note=note)
    methods = compare_methods(gains.groups, model=model, sources=sources, costs=costs,
                              level=level)
    if pairs_tsv is not None:
        pred = pvi_predictor(gains.groups, read_tsv(pairs_tsv), model=model, alpha=alpha,
                             seed=seed, n_permutations=n_permutations, min_pairs=min_pairs,
                             where=str(pairs_tsv))
    else:
        pred = PredictorResult(pd.DataFrame(columns=list(PREDICTOR_COLUMNS)),
                               pd.DataFrame(columns=["group", "tasks", "pair_pvalue",
                                                     "abs_mean_diff", "accepted", "acc_gain",
                                                     "f1_gain"]), alpha)
    write_tsv(gains.tasks, out_gain)
    write_tsv(gains.groups, out_groups)
    write_tsv(methods.table, out_methods)
    write_tsv(pred.table, out_predictor)
    write_tsv(pred.pairs, out_pairs)
    log.info("model %s: %d group(s), %d group task(s), %d trained pair(s)", model,
             len(gains.groups), len(gains.tasks), len(pred.pairs))


def write_answer(methods: Mapping[str, str | Path], predictors: Mapping[str, str | Path],
                 out: str | Path) -> dict[str, str]:
    """The report page ``results/evaluation/answer.html``: one sentence per model (model key to
    its ``methods.tsv`` and ``predictor.tsv``). Returns the sentences."""
    sentences = {m: answer_sentence(m, read_tsv(methods[m]), read_tsv(predictors[m]))
                 for m in sorted(methods)}
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(answer_html(sentences))
    for s in sentences.values():
        log.info("%s", s)
    return sentences
