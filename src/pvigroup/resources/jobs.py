"""Memory (MB) and wall time (minutes) of single jobs: training, read-out, LLM prompting, CPU rules.

Every estimate is a pure function of its arguments (a :class:`~pvigroup.resources.costs.ModelCost`,
row counts, hyperparameters, the retry ``attempt`` and the output of
:func:`~pvigroup.resources.costs.settings`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from pvigroup.errors import PvigroupError
from pvigroup.resources.costs import DEFAULTS, REF_TOKENS, ModelCost

#: Resources of the CPU rules that run on the cluster: (mem_mb, runtime minutes) at attempt 1.
#: Rules listed in ``localrules`` (select_groups, manual_groups, tables, ...) need none.
CPU_RULES: dict[str, tuple[int, int]] = {
    "fetch_demo_corpus": (2000, 30),
    "make_twin_task": (2000, 10),
    "prepare_task": (4000, 30),
    "fit_empirical_prior": (2000, 10),
    "pair_tests": (2000, 10),  # every pair of a model in one job
    "group_tests": (4000, 30),  # every group of 3+ tasks of a model in one job
    "taskemb_similarity": (2000, 10),
    "surrogate_fit": (4000, 30),
    "collect_train": (2000, 10),
    "make_table": (2000, 10),
    "plot": (2000, 10),
}


def _round_up(value: float, step: float) -> int:
    return int(math.ceil(value / step) * step)


def train_mem_mb(
    cost: ModelCost,
    *,
    n_rows: int,
    batch_size: int,
    max_length: int,
    gpu: bool = True,
    attempt: int = 1,
    res: Mapping[str, Any] = DEFAULTS,
) -> int:
    """Host memory (MB) for training or reading out one encoder.

    Base process memory, plus twice the fp32 weights (state dict and model while loading or
    checkpointing), plus the tokenised data (ids and mask, int64), plus on a CPU node the optimizer
    state (AdamW: two more copies) and the activations kept for the backward pass. Multiplied by
    ``attempt`` and rounded up to ``mem_step_mb``.
    """
    _check_positive(n_rows=n_rows, batch_size=batch_size, max_length=max_length, attempt=attempt)
    data_mb = n_rows * max_length * 16 / 1e6
    if cost.host_mem_mb:  # measured (calibration): the process as it ran, plus this job's data
        return _round_up((cost.host_mem_mb + data_mb) * attempt, res["mem_step_mb"])
    weights_mb = cost.params_m * 4  # fp32: 4 bytes per parameter, params in millions
    mb = res["base_mem_mb"] + 2 * weights_mb + data_mb
    if not gpu:
        # ~12 fp32 activations of hidden width per token and layer survive until backward
        activations_mb = batch_size * max_length * cost.hidden * cost.layers * 4 * 12 / 1e6
        mb += 3 * weights_mb + activations_mb
    return _round_up(mb * attempt, res["mem_step_mb"])


def train_runtime_min(
    cost: ModelCost,
    *,
    n_train: int,
    n_eval: int,
    epochs: int,
    batch_size: int,
    max_length: int,
    runs: int = 1,
    gpu: bool = True,
    attempt: int = 1,
    res: Mapping[str, Any] = DEFAULTS,
) -> int:
    """Wall time (minutes) for ``runs`` trainings of ``epochs`` epochs with an evaluation per epoch.

    A step's time scales with its token count relative to the reference batch (32 x 128); an
    evaluation pass costs a third of a training pass over the same rows. The seconds are
    multiplied by ``safety``, the start-up ``overhead_minutes`` is added, the total is multiplied
    by ``attempt``, floored at ``min_runtime`` and rounded up to ``runtime_step``.
    """
    _check_positive(
        n_train=n_train,
        epochs=epochs,
        batch_size=batch_size,
        max_length=max_length,
        runs=runs,
        attempt=attempt,
    )
    if n_eval < 0:
        raise PvigroupError(f"n_eval must be >= 0, got {n_eval}")
    step_s = cost.gpu_step_seconds if gpu else cost.cpu_step_seconds
    step_s *= batch_size * max_length / REF_TOKENS
    steps = math.ceil(n_train / batch_size) + math.ceil(n_eval / batch_size) / 3
    seconds = runs * epochs * steps * step_s * res["safety"]
    minutes = (res["overhead_minutes"] + seconds / 60) * attempt
    return _round_up(max(minutes, res["min_runtime"]), res["runtime_step"])


def llm_mem_mb(*, attempt: int = 1, res: Mapping[str, Any] = DEFAULTS) -> int:
    """Host memory (MB) for loading a local LLM (bf16, 2 bytes per parameter) and prompting it."""
    _check_positive(attempt=attempt)
    mb = res["base_mem_mb"] + res["llm_params_b"] * 2000
    return _round_up(mb * attempt, res["mem_step_mb"])


def llm_runtime_min(*, n_prompts: int, attempt: int = 1, res: Mapping[str, Any] = DEFAULTS) -> int:
    """Wall time (minutes) for ``n_prompts`` few-shot prompts."""
    _check_positive(n_prompts=n_prompts, attempt=attempt)
    seconds = n_prompts * res["llm_seconds_per_prompt"] * res["safety"]
    minutes = (res["overhead_minutes"] + seconds / 60) * attempt
    return _round_up(max(minutes, res["min_runtime"]), res["runtime_step"])


def gpu_job(config: Mapping[str, Any]) -> dict[str, int]:
    """``{"gpu", "threads"}`` of the rules that train or read out a model.

    On GPUs (``engine.device`` auto or cuda) each job asks for one GPU and two cores (tokenising,
    data loading); the workstation profile's ``gpu=1`` then runs them one at a time. With
    ``engine.device: cpu`` they ask for no GPU and one core each, so a CPU-only machine runs as
    many side by side as ``--cores`` allows (two one-thread jobs on two cores finish sooner than
    one two-thread job after another: start-up, tokenising and saving are single-threaded).
    ``engine.threads`` > 0 sets the cores per job in both cases.
    """
    engine = config.get("engine") or {}
    threads = int(engine.get("threads") or 0)
    if engine.get("device", "auto") == "cpu":
        return {"gpu": 0, "threads": threads or 1}
    return {"gpu": 1, "threads": threads or 2}


def cpu_rule(rule: str, attempt: int = 1) -> dict[str, int]:
    """``{"mem_mb", "runtime"}`` of a small CPU rule (see :data:`CPU_RULES`), scaled by attempt."""
    if rule not in CPU_RULES:
        raise PvigroupError(
            f"no resource defaults for rule {rule!r}; known: {', '.join(CPU_RULES)}"
        )
    _check_positive(attempt=attempt)
    mem, runtime = CPU_RULES[rule]
    return {"mem_mb": mem * attempt, "runtime": runtime * attempt}


def cpu_rule_resources(rule: str) -> dict[str, Callable[..., int]]:
    """``{"mem_mb": f, "runtime": f}`` for a CPU rule: :func:`cpu_rule` as Snakemake callables."""
    cpu_rule(rule)  # fail at parse time on an unknown rule

    def mem(wildcards: Any, attempt: int = 1) -> int:
        return cpu_rule(rule, attempt)["mem_mb"]

    def runtime(wildcards: Any, attempt: int = 1) -> int:
        return cpu_rule(rule, attempt)["runtime"]

    return {"mem_mb": mem, "runtime": runtime}


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise PvigroupError(f"{name} must be >= 1, got {value}")
