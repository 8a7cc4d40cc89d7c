"""Pure helpers the Snakefile uses to enumerate jobs: pairs, triples, group ids and targets."""

from __future__ import annotations

import itertools
import math
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

SEP = "__"
NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]|_(?!_))*$")
NAME_RULE = ("names are letters, digits, hyphens and single underscores, start with a letter or "
             "digit, and never contain a double underscore ('__' joins task names into group ids)")


def group_id(tasks: Iterable[str]) -> str:
    """The id of a group: its sorted, distinct task names joined by ``__``."""
    names = sorted(set(tasks))
    return SEP.join(names)


def group_tasks(gid: str) -> list[str]:
    return gid.split(SEP)


def combos(tasks: Sequence[str], k: int) -> list[str]:
    """Ids of all size-``k`` groups of ``tasks`` (sorted names), in lexicographic order."""
    return [SEP.join(c) for c in itertools.combinations(sorted(set(tasks)), k)]


def one_of(ids: Iterable[str]) -> str:
    """A regex matching exactly one of ``ids`` (for ``wildcard_constraints``)."""
    ids = list(ids)
    if not ids:
        return r"(?!x)x"  # matches nothing
    return "|".join(re.escape(i) for i in sorted(ids, key=lambda s: (-len(s), s)))


# --------------------------------------------------------------------------- targets
def model_tasks(config, model: str) -> list[str]:
    chosen = config["models"][model].get("tasks")
    return sorted(chosen if chosen else config["tasks"])


def pvi_targets(config) -> list[str]:
    return [f"results/pvi/{m}/{t}.parquet" for m in sorted(config["models"])
            for t in model_tasks(config, m)]


def pair_ids(config, model: str) -> list[str]:
    return combos(model_tasks(config, model), 2)


def triple_ids(config, model: str) -> list[str]:
    """Every group of 3 .. max_group_size tasks of ``model`` (rows of one ``triples`` table)."""
    tasks = model_tasks(config, model)
    top = min(int(config["stats"]["max_group_size"]), len(tasks))
    return [g for k in range(3, top + 1) for g in combos(tasks, k)]


#: Group sizes above 3 are tested exhaustively while they have at most this many groups; past
#: it only groups whose every subgroup one task smaller was accepted (docs/statistics.md).
EXHAUSTIVE_MAX = 1_000_000
#: A model with more group tests than this writes ``triples.parquet`` instead of ``triples.tsv``.
GROUP_TSV_MAX = 500_000


def has_group_tests(config, model: str) -> bool:
    """Whether ``model`` has groups of 3+ tasks to test (3+ tasks and max_group_size >= 3)."""
    return min(int(config["stats"]["max_group_size"]), len(model_tasks(config, model))) >= 3


def group_test_count(config, model: str) -> int:
    """The groups tested exhaustively (size 3 and every size within :data:`EXHAUSTIVE_MAX`)."""
    n = len(model_tasks(config, model))
    counts = (math.comb(n, k) for k in range(3, min(int(config["stats"]["max_group_size"]), n) + 1))
    return sum(c for k, c in enumerate(counts, 3) if k == 3 or c <= EXHAUSTIVE_MAX)


def test_table(config, model: str, kind: str) -> str:
    """The collected tests of ``model``: ``pairs.tsv``; ``triples.tsv``, or ``triples.parquet``
    past :data:`GROUP_TSV_MAX` groups."""
    if kind == "pairs":
        return f"results/stats/{model}/pairs.tsv"
    ext = "parquet" if group_test_count(config, model) > GROUP_TSV_MAX else "tsv"
    return f"results/stats/{model}/triples.{ext}"


def stats_targets(config) -> list[str]:
    """Per model: the collected tests, ``vinfo.tsv`` and (2+ tasks) the sensitivity tables."""
    out = []
    for m in sorted(config["models"]):
        out.append(test_table(config, m, "pairs"))
        if has_group_tests(config, m):
            out.append(test_table(config, m, "triples"))
        out.append(f"results/stats/{m}/vinfo.tsv")
        if len(model_tasks(config, m)) >= 2:
            out += [f"results/stats/{m}/sensitivity.tsv",
                    f"results/stats/{m}/sensitivity_summary.tsv"]
    return out


def group_targets(config) -> list[str]:
    out = []
    for m in sorted(config["models"]):
        out += [f"results/groups/{m}/similar.tsv", f"results/groups/{m}/dissimilar.tsv",
                f"results/groups/{m}/manual.tsv"]
    return out


