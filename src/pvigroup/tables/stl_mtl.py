"""Tables 3-6 and 15-16: STL vs MTL on the test split for the PVI-similar and PVI-dissimilar
groups of a family, from ``results/train/{model}/aggregate.tsv``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from pvigroup.errors import PvigroupError
from pvigroup.tables.config import family_model_settings, listed_groups, stage_configured
from pvigroup.tables.formatting import fmt_ci, group_label
from pvigroup.tables.inputs import read_single, require_columns
from pvigroup.tables.spec import FAMILY_TEXT, Built, TableKind, TablePlan, TableSpec, skip
from pvigroup.workflow import SEP, group_id

STL_MTL_COLUMNS = ["stl_acc", "stl_acc_ci", "stl_f1", "stl_f1_ci",
                   "mtl_acc", "mtl_acc_ci", "mtl_f1", "mtl_f1_ci"]


def stl_mtl_frame(aggregate: pd.DataFrame, source: str, tasks: Sequence[str],
                  path: str = "aggregate.tsv",
                  listed: Sequence[Sequence[str]] = ()) -> pd.DataFrame:
    """One row per (MTL group, member task): the task's STL and MTL mean and CI.

    The groups are first ``listed`` (task lists, e.g. the paper's groups in ``grouping.manual``;
    their ``manual`` rows), in that order with their tasks in the listed order; then the other
    groups of ``source`` whose tasks are all in ``tasks``, by size then id, tasks in id order.
    A group in both is shown once, where it is listed.
    """
    require_columns(aggregate, ["kind", "source", "group", "task", "n_seeds", "acc_mean", "acc_ci",
                         "f1_mean", "f1_ci"], path)
    stl = aggregate[aggregate["kind"] == "stl"].drop_duplicates("task").set_index("task")
    is_mtl = aggregate["kind"] == "mtl"
    listed_ids = {group_id(g): list(g) for g in listed}
    mtl = aggregate[is_mtl & ((aggregate["source"] == source)
                              | ((aggregate["source"] == "manual")
                                 & aggregate["group"].isin(listed_ids)))]
    mtl = mtl.drop_duplicates(["group", "task"])
    allowed = set(tasks)
    missing = [g for g in listed_ids if g not in set(mtl["group"])]
    if missing:
        raise PvigroupError(f"{path}: listed MTL group(s) {', '.join(missing)} have no rows "
                            "(grouping.manual groups are trained when train.sources has manual)")
    rest = sorted({g for g in mtl["group"] if set(g.split(SEP)) <= allowed} - set(listed_ids),
                  key=lambda g: (len(g.split(SEP)), g))
    order = [(g, members) for g, members in listed_ids.items()] + [
        (g, g.split(SEP)) for g in rest]
    rows = []
    for g, members in order:
        part = mtl[mtl["group"] == g].set_index("task")
        for task in members:
            if task not in part.index:
                raise PvigroupError(f"{path}: MTL group {g} has no row for its task {task}")
            m = part.loc[task]
            s = stl.loc[task] if task in stl.index else None
            rows.append({
                "group": g, "task": task,
                "stl_acc": s["acc_mean"] if s is not None else float("nan"),
                "stl_acc_ci": s["acc_ci"] if s is not None else float("nan"),
                "stl_f1": s["f1_mean"] if s is not None else float("nan"),
                "stl_f1_ci": s["f1_ci"] if s is not None else float("nan"),
                "mtl_acc": m["acc_mean"], "mtl_acc_ci": m["acc_ci"],
                "mtl_f1": m["f1_mean"], "mtl_f1_ci": m["f1_ci"],
                "stl_n_seeds": int(s["n_seeds"]) if s is not None else 0,
                "mtl_n_seeds": int(m["n_seeds"]),
            })
    cols = ["group", "task", *STL_MTL_COLUMNS, "stl_n_seeds", "mtl_n_seeds"]
    out = pd.DataFrame(rows, columns=cols)
    for c in STL_MTL_COLUMNS:
        out[c] = out[c].astype(float)
    return out


def plan(config: Mapping[str, Any], spec: TableSpec, results: str,
         base: dict[str, Any]) -> TablePlan:
    settings = family_model_settings(config, spec, base)
    if isinstance(settings, TablePlan):
        return settings
    if not stage_configured(config, "train"):
        return skip(spec.number, "the train stage is off (train.enabled: false)")
    model = settings["model"]
    return TablePlan(spec.number, {"aggregate": [f"{results}/train/{model}/aggregate.tsv"]},
                     {**settings, "source": spec.source,
                      "listed": listed_groups(config, model, spec.source, settings["tasks"])})


def read(inputs: Mapping[str, Sequence[str]], settings: Mapping[str, Any]) -> dict[str, Any]:
    return read_single(inputs, "aggregate")


def build(frames: Mapping[str, Any], settings: Mapping[str, Any]) -> Built:
    names = settings["names"]
    d = int(settings.get("decimals", 3))
    data = stl_mtl_frame(frames["aggregate"], settings["source"], settings["tasks"],
                         frames.get("aggregate_path", "aggregate.tsv"),
                         listed=settings.get("listed") or ())
    header = ["Task group", "Task", "STL acc.", "STL F1", "MTL acc.", "MTL F1"]
    # a listed group is labelled in its listed order (the paper's "CB + Causal Language")
    labels = {group_id(g): " + ".join(names.get(t, t) for t in g)
              for g in settings.get("listed") or ()}
    rows = [[labels.get(r.group) or group_label(r.group, names), names.get(r.task, r.task),
             fmt_ci(r.stl_acc, r.stl_acc_ci, d), fmt_ci(r.stl_f1, r.stl_f1_ci, d),
             fmt_ci(r.mtl_acc, r.mtl_acc_ci, d), fmt_ci(r.mtl_f1, r.mtl_f1_ci, d)]
            for r in data.itertuples()]
    note = f"No {settings['source']} group was trained for these tasks." if data.empty else ""
    return Built(data, header, rows, note)


def caption(s: Mapping[str, Any]) -> str:
    fam = FAMILY_TEXT.get(s.get("family") or "", "")
    kind = "similar" if s["source"] == "pvi-similar" else "significantly different"
    return (f"STL vs MTL on the test split for task groups with {kind} PVI estimates, "
            f"{fam} tasks; mean (± 95% CI half-width) over seeds. Both fine-tuned from "
            f"{s.get('model', '')} ({s['pretrained']}).")


KIND = TableKind("stl_mtl", plan, read, build, caption)
