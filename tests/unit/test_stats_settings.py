"""StatsSettings: built once from the config, passed whole to the test and grouping functions; each
job's params are the options it reads, plain values Snakemake can compare."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from pvigroup import groups, stats
from pvigroup.config import DEFAULT_STATS, StatsSettings, validate_config

REPO = Path(__file__).parents[2]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"

#: every option away from its default (valid together), so that an option a job reads but
#: does not list in StatsSettings.JOBS changes its output
OFF_DEFAULT = StatsSettings(
    alpha=0.2, pair_test="welch", group_test="kruskal", seed=5, max_group_size=4,
    correction="holm", bootstrap_resamples=60, bootstrap_seed=3, bootstrap_max_pairs=2,
    sensitivity_sizes=(20, 30), test="tost", tost_margin=0.4, tost_variance="unequal",
    tie_break="closest", size_priority="pvalue", select="accepted", control="cover",
    dissimilar_sizes=(2, 3), max_dissimilar=1, max_groups=2,
)


def _config(**sections):
    cfg = yaml.safe_load((REPO / "tests" / "data" / "tiny.yaml").read_text())
    for key, value in sections.items():
        cfg[key] = value
    validate_config(cfg, SCHEMA)
    return cfg


def test_from_config_reads_the_stats_and_grouping_sections():
    st = StatsSettings.from_config(_config())
    assert st.alpha == 0.01 and st.pair_test == "student" and st.group_test == "anova"
    assert st.bootstrap_resamples == 2000 and st.bootstrap_max_pairs == 435
    assert st.sensitivity_sizes == (100, 500, 1000) and st.dissimilar_sizes == (2,)
    assert (st.select, st.control, st.test) == ("accepted", "partner", "significance")
    assert st.tost_margin is None  # the equivalence tests run only under grouping.test: tost
    tost = StatsSettings.from_config(_config(grouping={"test": "tost", "tost_margin": 0.3,
                                                       "tie_break": "closest"}))
    assert tost.tost_margin == 0.3 and tost.tie_break == "closest"
    assert {f.name for f in dataclasses.fields(StatsSettings)} == {
        n for names in StatsSettings.JOBS.values() for n in names}


def test_params_are_plain_values_in_a_fixed_order():
    for job, names in StatsSettings.JOBS.items():
        params = OFF_DEFAULT.as_params(job)
        assert list(params) == list(names)
        # what Snakemake records of a param is its repr: builtins only, the same every time
        assert ast.literal_eval(repr(params)) == params
        assert repr(StatsSettings.from_params(params).as_params(job)) == repr(params)
    assert StatsSettings.from_params(OFF_DEFAULT.as_params("sensitivity")).sensitivity_sizes == (
        20, 30)
    assert hash(OFF_DEFAULT) == hash(dataclasses.replace(OFF_DEFAULT))
    with pytest.raises(ValueError, match="unknown job"):
        OFF_DEFAULT.as_params("tables")
    with pytest.raises(ValueError, match="unknown statistics settings"):
        StatsSettings.from_params({"method": "student"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        OFF_DEFAULT.alpha = 0.5  # type: ignore[misc]
    assert StatsSettings() == DEFAULT_STATS


@pytest.fixture
def pvi_files(tmp_path):
    rng = np.random.default_rng(11)
    files = []
    for i, t in enumerate(("a", "b", "c", "d", "e")):
        x = rng.normal(1 + 0.08 * i, 1 + 0.05 * i, 40 + 5 * i)
        path = tmp_path / "pvi" / f"{t}.parquet"
        path.parent.mkdir(exist_ok=True)
        pd.DataFrame({"id": [f"{t}{j}" for j in range(x.size)], "task": t, "pvi": x}).to_parquet(
            path)
        files.append(path)
    return files


def test_each_job_reads_only_the_options_it_lists(tmp_path, pvi_files):
    """A job's script sees only its params; every other option keeps its default there."""

    def sliced(job):
        return StatsSettings.from_params(OFF_DEFAULT.as_params(job))

    def outputs(folder, pick):
        folder.mkdir()
        stats.run_pair_tests(pvi_files, folder / "pairs.tsv", pick("pair_tests"), model="m")
        stats.run_group_tests(pvi_files, folder / "triples.tsv", pick("group_tests"), model="m")
        stats.run_sensitivity(pvi_files, folder / "sens.tsv", folder / "sum.tsv",
                              pick("sensitivity"), model="m")
        groups.write_groups(folder / "pairs.tsv", folder / "triples.tsv", folder / "sim.tsv",
                            folder / "dis.tsv", pick("select_groups"))
        return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}

    whole = outputs(tmp_path / "whole", lambda job: OFF_DEFAULT)
    assert outputs(tmp_path / "sliced", sliced) == whole
    # and the options do matter: the defaults give other files
    assert outputs(tmp_path / "defaults", lambda job: DEFAULT_STATS) != whole
