"""LLM few-shot baselines (the paper's Tables 7-8): prompts, local and API backends, privacy guard.

Public entry points:

- ``prompt_llm`` — one LLM on one task's test split (rule ``prompt_llm``).
- ``collect_llm`` — Tables 7 and 8 as TSV (rule ``collect_llm``).
- ``check_privacy`` — parse-time refusal of private tasks for non-local backends.
- ``llm_jobs``, ``llm_targets``, ``llm_metric_paths``, ``api_key_envvars``, ``needs_gpu`` — workflow helpers.
- ``smollm2_dir`` — the demo model's folder (``pretrained: "py:pvigroup.llm.smollm2_dir"``).
"""

from pvigroup.llm.local import smollm2_dir
from pvigroup.llm.prompts import PromptOptions, TaskPrompt, choices_text, parse_answer
from pvigroup.llm.run import collect_llm, prompt_llm
from pvigroup.llm.spec import (
    LLMSpec,
    api_key_envvars,
    check_privacy,
    llm_jobs,
    llm_metric_paths,
    llm_targets,
    needs_gpu,
    targets_function,
    task_flags,
)

__all__ = [
    "LLMSpec",
    "PromptOptions",
    "TaskPrompt",
    "api_key_envvars",
    "check_privacy",
    "choices_text",
    "collect_llm",
    "llm_jobs",
    "llm_metric_paths",
    "llm_targets",
    "needs_gpu",
    "parse_answer",
    "prompt_llm",
    "smollm2_dir",
    "targets_function",
    "task_flags",
]
