"""Single-task (STL) and multi-task (MTL) training of accepted groups, and their evaluation.

One STL run trains one task; one MTL run trains every task of a group with hard parameter sharing
(one encoder, one head per task, each batch from a single task) through :mod:`pvigroup.engine`.
Both search the same grid of learning rate x max length x epochs, select on dev macro-F1 (the mean
over the group's tasks for MTL) and are then scored once on each task's test split.

Seed aggregation reports mean ± t(0.975, n−1)·s/√n over seeds (t = 2.776 for 5 seeds, the paper's
interval); the MTL − STL comparison pairs runs by seed.

Only light modules are imported at the top, so the Snakefile can import the target helpers without
loading torch; the engine is imported inside the training functions.
"""

from pvigroup.train.aggregate import (
    aggregate_seeds,
    collect_train,
    compare_mtl_stl,
    summary_rows,
    t_interval,
)
from pvigroup.train.groups import check_group, group_sources, mtl_targets, read_groups, stl_targets
from pvigroup.train.runs import (
    evaluate_model,
    longest_row,
    search_grid,
    train_group,
    train_mtl,
    train_stl,
)
from pvigroup.train.settings import (
    AGGREGATE_COLUMNS,
    COMPARISON_COLUMNS,
    EPOCH_SEARCH,
    GROUP_COLUMNS,
    SAMPLERS,
    SOURCES,
    SUMMARY_COLUMNS,
    GridPoint,
    TrainSettings,
    grid_points,
    job_settings,
    same_run_lengths,
    select_best,
)

__all__ = ["AGGREGATE_COLUMNS", "COMPARISON_COLUMNS", "EPOCH_SEARCH", "GROUP_COLUMNS", "SAMPLERS",
           "SOURCES", "SUMMARY_COLUMNS", "GridPoint", "TrainSettings", "aggregate_seeds",
           "check_group", "collect_train", "compare_mtl_stl", "evaluate_model", "grid_points",
           "group_sources", "job_settings", "longest_row", "mtl_targets", "read_groups",
           "same_run_lengths", "search_grid", "select_best", "stl_targets", "summary_rows",
           "t_interval", "train_group", "train_mtl", "train_stl"]