def manual_entries_for(config, model: str) -> list[dict]:
    """The hand-listed groups (``grouping.manual``) whose tasks all belong to ``model`` (and,
    where an entry lists ``models``, only for those), in the listed order, as ``{"name",
    "tasks", "role"}`` (plain task lists: no name, role ``other``)."""
    tasks = set(model_tasks(config, model))
    out = []
    for entry in (config.get("grouping") or {}).get("manual") or []:
        if isinstance(entry, dict) and entry.get("models") is not None \
                and model not in entry["models"]:
            continue
        if isinstance(entry, dict):
            e = {"name": entry.get("name"), "tasks": list(entry["tasks"]),
                 "role": entry.get("role") or "other"}
        else:
            e = {"name": None, "tasks": list(entry), "role": "other"}
        if set(e["tasks"]) <= tasks:
            out.append(e)
    return out


def manual_groups_for(config, model: str) -> list[list[str]]:
    """The hand-listed groups whose tasks all belong to ``model`` (sorted, deterministic)."""
    return sorted(sorted(e["tasks"]) for e in manual_entries_for(config, model))


def declared_source_files(task: dict) -> dict[str, str]:
    """The local source files of a task that its prepare job declares as inputs (see common.smk)."""
    from pathlib import Path

    files = task["source"].get("files") or {}
    return {split: path for split, path in files.items()
            if Path(path).parts[:1] == ("resources",) or Path(path).exists()}


def canonical(obj):
    """``obj`` with every mapping's keys sorted, recursively.

    Snakemake compares ``params`` as serialised text, so a dict whose keys come in another order
    (a reformatted config file) would look changed and rerun the job; rules pass config slices
    through this.
    """
    if isinstance(obj, dict):
        return {k: canonical(obj[k]) for k in sorted(obj, key=str)}
    if isinstance(obj, list | tuple):
        return [canonical(v) for v in obj]
    return obj


def export_source_path(src: str | Path) -> None:
    """Put ``src`` first on ``PYTHONPATH`` (once) for the jobs Snakemake starts.

    Jobs run in per-rule conda environments (``--software-deployment-method conda``) hold the
    dependencies but not this package; with the checkout's ``src`` on ``PYTHONPATH`` their scripts
    import it from there.
    """
    src = str(src)
    current = os.environ.get("PYTHONPATH", "")
    if src not in current.split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (src, current) if p)


def _group_list(tsv: Path) -> str:
    """The group ids of a group file, joined for display ('none' when empty)."""
    lines = tsv.read_text().splitlines()[1:]
    ids = [line.split("\t", 1)[0].replace("__", "+") for line in lines if line.strip()]
    return ", ".join(ids) if ids else "none"


def outputs_summary(config, workdir: str | Path = ".") -> list[str]:
    """Lines saying where a finished run's main outputs are (printed when Snakemake succeeds).

    Only files that exist are named, so a partial target (``snakemake groups``) lists what it
    made; the groups are read from the group files themselves.
    """
    root = Path(workdir)
    lines = []
    for model in config.get("models") or {}:
        res = Path("results")
        named = [
            (res / "pvi" / model, "per-instance PVI, one parquet file per task"),
            (res / "stats" / model / "pairs.tsv", "pair tests"),
            (res / "stats" / model / "triples.tsv", "triple tests"),
            (res / "stats" / model / "vinfo.tsv", "V-information per task with CIs"),
            (res / "diagnostics" / model / "summary.tsv",
             "diagnostics: suspect labels per task ({task}.suspects.tsv), overlap"),
            (res / "train" / model / "aggregate.tsv", "STL and MTL, mean and 95 % CI over seeds"),
        ]
        for path, what in named:
            if (root / path).exists():
                lines.append(f"  {path}: {what}")
        for kind in ("similar", "dissimilar"):
            path = res / "groups" / model / f"{kind}.tsv"
            if (root / path).exists():
                lines.append(f"  {path}: {kind} groups: {_group_list(root / path)}")
    index = Path("results") / "tables" / "index.md"
    if (root / index).exists():
        lines.append(f"  {index}: the paper's tables written by this run (csv, md, tex)")
    if not lines:
        return []
    return ["pvigroup: outputs", *lines,
            "  report: snakemake --report results/report.html (after a full run)"]
