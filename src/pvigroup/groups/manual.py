"""Hand-listed groups (``grouping.manual``) and reading group files.

An entry of ``grouping.manual`` is either a plain task list (``[rte, boolq]``) or a named group
with a role: ``{name: table3-boolq-rte, tasks: [boolq, rte], role: similar}``. ``role`` says
which of the paper's tables the group's STL/MTL rows appear in: ``similar`` (Tables 3-4, 15-16),
``dissimilar`` (the negative control, Tables 5-6) or ``other`` (trained and aggregated, in no
paper table; the plain-list form). Tasks keep the order they are listed in (the table rows do).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pvigroup.errors import PvigroupError
from pvigroup.groups.select import GROUP_COLUMNS, _empty
from pvigroup.io import read_tsv, write_tsv
from pvigroup.workflow import NAME_RE, group_id

ROLES = ("similar", "dissimilar", "other")
MANUAL_COLUMNS = (*GROUP_COLUMNS, "name", "role", "listed")


def manual_entry(entry: Any, key: str) -> dict[str, Any]:
    """One ``grouping.manual`` entry as ``{"name", "tasks", "role"}`` (tasks as listed).

    Raises
    ------
    PvigroupError
        Not a list of task ids nor a mapping with ``tasks``, an unknown key, or a bad role.
    """
    if isinstance(entry, Mapping):
        unknown = sorted(set(entry) - {"name", "tasks", "role"})
        if unknown or "tasks" not in entry:
            raise PvigroupError(f"{key}: a named group has keys name, tasks, role"
                                + (f" (unknown: {', '.join(unknown)})" if unknown else
                                   " (tasks is missing)"))
        role = entry.get("role") or "other"
        if role not in ROLES:
            raise PvigroupError(f"{key}: role {role!r}; valid: {', '.join(ROLES)}")
        tasks, name = entry["tasks"], entry.get("name")
    else:
        tasks, name, role = entry, None, "other"
    if isinstance(tasks, str) or not isinstance(tasks, Sequence):
        raise PvigroupError(f"{key}: a group is a list of task ids, got {tasks!r}")
    return {"name": None if name is None else str(name), "tasks": [str(t) for t in tasks],
            "role": role}


def manual_groups(
    groups: Sequence[Sequence[str] | Mapping[str, Any]],
    known_tasks: Iterable[str] | None,
    out_tsv: str | Path,
) -> pd.DataFrame:
    """Write groups listed by hand (config ``grouping.manual``) in the groups format.

    Rows keep the listed order; the columns are :data:`GROUP_COLUMNS` then ``name``, ``role``
    and ``listed`` (the tasks in the order given, which the paper tables print).
    ``known_tasks=None`` skips the unknown-task check (the config check already ran).

    Raises
    ------
    PvigroupError
        An unknown task (named, with its position ``grouping.manual[i]``), a group with fewer
        than 2 distinct tasks or a task repeated inside it, the same group listed twice, or a
        name used twice.
    """
    known = None if known_tasks is None else set(known_tasks)
    rows = []
    seen: dict[str, int] = {}
    names: dict[str, int] = {}
    for i, g in enumerate(groups):
        key = f"grouping.manual[{i}]"
        entry = manual_entry(g, key)
        tasks = entry["tasks"]
        unknown = [] if known is None else [x for x in tasks if x not in known]
        if unknown:
            raise PvigroupError(
                f"{key}: unknown task(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})"
            )
        if len(set(tasks)) != len(tasks):
            raise PvigroupError(f"{key}: a task is listed twice in {tasks}")
        if len(tasks) < 2:
            raise PvigroupError(f"{key}: a group needs at least 2 tasks, got {tasks}")
        gid = group_id(tasks)
        if gid in seen:
            raise PvigroupError(f"{key}: group {gid} is already grouping.manual[{seen[gid]}]")
        if entry["name"] is not None and entry["name"] in names:
            raise PvigroupError(f"{key}: name {entry['name']!r} is already "
                                f"grouping.manual[{names[entry['name']]}]")
        seen[gid] = i
        if entry["name"] is not None:
            names[entry["name"]] = i
        rows.append({"group": gid, "tasks": ",".join(sorted(tasks)), "size": len(tasks),
                     "source": "manual", "test": "", "statistic": np.nan, "pvalue": np.nan,
                     "score": np.nan, "name": entry["name"] or "", "role": entry["role"],
                     "listed": ",".join(tasks)})
    out = pd.DataFrame(rows, columns=list(MANUAL_COLUMNS)) if rows else _empty(
        ("name", "role", "listed"))
    write_tsv(out, out_tsv)
    return out


def read_groups(tsv: str | Path) -> pd.DataFrame:
    """Read a groups file (``similar.tsv``, ``manual.tsv``, baselines' ``groups.tsv``), checked.

    Returns
    -------
    DataFrame
        The file's columns; ``tasks`` stays comma-joined, ``size`` is int.

    Raises
    ------
    PvigroupError
        Missing columns, a group id that does not match its tasks, a bad size or task name
        (the message names the file and row).
    """
    path = Path(tsv)
    df = read_tsv(path)
    missing = [c for c in GROUP_COLUMNS if c not in df.columns]
    if missing:
        raise PvigroupError(f"{path}: missing column(s) {', '.join(missing)}")
    for i, (gid, listed, size) in enumerate(zip(df["group"], df["tasks"], df["size"],
                                                strict=True)):
        tasks = str(listed).split(",")
        if any(not NAME_RE.match(x) for x in tasks) or len(set(tasks)) != len(tasks):
            raise PvigroupError(f"{path}: row {i + 2}: bad tasks {listed!r}")
        if group_id(tasks) != str(gid):
            raise PvigroupError(
                f"{path}: row {i + 2}: group {gid!r} does not match tasks {listed!r}"
            )
        if int(size) != len(tasks):
            raise PvigroupError(f"{path}: row {i + 2}: size {size} but {len(tasks)} tasks")
    df["size"] = df["size"].astype(int)
    df["group"] = df["group"].astype(str)
    df["tasks"] = df["tasks"].astype(str)
    return df
