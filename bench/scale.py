"""How the workflow scales with the number of tasks: dry run, statistics and grouping.

For each task count, a working directory gets a config of that many synthetic tasks and
synthetic per-task PVI (sizes log-uniform in 50-10,000 rows; tasks in clusters of 4 that share a
mean PVI, clusters 0.5 bits apart, so that some pairs and groups are accepted). Everything
upstream of the PVI files is created empty and marked up to date (``snakemake --touch``), so no
model is trained. Then, each a fresh ``snakemake`` process:

- ``dry run``: ``snakemake -n`` of the whole workflow before anything exists;
- ``stats + grouping``: ``snakemake --cores 2 groups`` on the finished PVI: the pair-test and the
  group-test job (side by side) and then the grouping (``select_groups``, ``manual_groups``),
  Snakemake's own start-up and DAG included; ``pair job``, ``group job``, ``grouping job``: each
  job's duration from Snakemake's log (1 s resolution);
- ``peak MiB``: the largest resident set of that run (Snakemake or any of its jobs).

Wall seconds depend on the machine's load; CPU seconds (user + system of Snakemake and its jobs)
much less.

Writes a Markdown table (``--out``, replacing the block between the ``scale-table`` markers of
docs/performance.md when that is the target) and a JSON of the rows (``--json``).

Example::

    nice python bench/scale.py --tasks 15 50 100 200 500 --out docs/performance.md
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "data"
START, END = "<!-- scale-table -->", "<!-- /scale-table -->"


def synthetic_config(n_tasks: int, max_group_size: int = 3, resamples: int | None = None,
                     grouping: dict | None = None) -> dict:
    """The tiny test config with ``n_tasks`` copies of its first task (``t000``, ``t001``, ...);
    ``resamples`` sets ``stats.bootstrap.resamples`` (None: the default, 2000), ``grouping``
    entries of the ``grouping`` section (``select``, ``max_groups``, ...)."""
    cfg = yaml.safe_load((TINY / "tiny.yaml").read_text())
    base = cfg["tasks"]["clean-a"]
    cfg["tasks"] = {task_name(i): {**base, "source": {"files": {"train": "tiny/clean-a.csv"}}}
                    for i in range(n_tasks)}
    cfg["stats"] = {**cfg.get("stats", {}), "max_group_size": max_group_size}
    if resamples is not None:
        cfg["stats"]["bootstrap"] = {"resamples": resamples}
    if grouping:
        cfg["grouping"] = {**cfg.get("grouping", {}), **grouping}
    return cfg


def task_name(i: int) -> str:
    return f"t{i:03d}"


def synthetic_pvi(n_tasks: int, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Per-task PVI frames: log-uniform sizes 50-10,000; clusters of 4 tasks share a mean."""
    rng = np.random.default_rng(seed)
    out = {}
    for i in range(n_tasks):
        n = round(math.exp(rng.uniform(math.log(50), math.log(10_000))))
        mean = 0.5 * (i // 4)
        t = task_name(i)
        out[t] = pd.DataFrame({"id": [f"{t}-{j}" for j in range(n)], "task": t,
                               "pvi": rng.normal(mean, 1.0, n)})
    return out


def _snakemake(workdir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory",
            str(workdir), "--configfile", str(workdir / "config.yaml"), *args]


def timed(cmd: list[str], cwd: Path) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds (user + system, with children), peak RSS in MiB (the process or
    any child) and the output of ``cmd``."""
    probe = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
             "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
             "w = time.perf_counter() - t; sys.stdout.write(p.stdout + p.stderr); "
             "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
             "print(f'@@ {w} {u.ru_utime + u.ru_stime} {u.ru_maxrss} {p.returncode}')")
    proc = subprocess.run([sys.executable, "-c", probe, *cmd], cwd=cwd, capture_output=True,
                          text=True, check=False)
    m = re.search(r"@@ (\S+) (\S+) (\d+) (-?\d+)\s*$", proc.stdout)
    if m is None or int(m.group(4)) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    return float(m.group(1)), float(m.group(2)), int(m.group(3)) / 1024, proc.stdout


def job_outputs(dry_run: str) -> list[str]:
    """Every ``output:`` path of a dry run's jobs."""
    out = []
    for line in dry_run.splitlines():
        line = line.strip()
        if line.startswith("output:"):
            out += [p.strip() for p in line[len("output:"):].split(",") if p.strip()]
    return out


def materialise(workdir: Path, pvi: dict[str, pd.DataFrame], model: str = "minilm") -> None:
    """Create every output upstream of the PVI files (empty; the PVI files from ``pvi``) and mark
    them up to date, so Snakemake sees finished PVI stages without training anything."""
    proc = subprocess.run(_snakemake(workdir, "-n", "pvi"), cwd=workdir, capture_output=True,
                          text=True, check=True)
    for rel in job_outputs(proc.stdout):
        path = workdir / rel
        if not Path(rel).suffix:  # directory() outputs: model folders
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    for task, frame in pvi.items():
        frame.to_parquet(workdir / "results" / "pvi" / model / f"{task}.parquet", index=False)
    subprocess.run(_snakemake(workdir, "--touch", "--cores", "1", "pvi"), cwd=workdir,
                   capture_output=True, text=True, check=True)


def prepare(workdir: Path, n_tasks: int, *, max_group_size: int = 3,
            resamples: int | None = None, grouping: dict | None = None) -> Path:
    """A fresh working directory with the config and its (copied) source file."""
    if workdir.exists():
        shutil.rmtree(workdir)
    (workdir / "tiny").mkdir(parents=True)
    shutil.copy(TINY / "tiny" / "clean-a.csv", workdir / "tiny" / "clean-a.csv")
    cfg = synthetic_config(n_tasks, max_group_size, resamples, grouping)
    (workdir / "config.yaml").write_text(yaml.safe_dump(cfg))
    return workdir


def rule_seconds(log_text: str) -> dict[str, float]:
    """Each rule's job duration (s, summed over its jobs) from a Snakemake run log: the time
    stamp before ``rule X:`` to the one before ``Finished jobid: N (Rule: X)``."""
    started: dict[str, datetime] = {}
    out: dict[str, float] = {}
    stamp = None
    jobs: dict[str, str] = {}
    rule = None
    for line in log_text.splitlines():
        m = re.match(r"^\[(\w{3} \w{3} +\d+ [\d:]+ \d{4})\]$", line.strip())
        if m:
            stamp = datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y")
            continue
        m = re.match(r"^(?:local)?(?:rule|checkpoint) (\w+):$", line.strip())
        if m:
            rule = m.group(1)
            continue
        m = re.match(r"^jobid: (\d+)$", line.strip())
        if m and rule is not None and stamp is not None:
            jobs[m.group(1)] = rule
            started[m.group(1)] = stamp
            rule = None
            continue
        m = re.match(r"^Finished jobid: (\d+)", line.strip())
        if m and m.group(1) in jobs and stamp is not None:
            name = jobs[m.group(1)]
            out[name] = out.get(name, 0.0) + (stamp - started[m.group(1)]).total_seconds()
    return out


def measure(root: Path, n_tasks: int, *, max_group_size: int = 3, seed: int = 0,
            resamples: int | None = None, grouping: dict | None = None,
            model: str = "minilm") -> dict:
    workdir = prepare(root / f"tasks{n_tasks}", n_tasks, max_group_size=max_group_size,
                      resamples=resamples, grouping=grouping)
    dry, dry_cpu, dry_mb, _ = timed(_snakemake(workdir, "-n"), workdir)
    pvi = synthetic_pvi(n_tasks, seed)
    materialise(workdir, pvi, model)
    row: dict = {"tasks": n_tasks, "pairs_n": math.comb(n_tasks, 2),
                 "groups_n": math.comb(n_tasks, 3), "pvi_rows": int(sum(map(len, pvi.values()))),
                 "dry_run_s": dry, "dry_run_cpu_s": dry_cpu, "dry_run_mib": dry_mb}
    logs = set((workdir / ".snakemake" / "log").glob("*.log"))
    wall, cpu, mib, _ = timed(_snakemake(workdir, "--cores", "2", "groups"), workdir)
    (log,) = set((workdir / ".snakemake" / "log").glob("*.log")) - logs
    per_rule = rule_seconds(log.read_text())
    row.update(stats_grouping_s=wall, stats_grouping_cpu_s=cpu, peak_mib=mib,
               pairs_job_s=per_rule.get("pair_tests", math.nan),
               groups_job_s=per_rule.get("group_tests", math.nan),
               select_job_s=per_rule.get("select_groups", math.nan))
    pairs = pd.read_csv(workdir / f"results/stats/{model}/pairs.tsv", sep="\t")
    row["pairs_accepted"] = int((pairs["pvalue"] > 0.01).sum())
    similar = pd.read_csv(workdir / f"results/groups/{model}/similar.tsv", sep="\t")
    row["similar_groups"] = len(similar)
    row["groups_file"] = next((workdir / "results" / "stats" / model).glob("triples.*")).name
    return row


def table(rows: list[dict]) -> str:
    head = ("| tasks | pairs | groups of 3 | PVI rows | dry run s (CPU s) | stats + grouping s "
            "(CPU s) | pair job s | group job s | grouping job s | peak MiB | accepted pairs "
            "| similar groups |")
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        lines.append(
            f"| {r['tasks']} | {r['pairs_n']:,} | {r['groups_n']:,} | {r['pvi_rows']:,} "
            f"| {r['dry_run_s']:.1f} ({r['dry_run_cpu_s']:.1f}) "
            f"| {r['stats_grouping_s']:.1f} ({r['stats_grouping_cpu_s']:.1f}) "
            f"| {r['pairs_job_s']:.0f} | {r['groups_job_s']:.0f} | {r['select_job_s']:.0f} "
            f"| {r['peak_mib']:.0f} | {r['pairs_accepted']:,} | {r['similar_groups']:,} |")
    return "\n".join(lines) + "\n"


def write_table(text: str, out: Path) -> None:
    """Replace the block between the scale-table markers of ``out`` (or write ``out``)."""
    block = f"{START}\n{text}{END}"
    if out.exists() and START in out.read_text():
        old = out.read_text()
        out.write_text(old[:old.index(START)] + block + old[old.index(END) + len(END):])
    else:
        out.write_text(block + "\n")


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, nargs="+", default=[15, 50, 100, 200, 500])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/pvigroup-scale"))
    ap.add_argument("--max-group-size", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resamples", type=int, help="stats.bootstrap.resamples (default 2000)")
    ap.add_argument("--grouping", nargs="*", default=[], metavar="KEY=VALUE",
                    help="grouping settings, e.g. select=cover max_groups=20 (YAML values)")
    ap.add_argument("--out", type=Path, help="Markdown file for the table")
    ap.add_argument("--json", type=Path, help="JSON file for the rows")
    args = ap.parse_args(argv)
    grouping = {k: yaml.safe_load(v) for k, v in (g.split("=", 1) for g in args.grouping)}
    rows = []
    for n in args.tasks:
        t0 = time.perf_counter()
        rows.append(measure(args.workdir, n, max_group_size=args.max_group_size, seed=args.seed,
                            resamples=args.resamples, grouping=grouping))
        print(f"{n} tasks: {json.dumps(rows[-1])} ({time.perf_counter() - t0:.0f} s)",
              flush=True)
        if args.json:
            args.json.write_text(json.dumps(rows, indent=1))
    text = table(rows)
    print(text)
    if args.out:
        write_table(text, args.out)
    return rows


if __name__ == "__main__":
    main()
