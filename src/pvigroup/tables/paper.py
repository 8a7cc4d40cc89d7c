"""The published tables (``pvigroup/published/paper_tables.yaml``)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import pandas as pd
import yaml

from pvigroup.errors import PvigroupError
from pvigroup.workflow import group_id


@cache
def paper_tables() -> dict[str, Any]:
    """The published tables (``pvigroup/published/paper_tables.yaml``)."""
    text = resources.files("pvigroup").joinpath("published/paper_tables.yaml").read_text()
    return yaml.safe_load(text)


def paper_task_names() -> dict[str, str]:
    """Paper task id to the name the paper prints (``health-advice`` to ``Health Advice``)."""
    return {t: v[0] for t, v in paper_tables()["tasks"].items()}


def paper_frame(number: int) -> pd.DataFrame:
    """One published table as a frame (groups as ids, i.e. sorted and joined by ``__``)."""
    spec = paper_tables()["tables"].get(number)
    if spec is None:
        raise PvigroupError(f"paper_tables.yaml: table {number} is not transcribed")
    df = pd.DataFrame(spec["rows"], columns=spec["columns"])
    if "group" in df.columns:
        df["group_order"] = df["group"].map(lambda g: ",".join(g) if g else "")
        df["group"] = df["group"].map(lambda g: group_id(g) if g else None)
    return df
