"""Number formatting as the paper prints it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from pvigroup.workflow import SEP


def fmt_num(x: Any, decimals: int = 3) -> str:
    """Fixed-point text, ``-`` for a missing value."""
    if x is None or (isinstance(x, float) and math.isnan(x)) or pd.isna(x):
        return "-"
    return f"{float(x):.{decimals}f}"


def fmt_ci(mean: Any, ci: Any, decimals: int = 3) -> str:
    """``0.806 (± 0.128)`` as printed in the paper; the CI part is left out when missing."""
    if mean is None or pd.isna(mean):
        return "-"
    if ci is None or pd.isna(ci):
        return fmt_num(mean, decimals)
    return f"{fmt_num(mean, decimals)} (± {fmt_num(ci, decimals)})"


def fmt_p(p: Any) -> str:
    """p-values with 3 decimals, scientific notation below 0.001."""
    if p is None or pd.isna(p):
        return "-"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def fmt_diff_ci(diff: Any, lo: Any, hi: Any, decimals: int = 3) -> str:
    """``-0.107 [-0.239, 0.024]``: a difference with its interval; ``-`` when missing."""
    if diff is None or pd.isna(diff):
        return "-"
    if lo is None or hi is None or pd.isna(lo) or pd.isna(hi):
        return fmt_num(diff, decimals)
    return f"{fmt_num(diff, decimals)} [{fmt_num(lo, decimals)}, {fmt_num(hi, decimals)}]"


def fmt_share(share: Any, n: Any) -> str:
    """``2/3`` from a share of ``n`` groups; ``-`` without groups."""
    if pd.isna(share) or not n:
        return "-"
    return f"{round(float(share) * int(n))}/{int(n)}"


def group_label(gid: str, names: Mapping[str, str]) -> str:
    return " + ".join(names.get(t, t) for t in gid.split(SEP))
