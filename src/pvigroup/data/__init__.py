"""Task data: read a task's source, validate it, apply the split policy and write prepared splits.

A task entry of the config (``tasks.<name>``, see ``$defs/task`` in the config schema) names a
source (local files or a Hugging Face dataset), its text field(s), its label field and the label
values. :func:`prepare_task` turns it into ``{out_dir}/{train,dev,test}.parquet``,
``task.json`` and ``label_counts.tsv`` (formats in ``docs/architecture.md``).

Split policy (the paper's, footnote 2: the original dev set is the test set and the original
train set is split into train/dev), by which labelled splits the source has:

========================  ================================================================
source splits             prepared splits
========================  ================================================================
train, dev, test          used as they are
train, dev                test = source dev; train -> train + dev (``dev_fraction`` of train)
train, test               test = source test; train -> train + dev (``dev_fraction`` of train)
train                     train -> train + dev + test (dev and test each ``dev_fraction`` of
                          all rows, test drawn first)
========================  ================================================================

Every draw is stratified by label (unless ``split.stratify`` is false) and seeded. Nothing is
ever dropped silently: a row that cannot be used is an error naming the task, the file, the row
and the field.

Modules: :mod:`~pvigroup.data.options` (the task entry's options), :mod:`~pvigroup.data.sources`
(reading files and Hugging Face datasets), :mod:`~pvigroup.data.canonical` (validation, the
prepared layout), :mod:`~pvigroup.data.splitting` (split policy, subsampling, checks),
:mod:`~pvigroup.data.overlap` (train/dev/test text overlap) and :mod:`~pvigroup.data.prepare`
(the rule's function). Every name is importable from ``pvigroup.data``.
"""

from pvigroup.data.canonical import canonical_split
from pvigroup.data.options import (
    COLUMNS,
    HELD_OUT,
    MIN_HELD_OUT_PER_CLASS,
    MIN_HELD_OUT_ROWS,
    SPLITS,
    TaskOptions,
    format_fields,
    render_format,
    task_options,
    value_text,
)
from pvigroup.data.overlap import NORMALISATION, normalise_text, overlap_report
from pvigroup.data.prepare import prepare_task
from pvigroup.data.sources import (
    HF_DEFAULT_SPLITS,
    SUFFIX_FORMATS,
    SourceSplit,
    detect_format,
    read_source,
    read_table,
)
from pvigroup.data.splitting import (
    allocate,
    apply_split_policy,
    check_splits,
    label_counts,
    split_policy,
    stratified_pick,
    subsample,
)

__all__ = [
    "COLUMNS",
    "HELD_OUT",
    "HF_DEFAULT_SPLITS",
    "MIN_HELD_OUT_PER_CLASS",
    "MIN_HELD_OUT_ROWS",
    "NORMALISATION",
    "SPLITS",
    "SUFFIX_FORMATS",
    "SourceSplit",
    "TaskOptions",
    "allocate",
    "apply_split_policy",
    "canonical_split",
    "check_splits",
    "detect_format",
    "format_fields",
    "label_counts",
    "normalise_text",
    "overlap_report",
    "prepare_task",
    "read_source",
    "read_table",
    "render_format",
    "split_policy",
    "stratified_pick",
    "subsample",
    "task_options",
    "value_text",
]
