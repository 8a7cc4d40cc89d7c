"""One table from its planned inputs: read the files, build the :class:`Table` (through the
table's kind, :data:`pvigroup.tables.registry.KINDS`), write it."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from pvigroup.tables.record import footer_text
from pvigroup.tables.registry import kind_of
from pvigroup.tables.render import write_table
from pvigroup.tables.spec import Table

log = logging.getLogger("pvigroup.tables")


def read_table_inputs(inputs: Mapping[str, Sequence[str]], settings: Mapping[str, Any]) -> dict[str, Any]:
    """Read the files of one table (named as in :func:`pvigroup.tables.table_inputs`)."""
    return kind_of(settings["kind"]).read(inputs, settings)


def build_table(n: int, frames: Mapping[str, Any], settings: Mapping[str, Any],
                prov: Mapping[str, Any]) -> Table:
    """Turn the frames read for table ``n`` into a :class:`Table` (pure).

    ``frames`` holds what :func:`read_table_inputs` returns: ``tests`` (model to frame),
    ``aggregate``, ``llm``, ``task_info``/``label_counts`` (task to content) or ``comparison``.
    """
    kind = kind_of(settings["kind"])
    caption = kind.caption(settings)
    built = kind.build(frames, settings)
    return Table(n, caption, built.data, built.header, built.rows, footer_text(prov), built.note)


def make_table(*, number: int, inputs: Mapping[str, Sequence[str]], settings: Mapping[str, Any],
               prov: Mapping[str, Any], csv: str, md: str, tex: str, meta: str) -> Table:
    """Read, build and write one paper table (the ``make_table`` rule)."""
    frames = read_table_inputs(inputs, settings)
    table = build_table(number, frames, settings, prov)
    write_table(table, csv, md, tex, meta, prov, inputs)
    log.info("table %02d: %d row(s) -> %s", number, len(table.data), csv)
    return table
