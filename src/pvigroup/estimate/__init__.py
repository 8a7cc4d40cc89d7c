"""What a configured run will cost, before anything trains: jobs per stage and device-hours.

:func:`estimate` counts the jobs each rule will run for a validated config with the workflow's
own enumeration (:mod:`pvigroup.workflow`, :mod:`pvigroup.train`, :mod:`pvigroup.baselines`,
:mod:`pvigroup.llm`): stages switched off (``train.enabled: false``, baselines off) have no
jobs, and a config the workflow refuses at start-up (a private task listed for a non-local LLM)
is refused with the workflow's message. Each job is priced by :mod:`pvigroup.estimate.pricing`
(per length bucket, dev read-outs only at the epochs the grid may keep, the test split once, a
grid ``max_length`` that truncates nothing priced as the same run as the smaller one) with the
step times of :mod:`pvigroup.resources`.

MTL runs of groups the statistics (or a baseline) have not chosen yet are at most the bound of
:func:`pvigroup.groups.selection_bound` (``<=`` in the report); groups listed by hand, and group
files already written, are counted exactly.

Split sizes and token lengths: :mod:`pvigroup.estimate.sizes`. ``pvigroup estimate
[--configfile FILE]`` prints the report; docs/performance.md says how to measure a step time on
your own hardware and set it under ``resources.models``.

Modules: :mod:`~pvigroup.estimate.sizes`, :mod:`~pvigroup.estimate.pricing`,
:mod:`~pvigroup.estimate.report`, :mod:`~pvigroup.estimate.core`. Every name is importable
from ``pvigroup.estimate``.
"""

from pvigroup.estimate.core import (
    GPU_RULES,
    STAGES,
    STARTUP_SECONDS,
    estimate,
    load_config,
    refuse_what_the_workflow_refuses,
)
from pvigroup.estimate.pricing import TaskProfile, grid_seconds, pass_tokens
from pvigroup.estimate.report import CostEstimate, RuleCost
from pvigroup.estimate.sizes import counted_rows, split_sizes, token_lengths

__all__ = [
    "GPU_RULES",
    "STAGES",
    "STARTUP_SECONDS",
    "CostEstimate",
    "RuleCost",
    "TaskProfile",
    "counted_rows",
    "estimate",
    "grid_seconds",
    "load_config",
    "pass_tokens",
    "refuse_what_the_workflow_refuses",
    "split_sizes",
    "token_lengths",
]
