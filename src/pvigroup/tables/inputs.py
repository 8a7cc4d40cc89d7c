"""The checks and reads of a table's input files shared by the kinds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from pvigroup.errors import PvigroupError
from pvigroup.io import read_tsv


def require_columns(df: pd.DataFrame, cols: Sequence[str], path: str) -> None:
    """Raise naming ``path`` and the missing columns when ``df`` lacks one of ``cols``."""
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise PvigroupError(f"{path}: missing column(s) {', '.join(missing)} "
                            f"(has {', '.join(map(str, df.columns))})")


def read_single(inputs: Mapping[str, Sequence[str]], name: str) -> dict[str, Any]:
    """The table's one ``name`` file read as tsv (``name``) and its path (``{name}_path``, named
    in error messages)."""
    path = inputs[name][0]
    return {f"{name}_path": str(path), name: read_tsv(path)}
