"""Grouping rules: which tested groups are trained together, and the group files.

:func:`select_groups` turns a table of pair and triple tests into *similar* groups (the paper:
PVI not significantly different, p > alpha; or TOST equivalence) and *dissimilar* groups
(p < alpha, the negative control), in the modes of ``grouping.select`` (``accepted`` | ``cover``)
and ``grouping.control`` (``partner`` | ``cover``), all read from one
:class:`StatsSettings`; :func:`selection_bound` bounds how many MTL
groups a configuration can select. :func:`manual_groups` writes the hand-listed groups.
``docs/statistics.md`` states the rules.
"""

from pvigroup.config import StatsSettings
from pvigroup.groups.manual import MANUAL_COLUMNS, ROLES, manual_entry, manual_groups, read_groups
from pvigroup.groups.select import (
    CONTROL_MODES,
    GROUP_COLUMNS,
    RULES,
    SELECT_MODES,
    SIZE_PRIORITIES,
    TESTS,
    dissimilar_key,
    select_checked,
    select_groups,
    selection_bound,
    similar_key,
    write_groups,
)

__all__ = [
    "CONTROL_MODES", "GROUP_COLUMNS", "MANUAL_COLUMNS", "ROLES", "RULES", "SELECT_MODES",
    "SIZE_PRIORITIES", "TESTS", "StatsSettings", "dissimilar_key", "manual_entry", "manual_groups", "read_groups",
    "select_checked", "select_groups", "selection_bound", "similar_key", "write_groups",
]
