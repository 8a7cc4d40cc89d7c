"""What computing a grouping cost: the job-seconds of the Snakemake ``benchmarks/`` files of the
rules that compute it (wall seconds, column ``s``), and the estimated GPU-hours of the same rules
from :func:`pvigroup.estimate.estimate` where it can price them.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pvigroup.errors import PvigroupError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cost:
    """What computing one grouping cost.

    Attributes
    ----------
    jobs : int
        Jobs of the grouping's rules (benchmark files expected).
    measured : int
        Those with a benchmark file.
    job_seconds : float
        Sum over the measured jobs of their wall seconds (mean of a file's repeats); NaN when no
        job was measured and some were expected, 0 for a grouping with no job (manual).
    gpu_hours : float
        Estimated GPU-hours of the same rules (NaN: not available, see ``note``).
    note : str
        What the numbers cover or why one is missing.
    """

    jobs: int
    measured: int
    job_seconds: float
    gpu_hours: float
    note: str


def benchmark_seconds(path: str | Path) -> float:
    """Wall seconds of one Snakemake benchmark file (the mean of its repeats, column ``s``)."""
    path = Path(path)
    df = pd.read_csv(path, sep="\t")
    if "s" not in df.columns or df.empty:
        raise PvigroupError(f"{path}: not a Snakemake benchmark file (no 's' column or no row)")
    s = pd.to_numeric(df["s"], errors="coerce")
    if s.isna().any():
        raise PvigroupError(f"{path}, line {int(np.flatnonzero(s.isna())[0]) + 2}: "
                            f"s is not a number ({df['s'].iloc[int(np.flatnonzero(s.isna())[0])]!r})")
    return float(s.mean())


def measure_cost(files: Sequence[str | Path], *, gpu_hours: float = np.nan,
                 gpu_note: str = "", shared: str = "") -> Cost:
    """The :class:`Cost` of one grouping from its expected benchmark files (missing ones are
    counted, not guessed)."""
    found = [Path(f) for f in files if Path(f).exists()]
    seconds = sum(benchmark_seconds(f) for f in found)
    if files and not found:
        seconds = np.nan
    notes = []
    if not files:
        notes.append("no job computes it")
    elif len(found) < len(files):
        notes.append(f"{len(files) - len(found)} of {len(files)} jobs have no benchmark file")
    if shared:
        notes.append(shared)
    if gpu_note:
        notes.append(gpu_note)
    return Cost(len(files), len(found), float(seconds), float(gpu_hours), "; ".join(notes))


def grouping_benchmarks(config: Mapping[str, Any], model: str) -> dict[str, dict[str, list[str]]]:
    """The benchmark files of the jobs that compute each grouping of ``model``, by rule.

    ``{source: {rule: [paths]}}`` for the sources in ``train.sources``: the PVI sources share the
    PVI stage (g′, g when ``pvi.null_model`` is ``finetune``, the read-out, per task) and the
    tests and grouping jobs; TaskEmb its embedding jobs, the similarity and the grouping (plus
    the g′ models it reads with ``baselines.taskemb.source: gprime``); the surrogate models their
    subset runs, the fit and the grouping; TAG its affinity run and the grouping; a hand-listed
    grouping costs nothing. Data preparation, shared by every source, is not counted.
    """
    from pvigroup import baselines as bl
    from pvigroup import workflow as wf

    tasks = wf.model_tasks(config, model)
    sources = list(config["train"]["sources"])
    pvi = {"finetune_gprime": [f"benchmarks/pvi/{model}/{t}/finetune_gprime.tsv" for t in tasks]}
    if config["pvi"]["null_model"] == "finetune":
        pvi["finetune_null"] = [f"benchmarks/pvi/{model}/{t}/finetune_null.tsv" for t in tasks]
    pvi["compute_pvi"] = [f"benchmarks/pvi/{model}/{t}/compute_pvi.tsv" for t in tasks]
    if len(tasks) >= 2:
        pvi["pair_tests"] = [f"benchmarks/stats/{model}/pair_tests.tsv"]
    if wf.has_group_tests(config, model):
        ext = Path(wf.test_table(config, model, "triples")).suffix.lstrip(".")
        pvi["group_tests"] = [f"benchmarks/stats/{model}/group_tests_{ext}.tsv"]
    pvi["select_groups"] = [f"benchmarks/groups/{model}/select_groups.tsv"]
    out: dict[str, dict[str, list[str]]] = {}
    for source in sources:
        if source in ("pvi-similar", "pvi-dissimilar"):
            out[source] = pvi
        elif source == "manual":
            out[source] = {}
        elif source in bl.enabled_methods(config):
            base = f"benchmarks/baselines/{source}/{model}"
            rules: dict[str, list[str]] = {}
            if source == "taskemb":
                if config["baselines"]["taskemb"]["source"] == "gprime":
                    rules["finetune_gprime"] = pvi["finetune_gprime"]
                rules["taskemb_embed"] = [f"{base}/{t}/taskemb_embed.tsv" for t in tasks]
                rules["taskemb_similarity"] = [f"{base}/taskemb_similarity.tsv"]
            elif source == "surrogate":
                rules["surrogate_run"] = [f"{base}/runs/{s}/surrogate_run.tsv"
                                          for s in bl.surrogate_subsets(config, model)]
                rules["surrogate_fit"] = [f"{base}/surrogate_fit.tsv"]
            elif source == "tag":
                rules["tag_affinity"] = [f"{base}/tag_affinity.tsv"]
            rules["baseline_groups"] = [f"{base}/baseline_groups.tsv"]
            out[source] = rules
    return out


#: Rules whose cost the estimate prices, by the rule names of :func:`grouping_benchmarks`.
GPU_RULES = ("finetune_gprime", "finetune_null", "compute_pvi", "taskemb_embed",
             "surrogate_run", "tag_affinity")


def estimated_gpu_hours(config: Mapping[str, Any], model: str, *,
                        workdir: str | Path = ".") -> dict[str, float]:
    """Estimated GPU-hours of each GPU rule for ``model`` alone (``pvigroup estimate`` on a copy
    of the config with only this model, no training, no LLM and no PVI seed replicates).

    Raises whatever the estimate raises (``PvigroupError`` for a config it refuses).
    """
    from pvigroup.estimate import estimate

    one = copy.deepcopy(dict(config))
    one["models"] = {model: config["models"][model]}
    one["train"] = {**one["train"], "enabled": False}
    one["llm"] = {**(one.get("llm") or {}), "models": {}}
    one["pvi"] = {**one["pvi"], "variability_seeds": []}
    est = estimate(one, device="gpu", workdir=workdir)
    return {r.rule: float(r.hours) for r in est.rules if r.rule in GPU_RULES}


def grouping_costs(config: Mapping[str, Any], model: str, *, workdir: str | Path = ".",
                   gpu_hours: Mapping[str, float] | None = None,
                   gpu_note: str = "") -> dict[str, Cost]:
    """The :class:`Cost` of each source of ``train.sources`` for ``model``.

    ``gpu_hours`` are the estimate's GPU-hours per rule (:func:`estimated_gpu_hours`); ``None``
    means not available, and ``gpu_note`` says why.
    """
    workdir = Path(workdir)
    out = {}
    for source, rules in grouping_benchmarks(config, model).items():
        files = [workdir / p for paths in rules.values() for p in paths]
        hours = np.nan
        note = gpu_note
        if gpu_hours is not None and not rules:
            hours, note = 0.0, ""
        elif gpu_hours is not None:
            hours = float(sum(gpu_hours.get(r, 0.0) for r in rules))
            note = "GPU-hours: pvigroup estimate of " + (
                ", ".join(r for r in rules if r in GPU_RULES) or "no GPU rule")
        shared = ""
        if source in ("pvi-similar", "pvi-dissimilar"):
            shared = "the PVI stage, tests and grouping, shared by both PVI sources"
        elif source == "taskemb" and "finetune_gprime" in rules:
            shared = "includes the g′ fine-tuning it shares with PVI"
        out[source] = measure_cost(files, gpu_hours=hours, gpu_note=note, shared=shared)
    return out
