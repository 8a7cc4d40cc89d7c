"""A :class:`~pvigroup.tables.spec.Table` as Markdown, LaTeX and csv (+ ``meta.json``), and the
``index.md`` of every table written or skipped."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pvigroup.io import fingerprint_file, write_json
from pvigroup.tables.record import footer_text
from pvigroup.tables.spec import Table

log = logging.getLogger("pvigroup.tables")


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(table: Table) -> str:
    """A pipe table with its caption above and the provenance footer below."""
    lines = [f"**Table {table.number}.** {table.caption}", ""]
    lines.append("| " + " | ".join(_md_cell(h) for h in table.header) + " |")
    lines.append("|" + "|".join("---" for _ in table.header) + "|")
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
    if table.note:
        lines += ["", table.note]
    lines += ["", f"<sub>{table.footer}</sub>", ""]
    return "\n".join(lines)


_TEX_ESCAPE = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
               "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
               "^": r"\textasciicircum{}", "±": r"$\pm$",
               "η": r"$\eta$", "ω": r"$\omega$", "²": r"\textsuperscript{2}", "′": r"$'$"}


def tex_escape(text: str) -> str:
    return "".join(_TEX_ESCAPE.get(ch, ch) for ch in str(text))


def render_latex(table: Table) -> str:
    """A ``table`` environment (booktabs) with caption, label and a footnote-size provenance line."""
    spec = "l" * 2 + "r" * (len(table.header) - 2) if len(table.header) > 2 else "l" * len(table.header)
    lines = [r"\begin{table}[ht]", r"\centering", r"\small",
             f"\\begin{{tabular}}{{{spec}}}", r"\toprule",
             " & ".join(tex_escape(h) for h in table.header) + r" \\", r"\midrule"]
    lines += [" & ".join(tex_escape(c) for c in row) + r" \\" for row in table.rows]
    if table.note:
        lines.append(f"\\multicolumn{{{len(table.header)}}}{{l}}{{{tex_escape(table.note)}}} \\\\")
    lines += [r"\bottomrule", r"\end{tabular}",
              f"\\caption{{{tex_escape(table.caption)}}}",
              f"\\label{{tab:pvigroup-{table.number:02d}}}",
              f"\\par\\smallskip{{\\tiny {tex_escape(table.footer)}}}",
              r"\end{table}", ""]
    return "\n".join(lines)


def write_table(table: Table, csv: str | Path, md: str | Path, tex: str | Path,
                meta: str | Path, prov: Mapping[str, Any],
                inputs: Mapping[str, Sequence[str]] | None = None) -> None:
    """Write the csv (+ ``meta.json`` sidecar), markdown and LaTeX files of ``table``."""
    for p in (csv, md, tex, meta):
        Path(p).parent.mkdir(parents=True, exist_ok=True)
    table.data.to_csv(csv, index=False, float_format="%.6g", lineterminator="\n")
    Path(md).write_text(render_markdown(table))
    Path(tex).write_text(render_latex(table))
    hashes = {}
    for name, paths in sorted((inputs or {}).items()):
        for p in paths:
            hashes[f"{name}:{Path(p).as_posix()}"] = fingerprint_file(p)
    write_json({"table": table.number, "caption": table.caption, "columns": list(table.data.columns),
                "rows": len(table.data), **prov, "inputs_sha256": hashes}, meta)


def write_index(plans: Sequence[Mapping[str, Any]], prov: Mapping[str, Any], out: str | Path) -> None:
    """``index.md``: every table written or skipped (with the reason); one log line per skip.

    ``plans`` are ``{"number", "skip"}`` mappings (from :func:`pvigroup.tables.plan_summary`).
    """
    lines = ["# Tables", "", "| table | status |", "|---|---|"]
    for p in plans:
        nn = f"{int(p['number']):02d}"
        if p["skip"]:
            log.info("table %s skipped: %s", nn, p["skip"])
            lines.append(f"| {nn} | skipped: {_md_cell(p['skip'])} |")
        else:
            lines.append(f"| {nn} | [table{nn}.md](table{nn}.md) |")
    lines += ["", f"<sub>{footer_text(prov)}</sub>", ""]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text("\n".join(lines))
