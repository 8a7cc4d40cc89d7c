"""Seconds of one job, priced per length bucket the way the engine batches rows.

The engine cuts each task's rows into single-bucket batches (each batch padded to the smallest
bucket of ``engine.buckets`` below ``max_length`` that holds its rows, ``max_length`` itself
the last bucket). A step of ``batch × bucket`` tokens costs the device's step time of the
reference batch (32 × 128 tokens) scaled by its token count; a read-out pass costs a third of a
training pass over the same rows. Training jobs therefore cost

    startup + Σ_runs [epochs × train pass + dev passes × dev pass / 3] + test pass / 3

with, per STL/MTL run, a dev pass only at the epochs the engine may keep (the grid's epoch
values with ``epoch_search: select``; every epoch otherwise) and the test split scored once per
job. A grid ``max_length`` that truncates none of the job's rows trains the run of the smaller
one again, which the training stage records as the same run
(:func:`pvigroup.train.same_run_lengths`): it is priced at zero.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from pvigroup import resources as res
from pvigroup.engine.schedule import assign_buckets, effective_buckets

#: Token length of a row of the empty input the null model g reads ([CLS] [SEP]).
NULL_LENGTH = 2


@dataclass
class TaskProfile:
    """One task's split sizes and (when known) the token length of every row."""

    name: str
    rows: Mapping[str, int]
    lengths: Mapping[str, np.ndarray] | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def longest(self) -> int | None:
        """Tokens of the longest row of train, dev and test (None when lengths are unknown)."""
        if self.lengths is None:
            return None
        return max((int(v.max()) for v in self.lengths.values() if len(v)), default=0)

    def tokens(self, split: str, max_length: int, buckets: Sequence[int], batch_size: int,
               *, null: bool = False) -> int:
        """Padded tokens of one pass over ``split`` in single-bucket batches of ``batch_size``."""
        key = (split, max_length, tuple(buckets), batch_size, null)
        if key not in self._cache:
            n = int(self.rows[split])
            if null:
                lengths = np.full(n, NULL_LENGTH)
            elif self.lengths is not None:
                lengths = self.lengths[split]
            else:
                lengths = None
            self._cache[key] = pass_tokens(lengths, n, max_length, buckets, batch_size)
        return self._cache[key]


def pass_tokens(lengths: np.ndarray | None, n_rows: int, max_length: int,
                buckets: Sequence[int], batch_size: int) -> int:
    """Padded tokens of one pass over ``n_rows`` rows (all at ``max_length`` without lengths)."""
    if n_rows <= 0:
        return 0
    if lengths is None:
        return math.ceil(n_rows / batch_size) * batch_size * max_length
    eff = effective_buckets(buckets, max_length)
    counts = np.bincount(assign_buckets(np.minimum(lengths, max_length), eff),
                         minlength=len(eff))
    return int(sum(math.ceil(c / batch_size) * batch_size * b
                   for c, b in zip(counts, eff, strict=True) if c))


def seconds(step_seconds: float, tokens: float) -> float:
    """Device seconds of ``tokens`` padded training tokens."""
    return step_seconds * tokens / res.REF_TOKENS


def finetune_seconds(step: float, task: TaskProfile, hp: Mapping[str, int],
                     buckets: Sequence[int], *, null: bool = False) -> float:
    """g′ (or g with ``null``) on train, dev read out every epoch (both keep the last epoch)."""
    ml, bs = int(hp["max_length"]), int(hp["batch_size"])
    per_epoch = (task.tokens("train", ml, buckets, bs, null=null)
                 + task.tokens("dev", ml, buckets, bs, null=null) / 3)
    return seconds(step, int(hp["epochs"]) * per_epoch)


def readout_seconds(step: float, task: TaskProfile, hp: Mapping[str, int], split: str,
                    buckets: Sequence[int], *, null_model: bool) -> float:
    """compute_pvi: g′ on the PVI split, and g on its empty input when g is fine-tuned."""
    ml, bs = int(hp["max_length"]), int(hp["batch_size"])
    tokens = task.tokens(split, ml, buckets, bs)
    if null_model:
        tokens += task.tokens(split, ml, buckets, bs, null=True)
    return seconds(step, tokens / 3)


@dataclass(frozen=True)
class GridCost:
    """What one STL/MTL job trains: runs, runs recorded as identical to another, seconds."""

    runs: int
    same: int
    seconds: float


def grid_seconds(step: float, tasks: Iterable[TaskProfile], settings, buckets: Sequence[int],
                 *, every_point: bool = False) -> GridCost:
    """One STL (one task) or MTL (a group) job over the grid of ``settings`` (TrainSettings).

    ``every_point`` prices every grid point as trained (no run recorded as the same as another).
    """
    from pvigroup.train import grid_points, same_run_lengths

    tasks = list(tasks)
    bs = int(settings.batch_size)
    longest = [t.longest for t in tasks]
    lengths = sorted({int(v) for v in settings.max_length})
    if every_point or None in longest:  # lengths unknown: every run truncates
        same_as = {v: v for v in lengths}
    else:
        same_as = same_run_lengths(max(longest), lengths)
    total, runs, same, trained = 0.0, 0, 0, []
    for point in grid_points(settings):
        ml = int(point.max_length)
        if same_as[ml] != ml:
            same += 1
            continue
        runs += 1
        trained.append(ml)
        train = sum(t.tokens("train", ml, buckets, bs) for t in tasks)
        dev = sum(t.tokens("dev", ml, buckets, bs) for t in tasks)
        dev_passes = len(point.allowed_epochs) if point.select else int(point.epochs)
        total += int(point.epochs) * train + dev_passes * dev / 3
    if trained:  # the selected model scores each task's test split once
        total += sum(t.tokens("test", max(trained), buckets, bs) for t in tasks) / 3
    return GridCost(runs=runs, same=same, seconds=seconds(step, total))


def top_groups_seconds(costs: Sequence[float], k: int) -> float:
    """The sum of the ``k`` largest of ``costs`` (an upper bound on any ``k`` of them)."""
    if k <= 0 or not len(costs):
        return 0.0
    arr = np.sort(np.asarray(costs, dtype=np.float64))[::-1]
    return float(arr[:k].sum())
