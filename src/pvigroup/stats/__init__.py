"""Statistics on PVI distributions: pair and group tests, effect sizes, TOST, bootstrap, sensitivity.

Two layers, as in ``statsmodels.stats.oneway``: pure functions on arrays (``pair_test``,
``group_test``, ``tost``, ``bootstrap_mean_ci``, ``bootstrap_diff_ci``, ``sensitivity``,
``vinfo_summary``) that return explicit result objects or frames, and file-level functions for
the workflow: ``run_pair_tests`` and ``run_group_tests`` (``runner``, ``group_runner``) test every
pair / every group of a model in one process, vectorised where the test allows, and write
``pairs.tsv`` / ``triples.tsv`` (``triples.parquet`` for very many groups), which
``read_test_table`` (whole) and ``read_test_batches`` (in batches) read back; ``run_vinfo``
writes ``vinfo.tsv``, ``run_sensitivity`` ``sensitivity.tsv`` and ``sensitivity_summary.tsv``.
The file-level functions and ``sensitivity`` take their options as one :class:`StatsSettings`
(``StatsSettings.from_config(config)`` in the workflow). Options are strings; an unknown option
raises ``ValueError`` listing the valid ones. Problems in the data (too few values, NaN or
infinite PVI, zero variance where a statistic is undefined) raise
:class:`pvigroup.errors.PvigroupError` naming the sample or file.

Modules: ``significance`` (pair and group tests), ``effects`` (effect sizes), ``equivalence``
(TOST), ``bootstrap`` (bootstrap CIs, V-information, seed variability), ``vectorised`` (tests of
many groups at once from per-task summaries), ``sensitivity``, ``files`` (reading PVI files,
vinfo) and ``runner`` / ``group_runner`` (the workflow's pair and group test jobs, and the
reader of their tables). See ``docs/statistics.md``.
"""

from pvigroup.config import StatsSettings
from pvigroup.stats._base import (
    CORRECTIONS,
    GROUP_METHODS,
    PAIR_METHODS,
    TEST_COLUMNS,
    TOST_COLUMNS,
    TOST_VARIANCES,
    TestResult,
)
from pvigroup.stats.bootstrap import (
    SEED_COLUMNS,
    BootstrapCI,
    bootstrap_diff_ci,
    bootstrap_mean_ci,
    seed_variability,
    vinfo_summary,
)
from pvigroup.stats.effects import anova_effect_sizes, hedges_g, mean_diff_ci
from pvigroup.stats.equivalence import tost, tost_group
from pvigroup.stats.files import (
    _aligned_by_id as _aligned_by_id,
)
from pvigroup.stats.files import pair_bootstrap_seed, read_pvi, run_vinfo
from pvigroup.stats.group_runner import run_group_tests
from pvigroup.stats.runner import read_test_batches, read_test_table, run_pair_tests
from pvigroup.stats.sensitivity import (
    SENSITIVITY_COLUMNS,
    SUMMARY_COLUMNS,
    run_sensitivity,
    sensitivity,
    sensitivity_sizes,
    sensitivity_summary,
)
from pvigroup.stats.significance import group_test, pair_test, paired_subsample

__all__ = [
    "CORRECTIONS",
    "GROUP_METHODS",
    "PAIR_METHODS",
    "SEED_COLUMNS",
    "SENSITIVITY_COLUMNS",
    "SUMMARY_COLUMNS",
    "TEST_COLUMNS",
    "TOST_COLUMNS",
    "TOST_VARIANCES",
    "BootstrapCI",
    "StatsSettings",
    "TestResult",
    "anova_effect_sizes",
    "bootstrap_diff_ci",
    "bootstrap_mean_ci",
    "group_test",
    "hedges_g",
    "mean_diff_ci",
    "pair_bootstrap_seed",
    "pair_test",
    "paired_subsample",
    "read_pvi",
    "read_test_batches",
    "read_test_table",
    "run_group_tests",
    "run_pair_tests",
    "run_sensitivity",
    "run_vinfo",
    "seed_variability",
    "sensitivity",
    "sensitivity_sizes",
    "sensitivity_summary",
    "tost",
    "tost_group",
    "vinfo_summary",
]
