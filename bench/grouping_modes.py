"""Each grouping mode on the paper's own tests (Tables 1-2) against the groups it trained
(Tables 3-6); prints the markdown tables of docs/statistics.md.

    python bench/grouping_modes.py

Similar groups: the published accepted tests are all the selection needs. The negative
control needs the rejected tests, which the paper does not publish: for ``partner`` the script
shows the most of Tables 5-6 any p-values can give (a witness ordering, run through
``select_groups``); for ``cover`` the most any disjoint set can hold (a maximum matching).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd
import yaml

from pvigroup import groups
from pvigroup.tables import paper_tables
from pvigroup.workflow import SEP, group_id

ROOT = Path(__file__).resolve().parents[1]
MODELS = yaml.safe_load((ROOT / "config/paper.yaml").read_text())["models"]
PUB = paper_tables()["tables"]
SIMILAR = {3: "roberta-large", 4: "bioclinicalbert"}
CONTROL = {5: "roberta-large", 6: "bioclinicalbert"}
SHORT = {t: v[0] for t, v in paper_tables()["tasks"].items()}


def published(model: str) -> pd.DataFrame:
    rows = []
    for number, test in ((1, "student"), (2, "anova")):
        for tasks, stat, p in PUB[number]["rows"]:
            if set(tasks) <= set(MODELS[model]["tasks"]):
                rows.append({"group": group_id(tasks), "tasks": ",".join(sorted(tasks)),
                             "size": len(tasks), "test": test, "statistic": stat, "pvalue": p})
    return pd.DataFrame(rows)


def paper_groups(number: int) -> list[str]:
    return list(dict.fromkeys(group_id(r[0]) for r in PUB[number]["rows"]))


def label(gid: str) -> str:
    return "–".join(SHORT[t] for t in gid.split(SEP))


def similar_rows() -> list[str]:
    modes = [("accepted (any tie_break, size_priority)", {"select": "accepted"})] + [
        (f"cover, size_priority {s}, tie_break {r}",
         {"select": "cover", "size_priority": s, "tie_break": r})
        for s in groups.SIZE_PRIORITIES for r in groups.RULES]
    out = [("| mode | Table 3 groups selected (of 7) | others | Table 4 groups selected (of 6) "
           "| others | Table 3-4 groups missed |"), "|---|---|---|---|---|---|"]
    for name, opts in modes:
        cells, missed = [], []
        for number, model in SIMILAR.items():
            similar, _ = groups.select_groups(published(model), groups.StatsSettings(**opts))
            sim = set(similar["group"])
            paper = paper_groups(number)
            cells += [str(len(sim & set(paper))), str(len(sim - set(paper)))]
            missed += [label(g) for g in paper if g not in sim]
        out.append(f"| {name} | {' | '.join(cells)} | {', '.join(missed) or '—'} |")
    return out


def max_disjoint(gids: list[str]) -> int:
    for k in range(len(gids), 0, -1):
        for combo in itertools.combinations(gids, k):
            members = [t for g in combo for t in g.split(SEP)]
            if len(members) == len(set(members)):
                return k
    return 0


def partner_witness(number: int) -> int:
    """Most of Table ``number``'s pairs the partner rule selects under assumed rejected
    p-values: the table's pairs ranked first (in an order that lets each task keep one), every
    other rejected pair after them; the published accepted pairs as they are."""
    model = CONTROL[number]
    tasks = sorted(MODELS[model]["tasks"])
    acc = published(model)
    table = paper_groups(number)
    order = {5: table, 6: [table[i] for i in (0, 1, 4, 3, 2, 5)]}[number]
    rank = {g: i for i, g in enumerate(order)}
    rows = [acc]
    extra = []
    for a, b in itertools.combinations(tasks, 2):
        g = f"{a}{SEP}{b}"
        if g in set(acc["group"]):
            continue
        p = 10.0 ** -(100 - rank[g]) if g in rank else 1e-3
        extra.append({"group": g, "tasks": f"{a},{b}", "size": 2, "test": "student",
                      "statistic": 5.0, "pvalue": p})
    rows.append(pd.DataFrame(extra))
    tests = pd.concat(rows, ignore_index=True)
    dis = set(groups.select_groups(tests, groups.StatsSettings(control="partner"))[1]["group"])
    return len(dis & set(table))


def control_rows() -> list[str]:
    out = ["| control | Table 5 pairs (of 8) | Table 6 pairs (of 6) |", "|---|---|---|"]
    n5, n6 = (len(MODELS[CONTROL[k]]["tasks"]) for k in (5, 6))
    b5, b6 = (groups.selection_bound(n, {})["dissimilar"] for n in (n5, n6))
    out.append(f"| partner: at most n − 1 pairs ({b5} for {n5} tasks, {b6} for {n6}); best case "
               f"under assumed p-values | {partner_witness(5)} | {partner_witness(6)} |")
    out.append(f"| cover (disjoint pairs): most any disjoint set holds | "
               f"{max_disjoint(paper_groups(5))} | {max_disjoint(paper_groups(6))} |")
    return out


def main() -> None:
    print("\n".join(similar_rows()))
    print()
    print("\n".join(control_rows()))


if __name__ == "__main__":
    main()
