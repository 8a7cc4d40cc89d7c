"""Pure helpers the Snakefile uses to enumerate jobs: pairs, triples, group ids and targets."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence

SEP = "__"
NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]|_(?!_))*$")


def group_id(tasks: Iterable[str]) -> str:
    """The id of a group: its sorted, distinct task names joined by ``__``."""
    names = sorted(set(tasks))
    return SEP.join(names)


def group_tasks(gid: str) -> list[str]:
    return gid.split(SEP)


def combos(tasks: Sequence[str], k: int) -> list[str]:
    """Ids of all size-``k`` groups of ``tasks`` (sorted names), in lexicographic order."""
    return [SEP.join(c) for c in itertools.combinations(sorted(set(tasks)), k)]


def one_of(ids: Iterable[str]) -> str:
    """A regex matching exactly one of ``ids`` (for ``wildcard_constraints``)."""
    ids = list(ids)
    if not ids:
        return r"(?!x)x"  # matches nothing
    return "|".join(re.escape(i) for i in sorted(ids, key=lambda s: (-len(s), s)))
