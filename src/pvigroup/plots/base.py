"""What every report figure shares: matplotlib on the Agg backend, the PNG settings (DPI, no
software version in the metadata) and the small drawing and checking helpers.

The figure modules call ``base._save`` through this module, so that replacing ``_save`` here
(as tests/unit/test_plots_content.py does to read figures back) reaches every figure.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from pvigroup.errors import PvigroupError

log = logging.getLogger("pvigroup.plots")  # one logger for every figure module

DPI = 120
_META = {"Software": None}  # no matplotlib version in the PNG: same inputs, same bytes


def _save(fig: plt.Figure, out: str | Path) -> None:
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=DPI, format="png", metadata=_META, bbox_inches="tight")
    plt.close(fig)
    log.info("figure -> %s", out)


def _note(ax: plt.Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()



def _footer(fig: plt.Figure, provenance: Mapping[str, object] | None, extra: str = "") -> None:
    """A small grey line under the figure: the settings that made it and the run's provenance."""
    parts = [extra] if extra else []
    if provenance:
        sha = str(provenance.get("config_sha256", ""))
        if sha:
            parts.append(f"config sha256 {sha[:12]}")
        if provenance.get("pvigroup"):
            parts.append(f"pvigroup {provenance['pvigroup']}")
    if parts:
        fig.text(0.01, -0.01, "; ".join(parts), ha="left", va="top", fontsize=7, color="dimgrey")


def _require_columns(df: pd.DataFrame, cols: Sequence[str], path: str | Path) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise PvigroupError(f"{path}: missing column(s) {', '.join(missing)} "
                            f"(has {', '.join(map(str, df.columns))})")


def _decision_p(df: pd.DataFrame) -> tuple[pd.Series, str]:
    """The p-value a grouping decision used: TOST p when present, else adjusted, else raw."""
    if "tost_pvalue" in df.columns:
        return df["tost_pvalue"].astype(float), "TOST p-value"
    if "pvalue_adj" in df.columns:
        return df["pvalue_adj"].astype(float), "adjusted p-value"
    return df["pvalue"].astype(float), "p-value"
