"""Every table: its number, kind and where its rows come from (:data:`SPECS`).

A new table is one line of ``_TABLES``; if it is of a new kind, also one module of this package
that defines the kind (a :class:`~pvigroup.tables.spec.TableKind`: plan, read, build, caption),
as :mod:`pvigroup.tables.llm` does.
"""

from __future__ import annotations

from typing import Any

from pvigroup.tables import baseline, data, group_tests, llm, methods, stl_mtl
from pvigroup.tables.spec import TableKind, TableSpec


def _table(number: int, kind: TableKind, stage: str, **where: Any) -> tuple[TableSpec, TableKind]:
    return TableSpec(number, kind.name, stage, **where), kind


G, C = "general-biomedical", "clinical"
SIM, DIS = "pvi-similar", "pvi-dissimilar"

_TABLES = [
    _table(1, group_tests.KIND, "stats", size=2),
    _table(2, group_tests.KIND, "stats", size=3),
    _table(3, stl_mtl.KIND, "train", family=G, rank=0, source=SIM),
    _table(4, stl_mtl.KIND, "train", family=C, rank=0, source=SIM),
    _table(5, stl_mtl.KIND, "train", family=G, rank=0, source=DIS),
    _table(6, stl_mtl.KIND, "train", family=C, rank=0, source=DIS),
    _table(7, llm.KIND, "llm", family=G),
    _table(8, llm.KIND, "llm", family=C),
    _table(9, data.DATASETS, "data"),
    _table(10, data.LABEL_COUNTS, "data"),
    _table(11, baseline.KIND, "baselines", family=G, method="taskemb"),
    _table(12, baseline.KIND, "baselines", family=C, method="taskemb"),
    _table(13, baseline.KIND, "baselines", family=G, method="surrogate"),
    _table(14, baseline.KIND, "baselines", family=C, method="surrogate"),
    _table(15, stl_mtl.KIND, "train", family=G, rank=1, source=SIM),
    _table(16, stl_mtl.KIND, "train", family=C, rank=1, source=SIM),
    _table(17, methods.KIND, "train"),
]

#: table number -> what it shows (in table order)
SPECS: dict[int, TableSpec] = {spec.number: spec for spec, _ in _TABLES}
#: kind name (``TableSpec.kind``, a plan's ``settings["kind"]``) -> its implementation
KINDS: dict[str, TableKind] = {kind.name: kind for _, kind in _TABLES}


def kind_of(name: str) -> TableKind:
    """The :class:`TableKind` called ``name``."""
    if name not in KINDS:
        raise ValueError(f"unknown table kind {name!r}")
    return KINDS[name]
