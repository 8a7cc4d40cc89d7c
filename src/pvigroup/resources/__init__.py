"""Cluster resources per rule: memory (MB) and wall time (minutes) from task and model size.

Rules declare ``mem_mb`` and ``runtime`` through the callables of :func:`rule_resources`, which
Snakemake evaluates once while building the DAG and again right before submitting a job (when
``results/data/{task}/task.json`` exists and gives the real split sizes). Every estimate is a
pure function of its arguments; the callables only gather those arguments from the config and
the task files.

Defaults fit the encoders the workflow uses (``roberta-large``; base-size BERT/RoBERTa such as
Bio+Clinical BERT; MiniLM for the demo). They can be tuned per model key in an optional config
section ``resources`` (see :data:`DEFAULTS` and ``docs/cluster.md``)::

    resources:
      safety: 1.5              # multiplies every time estimate
      models:
        roberta-large: {size: large, gpu_step_seconds: 0.2}

Estimates scale with the retry ``attempt`` (attempt 2 gets twice the memory and time), so a job
killed for exceeding its request succeeds on the retry the cluster profile allows.
"""

from pvigroup.resources.costs import (
    DEFAULTS,
    REF_TOKENS,
    SIZES,
    ModelCost,
    model_cost,
    settings,
    size_class,
)
from pvigroup.resources.jobs import (
    CPU_RULES,
    cpu_rule,
    cpu_rule_resources,
    gpu_job,
    llm_mem_mb,
    llm_runtime_min,
    train_mem_mb,
    train_runtime_min,
)

# private helpers, importable here too (tests use res._round_up)
from pvigroup.resources.jobs import _check_positive as _check_positive
from pvigroup.resources.jobs import _round_up as _round_up
from pvigroup.resources.rules import rule_resources, task_rows, train_hparams

__all__ = [
    "CPU_RULES",
    "DEFAULTS",
    "REF_TOKENS",
    "SIZES",
    "ModelCost",
    "cpu_rule",
    "cpu_rule_resources",
    "gpu_job",
    "llm_mem_mb",
    "llm_runtime_min",
    "model_cost",
    "rule_resources",
    "settings",
    "size_class",
    "task_rows",
    "train_hparams",
    "train_mem_mb",
    "train_runtime_min",
]
