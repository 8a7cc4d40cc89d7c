"""The shapes shared by every table: what a table shows (:class:`TableSpec`), what a config makes of
it (:class:`TablePlan`), the rendered result (:class:`Table`) and what a table kind implements
(:class:`TableKind`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

FAMILIES = ("general-biomedical", "clinical")
FAMILY_OF_DOMAIN = {"general": "general-biomedical", "biomedical": "general-biomedical",
                    "clinical": "clinical"}
FAMILY_TEXT = {"general-biomedical": "general and biomedical", "clinical": "clinical"}
BASELINE_METHODS = ("taskemb", "surrogate")


@dataclass(frozen=True)
class TableSpec:
    """What one paper table shows and where its rows come from."""

    number: int
    kind: str  # group_tests | stl_mtl | llm | datasets | label_counts | baseline | methods
    stage: str  # stats | train | llm | data | baselines
    family: str | None = None
    rank: int = 0  # 0 = main model of the family, 1 = second model (Tables 15-16)
    source: str | None = None  # pvi-similar | pvi-dissimilar (stl_mtl tables)
    method: str | None = None  # taskemb | surrogate (baseline tables)
    size: int | None = None  # 2 = pairs, 3 = groups of 3+ (group_tests tables)


@dataclass(frozen=True)
class TablePlan:
    """One table of a config: its inputs and settings, or why it is skipped."""

    number: int
    inputs: dict[str, list[str]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    skip: str | None = None

    @property
    def nn(self) -> str:
        return f"{self.number:02d}"


@dataclass
class Table:
    """A rendered table: machine-readable ``data`` (csv) and formatted ``header``/``rows``."""

    number: int
    caption: str
    data: pd.DataFrame
    header: list[str]
    rows: list[list[str]]
    footer: str
    note: str = ""


@dataclass(frozen=True)
class Built:
    """What a kind's ``build`` returns: the csv frame, the formatted header and rows, a note."""

    data: pd.DataFrame
    header: list[str]
    rows: list[list[str]]
    note: str = ""


@dataclass(frozen=True)
class TableKind:
    """One kind of table (a module of this package defines one or two).

    plan
        ``(config, spec, results, base) -> TablePlan``: the inputs and settings of a table of
        this kind, or why it is skipped; ``base`` holds the settings every table has.
    read
        ``(inputs, settings) -> frames``: read the planned input files.
    build
        ``(frames, settings) -> Built``: the table from the frames (pure).
    caption
        ``settings -> str``.
    """

    name: str
    plan: Callable[[Mapping[str, Any], TableSpec, str, dict[str, Any]], TablePlan]
    read: Callable[[Mapping[str, Sequence[str]], Mapping[str, Any]], dict[str, Any]]
    build: Callable[[Mapping[str, Any], Mapping[str, Any]], Built]
    caption: Callable[[Mapping[str, Any]], str]


def skip(number: int, reason: str) -> TablePlan:
    """The plan of a table the config does not allow."""
    return TablePlan(number, skip=reason)

