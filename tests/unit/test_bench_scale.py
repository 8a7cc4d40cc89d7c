"""The scaling benchmark (bench/scale.py) runs end to end at its smallest size (CI smoke test)."""

import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "scale.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("scale", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_synthetic_pvi_sizes_and_clusters(bench):
    pvi = bench.synthetic_pvi(12, seed=1)
    assert list(pvi) == [f"t{i:03d}" for i in range(12)]
    sizes = [len(f) for f in pvi.values()]
    assert min(sizes) >= 50 and max(sizes) <= 10_000
    means = [f["pvi"].mean() for f in pvi.values()]
    assert abs(means[0] - means[3]) < 0.5 < abs(means[0] - means[8])  # clusters of 4, 0.5 apart
    assert bench.synthetic_pvi(12, seed=1)["t005"].equals(pvi["t005"])


def test_rule_seconds_reads_a_snakemake_log(bench):
    log = """[Tue Dec  1 21:25:27 2026]
localrule pair_tests:
    jobid: 3
[Tue Dec  1 21:25:30 2026]
localcheckpoint select_groups:
    jobid: 1
[Tue Dec  1 21:25:53 2026]
Finished jobid: 3 (Rule: pair_tests)
[Tue Dec  1 21:25:55 2026]
Finished jobid: 1 (Rule: select_groups)
"""
    assert bench.rule_seconds(log) == {"pair_tests": 26.0, "select_groups": 25.0}


@pytest.mark.slow
def test_bench_smallest_size_runs_through_snakemake(bench, tmp_path):
    out, js = tmp_path / "perf.md", tmp_path / "rows.json"
    out.write_text(f"# Perf\n\nbefore\n{bench.START}\nold\n{bench.END}\nafter\n")
    rows = bench.main(["--tasks", "15", "--workdir", str(tmp_path / "w"), "--resamples", "50",
                       "--out", str(out), "--json", str(js)])
    (row,) = rows
    assert row["tasks"] == 15 and row["pairs_n"] == 105 and row["groups_n"] == 455
    assert row["groups_file"] == "triples.tsv" and row["pairs_accepted"] > 0
    assert row["dry_run_s"] > 0 and row["stats_grouping_s"] > 0 and row["peak_mib"] > 0
    assert row["pairs_job_s"] >= 0 and row["groups_job_s"] >= 0
    text = out.read_text()
    assert "old" not in text and text.startswith("# Perf\n\nbefore\n") and "after" in text
    assert "| 15 | 105 | 455 |" in text
    assert json.loads(js.read_text())[0]["tasks"] == 15
    work = tmp_path / "w" / "tasks15"
    pairs = pd.read_csv(work / "results/stats/minilm/pairs.tsv", sep="\t")
    assert len(pairs) == 105 and (pairs["boot_resamples"] == 50).all()
    assert len(pd.read_csv(work / "results/stats/minilm/triples.tsv", sep="\t")) == 455
