"""Report figures (matplotlib, Agg backend, PNG): PVI distributions, V-information with its
intervals, pair p-values, the PVI difference forest plot, grouping vs sample size, accepted
groups, STL vs MTL, label distributions.

Every function reads result files in the formats of docs/architecture.md and writes one PNG.
Figures are deterministic for the same inputs (fixed size, dpi and ordering; no timestamps).

Modules: ``base`` (the Agg backend, DPI, PNG metadata and the shared helpers), ``pvi`` (PVI,
V-information, pair p-values, the forest plot), ``grouping`` (accepted groups, sensitivity to
the sample size), ``training`` (label distributions, STL vs MTL). Every name is importable from
here.
"""

from __future__ import annotations

from pvigroup.plots.base import (
    _META,
    DPI,
    _decision_p,
    _footer,
    _note,
    _require_columns,
    _save,
    log,
    plt,
)
from pvigroup.plots.grouping import plot_groups, plot_sensitivity
from pvigroup.plots.pvi import (
    plot_pair_pvalues,
    plot_pvi_forest,
    plot_pvi_violin,
    plot_vinfo,
    pvalue_matrix,
)
from pvigroup.plots.training import plot_label_distributions, plot_stl_mtl

__all__ = [
    "DPI",
    "_META",
    "_decision_p",
    "_footer",
    "_note",
    "_require_columns",
    "_save",
    "log",
    "plot_groups",
    "plot_label_distributions",
    "plot_pair_pvalues",
    "plot_pvi_forest",
    "plot_pvi_violin",
    "plot_sensitivity",
    "plot_stl_mtl",
    "plot_vinfo",
    "plt",
    "pvalue_matrix",
]
