"""Group files (the grouping's TSVs) and the STL/MTL run targets they imply."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from pvigroup.errors import PvigroupError
from pvigroup.io import read_tsv
from pvigroup.train.settings import GROUP_COLUMNS
from pvigroup.workflow import NAME_RE, group_id

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- groups
def read_groups(path: str | Path) -> pd.DataFrame:
    """Read a group file (similar.tsv, dissimilar.tsv, manual.tsv, baselines' groups.tsv).

    Checks the layout of docs/architecture.md: the columns are present, ``group`` is the id of
    ``tasks`` and ``size`` their number. Raises ``PvigroupError`` naming the file and row.
    """
    path = Path(path)
    df = read_tsv(path)
    missing = [c for c in ("group", "tasks", "size", "source") if c not in df.columns]
    if missing:
        raise PvigroupError(f"{path}: missing column(s) {', '.join(missing)} "
                            f"(expected {', '.join(GROUP_COLUMNS)})")
    for i, row in enumerate(df.itertuples(index=False), start=2):
        tasks = [t.strip() for t in str(row.tasks).split(",") if t.strip()]
        bad = [t for t in tasks if not NAME_RE.match(t)]
        if bad:
            raise PvigroupError(f"{path}, line {i}: task name(s) {bad} are not valid ids")
        if group_id(tasks) != row.group or len(set(tasks)) != len(tasks):
            raise PvigroupError(f"{path}, line {i}: group {row.group!r} does not match its "
                                f"tasks {row.tasks!r} (expected {group_id(tasks)!r})")
        if int(row.size) != len(tasks):
            raise PvigroupError(f"{path}, line {i}: size {row.size} but {len(tasks)} tasks")
    return df


def check_group(tasks: Sequence[str], *, model: str, where: str,
                known_tasks: Collection[str] | None = None,
                models: Mapping[str, Mapping[str, Any]] | None = None) -> None:
    """Raise ``PvigroupError`` unless every task of a group can be trained with ``model``.

    Parameters
    ----------
    tasks
        The group's task ids.
    model
        The model key the group is trained with.
    where
        Where the group comes from (file and line), for the message.
    known_tasks
        The configured task ids (``None``: not checked).
    models
        The ``models:`` config section (``None``: not checked). A task must be one of
        ``models.<model>.tasks`` (or that list is null); otherwise the message names the model
        family the task belongs to, since a group shares one encoder.
    """
    if known_tasks is not None:
        unknown = [t for t in tasks if t not in known_tasks]
        if unknown:
            raise PvigroupError(f"{where}: group {group_id(tasks)!r} names unknown task(s) "
                                f"{', '.join(unknown)}; known tasks: "
                                f"{', '.join(sorted(known_tasks))}")
    if models is not None:
        if model not in models:
            raise PvigroupError(f"{where}: unknown model {model!r}; models: "
                                f"{', '.join(sorted(models))}")
        served = models[model].get("tasks")
        family = models[model].get("family") or model
        for t in tasks:
            if served and t not in served:
                owners = [m for m, spec in sorted(models.items())
                          if not spec.get("tasks") or t in spec["tasks"]]
                fams = sorted({models[m].get("family") or m for m in owners})
                raise PvigroupError(
                    f"{where}: task {t!r} of group {group_id(tasks)!r} belongs to model family "
                    f"{', '.join(fams) or '(none)'} (models {', '.join(owners) or 'none'}), "
                    f"not to {family!r} (models.{model}.tasks); all tasks of a group must share "
                    f"the group's model family")


def group_sources(group_files: Iterable[str | Path], *, model: str | None = None,
                  known_tasks: Collection[str] | None = None,
                  models: Mapping[str, Mapping[str, Any]] | None = None
                  ) -> dict[str, list[str]]:
    """Map each MTL group id (two tasks or more) in ``group_files`` to its sorted sources.

    A group of one task is skipped with a warning (it is an STL run). Groups are checked with
    :func:`check_group` when ``model`` is given.
    """
    out: dict[str, set[str]] = {}
    for path in group_files:
        df = read_groups(path)
        for i, row in enumerate(df.itertuples(index=False), start=2):
            tasks = str(row.tasks).split(",")
            if len(tasks) < 2:
                log.warning("%s, line %d: group %s has one task; it is covered by STL", path, i,
                            row.group)
                continue
            if model is not None:
                check_group(tasks, model=model, where=f"{path}, line {i}",
                            known_tasks=known_tasks, models=models)
            out.setdefault(str(row.group), set()).add(str(row.source))
    return {g: sorted(s) for g, s in sorted(out.items())}


def mtl_targets(group_files: Iterable[str | Path], model: str, seeds: Sequence[int], *,
                groups: Iterable[Sequence[str]] = (),
                known_tasks: Collection[str] | None = None,
                models: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
    """The MTL ``metrics.json`` paths for every group in ``group_files``, every seed.

    A group listed in several files (e.g. similar and a baseline) is trained once. Paths are
    ``results/train/{model}/mtl/{group}/seed{seed}/metrics.json``, sorted by group then seed.

    Parameters
    ----------
    group_files
        Group TSVs in the layout of docs/architecture.md.
    model
        The model key.
    seeds
        The configured seeds (one seed is allowed; it gets no confidence interval).
    groups
        Further groups as task lists (e.g. ``grouping.manual`` from the config, known before any
        file exists).
    known_tasks, models
        When given, each group is checked with :func:`check_group`.
    """
    seeds = _check_seeds(seeds)
    found = set(group_sources(group_files, model=model, known_tasks=known_tasks, models=models))
    for i, tasks in enumerate(groups):
        tasks = list(tasks)
        if len(set(tasks)) < 2:
            log.warning("group %s has one task; it is covered by STL", tasks)
            continue
        check_group(tasks, model=model, where=f"group {i} of the listed groups",
                    known_tasks=known_tasks, models=models)
        found.add(group_id(tasks))
    return [f"results/train/{model}/mtl/{g}/seed{s}/metrics.json"
            for g in sorted(found) for s in seeds]


def stl_targets(tasks: Iterable[str], model: str, seeds: Sequence[int]) -> list[str]:
    """The STL ``metrics.json`` paths of every task and seed."""
    seeds = _check_seeds(seeds)
    return [f"results/train/{model}/stl/{t}/seed{s}/metrics.json"
            for t in sorted(set(tasks)) for s in seeds]


def _check_seeds(seeds: Sequence[int]) -> list[int]:
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise PvigroupError("train.seeds: at least one seed is needed")
    if len(set(seeds)) != len(seeds):
        raise PvigroupError(f"train.seeds: a seed is listed twice: {seeds}")
    return seeds
