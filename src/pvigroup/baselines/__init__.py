"""Baseline task groupings the paper compares with (Tables 11-14).

- :mod:`pvigroup.baselines.taskemb`: TaskEmb (Vu et al., 2020), Fisher-information task
  embeddings and their cosine similarity.
- :mod:`pvigroup.baselines.surrogate`: surrogate models (Li et al., 2023a), linear regression of
  short MTL runs' dev scores on sampled subsets' membership.
- :mod:`pvigroup.baselines.tag`: TAG inter-task affinity (Fifty et al., 2021), lookahead
  updates during one short MTL run over all of a model's tasks (beyond the paper).
- :mod:`pvigroup.baselines.grouping`: one greedy, disjoint, deterministic rule that turns any of
  these matrices into a group file in the PVI groups' format.
- :mod:`pvigroup.baselines.compare`: the baseline groups' MTL results next to ours, and how
  often each grouping beats STL.

Heavy modules (torch) are imported only by the functions that need them; the helpers below are
pure and used by ``workflow/rules/baselines.smk``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pvigroup.workflow import model_tasks

METHODS = ("taskemb", "surrogate", "tag")
#: The symmetric matrix each method's groups are formed from (TAG's directed Ẑ is affinity.tsv).
MATRIX_FILE = {"taskemb": "similarity.tsv", "surrogate": "affinity.tsv", "tag": "symmetric.tsv"}
#: The ``test`` column of a method's groups (surrogate: ``surrogate-<estimator>``).
GROUP_TEST = {"taskemb": "cosine", "tag": "tag-lookahead"}


def enabled_methods(config: Mapping[str, Any]) -> list[str]:
    """The baseline methods switched on in the validated config (``baselines.*.enabled``)."""
    section = config.get("baselines") or {}
    if not section.get("enabled", True):
        return []
    return [m for m in METHODS if (section.get(m) or {}).get("enabled", m == "taskemb")]


def reads_gprime(config: Mapping[str, Any]) -> bool:
    """Whether a baseline reads the PVI stage's g' models (TaskEmb with ``source: gprime``).

    The workflow then keeps them: a temporary g' deleted after the PVI stage would be retrained,
    and the PVI stage rerun, by a later run that asks for the TaskEmb embeddings.
    """
    return "taskemb" in enabled_methods(config) and (
        config["baselines"]["taskemb"].get("source", "gprime") == "gprime")


def compared_methods(config: Mapping[str, Any]) -> list[str]:
    """Enabled methods whose groups are trained (listed in ``train.sources``) and compared;
    none when ``baselines.compare`` is false or the train stage is off (``train.enabled``)."""
    if not (config.get("baselines") or {}).get("compare", True):
        return []
    if not (config.get("train") or {}).get("enabled", True):
        return []
    sources = set((config.get("train") or {}).get("sources") or [])
    return [m for m in enabled_methods(config) if m in sources]


def baseline_targets(config: Mapping[str, Any], model: str) -> list[str]:
    """Every file the baselines produce for ``model`` (for ``rule all``).

    Per enabled method: ``groups.tsv`` and the matrix it came from (TaskEmb ``similarity.tsv``,
    surrogate ``affinity.tsv``, TAG ``symmetric.tsv``, with TAG's directed ``affinity.tsv``
    beside it); per method whose groups are trained (``train.sources``):
    ``comparison.tsv``; and ``results/baselines/{model}/beat_stl.tsv`` when any is compared.
    """
    out = []
    for method in enabled_methods(config):
        root = f"results/baselines/{method}/{model}"
        out += [f"{root}/groups.tsv", f"{root}/{MATRIX_FILE[method]}"]
        if method == "tag":
            out.append(f"{root}/affinity.tsv")
    compared = compared_methods(config)
    out += [f"results/baselines/{m}/{model}/comparison.tsv" for m in compared]
    if compared:
        out.append(f"results/baselines/{model}/beat_stl.tsv")
    return out


def taskemb_embedding_files(config: Mapping[str, Any], model: str) -> list[str]:
    """One ``{task}.npy`` per task of ``model`` (one job each)."""
    return [f"results/baselines/taskemb/{model}/{t}.npy" for t in model_tasks(config, model)]


def surrogate_subsets(config: Mapping[str, Any], model: str) -> list[str]:
    """The subset ids sampled for ``model`` (deterministic from the seed and the task list)."""
    from pvigroup.baselines.surrogate import surrogate_plan

    return surrogate_plan(model_tasks(config, model), config["baselines"]["surrogate"])


def surrogate_run_files(config: Mapping[str, Any], model: str) -> list[str]:
    """One run file per sampled subset of ``model``."""
    return [f"results/baselines/surrogate/{model}/runs/{s}.json"
            for s in surrogate_subsets(config, model)]


def matrix_file(method: str, model: str) -> str:
    """The matrix a method's groups are formed from."""
    return f"results/baselines/{method}/{model}/{MATRIX_FILE[method]}"


def group_settings(config: Mapping[str, Any], method: str) -> dict[str, Any]:
    """The grouping slice of a method's section (the checkpoint's params)."""
    section = config["baselines"][method]
    test = GROUP_TEST.get(method) or f"surrogate-{section['estimator']}"
    return {"test": test, "sizes": list(section["group_sizes"]),
            "size_priority": section["size_priority"], "max_groups": section["max_groups"],
            "min_score": section["min_score"]}


def taskemb_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """What one TaskEmb job needs (not the grouping keys, so regrouping never re-embeds)."""
    section = config["baselines"]["taskemb"]
    keys = ("source", "split", "components", "fisher", "batch_size", "max_examples",
            "max_length", "seed")
    return {k: section[k] for k in keys}


def surrogate_run_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """What one surrogate run needs: training hyper-parameters, seeds, row cap."""
    section = config["baselines"]["surrogate"]
    return {"hparams": dict(section["train"]), "seeds": list(section["seeds"]),
            "max_train_rows": section["max_train_rows"]}


def surrogate_fit_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """What the surrogate fit needs."""
    section = config["baselines"]["surrogate"]
    return {k: section[k] for k in ("metric", "estimator", "ridge_alpha")}


def tag_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """What the TAG job needs (not the grouping keys, so regrouping never re-trains)."""
    section = config["baselines"]["tag"]
    return {"hparams": dict(section["train"]), "lookahead_lr": section["lookahead_lr"],
            "every": section["every"], "max_train_rows": section["max_train_rows"],
            "seed": section["seed"]}


__all__ = [
    "GROUP_TEST",
    "MATRIX_FILE",
    "METHODS",
    "baseline_targets",
    "compared_methods",
    "enabled_methods",
    "group_settings",
    "matrix_file",
    "reads_gprime",
    "surrogate_fit_settings",
    "surrogate_run_files",
    "surrogate_run_settings",
    "surrogate_subsets",
    "tag_settings",
    "taskemb_embedding_files",
    "taskemb_settings",
]
