"""What the config says about the tables: task families, the model order, which stages run,
display names, the listed groups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pvigroup.errors import PvigroupError
from pvigroup.tables.paper import paper_task_names
from pvigroup.tables.spec import (
    BASELINE_METHODS,
    FAMILIES,
    FAMILY_OF_DOMAIN,
    FAMILY_TEXT,
    TablePlan,
    TableSpec,
    skip,
)
from pvigroup.workflow import model_tasks


def task_family(config: Mapping[str, Any], task: str) -> str:
    """``general-biomedical`` or ``clinical`` from the task's ``domain`` (default general)."""
    return FAMILY_OF_DOMAIN[config["tasks"][task].get("domain", "general")]


def model_order(config: Mapping[str, Any]) -> list[str]:
    """Models in ``tables.models`` order, then the remaining ones in config order."""
    listed = list((config.get("tables") or {}).get("models") or [])
    for m in listed:
        if m not in config["models"]:
            raise PvigroupError(f"config: tables.models names '{m}', which is not under models "
                                f"(known: {', '.join(sorted(config['models']))})")
    return listed + [m for m in config["models"] if m not in listed]


def family_models(config: Mapping[str, Any], family: str) -> list[str]:
    """Models (priority order) used for at least one task of ``family``."""
    return [m for m in model_order(config)
            if any(task_family(config, t) == family for t in model_tasks(config, m))]


def main_models(config: Mapping[str, Any]) -> list[str]:
    """The distinct main models of the two families (the models of Tables 1-6, 11-14)."""
    out: list[str] = []
    for fam in FAMILIES:
        models = family_models(config, fam)
        if models and models[0] not in out:
            out.append(models[0])
    return out


def stage_configured(config: Mapping[str, Any], stage: str) -> bool:
    """Whether a later stage (``train``, ``llm``, ``baselines``) runs with this config.

    The same tests the workflow applies: ``llm`` runs when ``llm.models`` lists at least one LLM;
    ``train`` and ``baselines`` when their ``enabled`` key is true (the schema's default). An
    unvalidated section without ``enabled`` counts as configured when it is a non-empty mapping.
    """
    section = config.get(stage)
    if not isinstance(section, Mapping):
        return bool(section)
    if stage == "llm":
        return bool(section.get("models"))
    if "enabled" in section:
        return bool(section["enabled"])
    return bool(section)


def baseline_methods(config: Mapping[str, Any]) -> list[str]:
    """Baseline grouping methods configured: ``baselines.methods`` if given, else the
    ``taskemb``/``surrogate`` subsections present (and not ``enabled: false``)."""
    if not stage_configured(config, "baselines"):
        return []
    section = config["baselines"]
    if "methods" in section:
        return [m for m in BASELINE_METHODS if m in (section["methods"] or [])]
    out = []
    for m in BASELINE_METHODS:
        sub = section.get(m)
        if sub is None or sub is False:
            continue
        if isinstance(sub, Mapping) and sub.get("enabled", True) is False:
            continue
        out.append(m)
    return out


def display_names(config: Mapping[str, Any]) -> dict[str, str]:
    """Task id to the name shown in tables: ``tables.names``, else the paper's name, else the id."""
    names = dict((config.get("tables") or {}).get("names") or {})
    paper = paper_task_names()
    return {t: str(names.get(t, paper.get(t, t))) for t in config["tasks"]}


def listed_groups(config: Mapping[str, Any], model: str, source: str,
                  tasks: Sequence[str]) -> list[list[str]]:
    """The ``grouping.manual`` groups a Tables 3-6 (15-16) table lists first, in the listed
    order with their tasks as listed: role ``similar`` for the ``pvi-similar`` tables, role
    ``dissimilar`` for the ``pvi-dissimilar`` ones; only when ``manual`` is in train.sources
    and every task is in ``tasks``."""
    from pvigroup.workflow import manual_entries_for

    if "manual" not in ((config.get("train") or {}).get("sources") or []):
        return []
    role = {"pvi-similar": "similar", "pvi-dissimilar": "dissimilar"}.get(source)
    return [e["tasks"] for e in manual_entries_for(config, model)
            if e["role"] == role and set(e["tasks"]) <= set(tasks)]


def family_tasks(config: Mapping[str, Any], spec: TableSpec) -> list[str] | TablePlan:
    """The configured tasks of the spec's family (sorted), or the skip plan when there is none."""
    tasks = [t for t in sorted(config["tasks"]) if task_family(config, t) == spec.family]
    if not tasks:
        return skip(spec.number, f"no {FAMILY_TEXT[spec.family]} task is configured (tasks.*.domain)")
    return tasks


def family_model_settings(config: Mapping[str, Any], spec: TableSpec,
                          base: Mapping[str, Any]) -> dict[str, Any] | TablePlan:
    """``base`` plus the table's ``model`` (rank ``spec.rank`` of the family), its ``pretrained``
    id and its ``tasks`` of the family; or the skip plan when the family has no such model."""
    fam_tasks = family_tasks(config, spec)
    if isinstance(fam_tasks, TablePlan):
        return fam_tasks
    models = family_models(config, spec.family)
    if len(models) <= spec.rank:
        which = "a second model" if spec.rank else "a model"
        return skip(spec.number,
                    f"no {FAMILY_TEXT[spec.family]} tasks have {which} (models.*.tasks)")
    model = models[spec.rank]
    tasks = [t for t in fam_tasks if t in model_tasks(config, model)]
    return {**base, "model": model, "pretrained": str(config["models"][model]["pretrained"]),
            "tasks": tasks}
