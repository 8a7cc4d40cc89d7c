"""How long the grouping takes on a large synthetic tests table (pairs + triples of n tasks).

    python bench/grouping_scale.py --tasks 185          # ~1.0 M triples + 17 k pairs
    python bench/grouping_scale.py --tasks 500          # 20.7 M triples + 125 k pairs

Each task gets a mean PVI; a group's p-value falls with the spread of its members' means
(p = exp(-40 * spread)), so nearby tasks are accepted and far ones rejected, as in real runs.
The tables are written as parquet (and TSV with --tsv), then ``write_groups`` runs in every
mode: ``accepted`` + ``partner`` (the defaults) and ``cover`` + ``cover``, each in its own
process. Prints a markdown table: wall and CPU seconds and the peak resident memory of each.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pvigroup.groups import StatsSettings, write_groups


def combos(n: int, k: int) -> np.ndarray:
    """All k-subsets of range(n) in lexicographic order, as an (m, k) int32 array."""
    if k == 2:
        i, j = np.triu_indices(n, 1)
        return np.stack([i, j], axis=1).astype(np.int32)
    rows = []
    for a in range(n - 2):
        sub = combos(n - a - 1, 2) + a + 1
        rows.append(np.column_stack([np.full(len(sub), a, np.int32), sub]))
    return np.concatenate(rows).astype(np.int32)


def tests_table(idx: np.ndarray, means: np.ndarray, names: pa.Array) -> pa.Table:
    cols = [pc.take(names, pa.array(idx[:, j])) for j in range(idx.shape[1])]
    spread = means[idx].max(axis=1) - means[idx].min(axis=1)
    k = idx.shape[1]
    return pa.table({
        "group": pc.binary_join_element_wise(*cols, "__"),
        "tasks": pc.binary_join_element_wise(*cols, ","),
        "size": pa.array(np.full(len(idx), k, np.int64)),
        "test": pa.array(["student" if k == 2 else "anova"] * 1).take(
            pa.array(np.zeros(len(idx), np.int64))),
        "statistic": pa.array(spread * 10.0),
        "pvalue": pa.array(np.exp(-40.0 * spread)),
    })


MODES = {"accepted-partner": {"select": "accepted", "control": "partner",
                                "dissimilar_sizes": [2]},
         "cover-cover": {"select": "cover", "control": "cover", "dissimilar_sizes": [2]}}


def peak_gib() -> float:
    """Peak resident memory of this process (VmHWM: unlike ru_maxrss on Linux, it does not
    carry over the RSS of the parent the process was forked from)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def time_one(folder: Path, kind: str, mode: str) -> None:
    """One write_groups run (in its own process, so its peak memory is its own)."""
    t0, c0 = time.perf_counter(), time.process_time()
    sim, dis = write_groups(folder / f"pairs.{kind}", folder / f"triples.{kind}",
                            folder / "similar.tsv", folder / "dissimilar.tsv",
                            StatsSettings(**MODES[mode]))
    peak = peak_gib()
    print(f"| {kind} | {mode} | {time.perf_counter() - t0:.1f} | {time.process_time() - c0:.1f} "
          f"| {peak:.2f} | {len(sim)} | {len(dis)} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=185)
    ap.add_argument("--tsv", action="store_true", help="also time the TSV inputs")
    ap.add_argument("--time-one", nargs=3, metavar=("DIR", "KIND", "MODE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.time_one:
        folder, kind, mode = args.time_one
        time_one(Path(folder), kind, mode)
        return
    rng = np.random.default_rng(0)
    means = rng.uniform(0, 1, args.tasks)
    names = pa.array([f"task{i:03d}" for i in range(args.tasks)])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        pairs = tests_table(combos(args.tasks, 2), means, names)
        triples = tests_table(combos(args.tasks, 3), means, names)
        pq.write_table(pairs, tmp / "pairs.parquet")
        pq.write_table(triples, tmp / "triples.parquet")
        kinds = ["parquet"]
        if args.tsv:
            for name, t in (("pairs", pairs), ("triples", triples)):
                pacsv.write_csv(t, tmp / f"{name}.tsv", pacsv.WriteOptions(
                    delimiter="\t", quoting_style="none"))
            kinds.append("tsv")
        print(f"{args.tasks} tasks: {pairs.num_rows} pairs + {triples.num_rows} triples "
              f"(written in {time.perf_counter() - t0:.1f} s)\n")
        del pairs, triples
        print("| input | mode | wall s | CPU s | peak GiB | similar | dissimilar |")
        print("|---|---|---|---|---|---|---|", flush=True)
        for kind in kinds:
            for mode in MODES:
                subprocess.run([sys.executable, __file__, "--time-one", str(tmp), kind, mode],
                               check=True)


if __name__ == "__main__":
    main()
