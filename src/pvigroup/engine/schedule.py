"""Pure functions that decide what the training loop does at each step.

Everything here is a function of its arguments only (no global RNG state), so the batch order of
an epoch is a pure function of ``(seed, epoch)`` and a run resumed in the middle of an epoch
replays exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence

import numpy as np

SAMPLERS = ("proportional", "temperature", "uniform", "every-task")


def effective_buckets(buckets: Sequence[int], max_length: int) -> tuple[int, ...]:
    """The sorted bucket lengths used for a run: those below ``max_length``, plus ``max_length``.

    Parameters
    ----------
    buckets : sequence of int
        Candidate padded lengths (``EngineOptions.buckets``).
    max_length : int
        Tokenisation limit; always a bucket, so every row fits in one.

    Returns
    -------
    tuple of int
        Strictly increasing lengths ending with ``max_length``.
    """
    if max_length < 1:
        raise ValueError(f"max_length must be >= 1, got {max_length}")
    kept = {int(b) for b in buckets if 0 < int(b) < max_length}
    return tuple(sorted(kept | {int(max_length)}))


def assign_buckets(lengths: np.ndarray, buckets: Sequence[int]) -> np.ndarray:
    """Index of the smallest bucket that holds each row (token length ``<=`` bucket length).

    Raises
    ------
    ValueError
        When a row is longer than the largest bucket (tokenisation did not truncate).
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    edges = np.asarray(buckets, dtype=np.int64)
    idx = np.searchsorted(edges, lengths, side="left")
    if len(lengths) and idx.max() >= len(edges):
        raise ValueError(
            f"a row of {int(lengths.max())} tokens exceeds the largest bucket {edges[-1]}"
        )
    return idx


def _rng(seed: int, epoch: int, stream: int, cycle: int = 0) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(epoch), int(stream), int(cycle)])


def stream_id(name: str) -> int:
    """A stable integer for a task name (seeds the task's own shuffle stream)."""
    return zlib.crc32(name.encode("utf-8"))


def bucket_batches(
    bucket_ids: np.ndarray,
    batch_size: int,
    seed: int,
    epoch: int,
    stream: int = 0,
    cycle: int = 0,
) -> list[np.ndarray]:
    """Cut one task's rows into single-bucket batches in a shuffled order.

    Each bucket's rows are shuffled (seeded by ``seed``, ``epoch``, ``stream``, ``cycle``), cut into
    batches of ``batch_size`` (the last batch of a bucket may be short: no row is dropped or
    repeated), and the list of batches is shuffled.

    Returns
    -------
    list of numpy.ndarray
        Row indices (into the task's training frame) of each batch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    bucket_ids = np.asarray(bucket_ids)
    rng = _rng(seed, epoch, stream, cycle)
    batches: list[np.ndarray] = []
    for b in np.unique(bucket_ids):
        rows = np.flatnonzero(bucket_ids == b)
        rows = rows[rng.permutation(len(rows))]
        batches.extend(rows[i : i + batch_size] for i in range(0, len(rows), batch_size))
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


def sampler_probs(sizes: Sequence[int], sampler: str, temperature: float = 2.0) -> np.ndarray:
    """Probability of drawing each task for one batch.

    ``proportional``: p_i ∝ n_i; ``temperature``: p_i ∝ n_i^(1/T); ``uniform``: p_i = 1/k.
    """
    n = np.asarray(sizes, dtype=np.float64)
    if sampler == "proportional":
        w = n
    elif sampler == "temperature":
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        w = n ** (1.0 / temperature)
    elif sampler == "uniform":
        w = np.ones_like(n)
    else:
        raise ValueError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
    return w / w.sum()


def epoch_plan(
    bucket_ids: Sequence[np.ndarray],
    batch_size: int,
    seed: int,
    epoch: int,
    sampler: str = "proportional",
    temperature: float = 2.0,
    streams: Sequence[int] | None = None,
) -> list[tuple[int, np.ndarray]]:
    """The ordered list of ``(task index, row indices)`` batches of one epoch.

    Every batch holds rows of one task and one bucket. With ``proportional`` every batch of every
    task is used once, in shuffled order. With ``temperature`` or ``uniform`` the same total number
    of batches is drawn, the task of each batch drawn from :func:`sampler_probs`; each task cycles
    through its own shuffled batches (a new shuffle each time it runs out). With ``every-task``
    the plan is :func:`round_plan` (one batch of every task per round).

    Parameters
    ----------
    bucket_ids : sequence of numpy.ndarray
        Per task, the bucket index of each training row.
    batch_size, seed, epoch : int
        The plan is a pure function of these and the other arguments.
    sampler, temperature
        See :func:`sampler_probs`.
    streams : sequence of int, optional
        Per task, an integer seeding its shuffle (default: the task index).
    """
    k = len(bucket_ids)
    streams = list(range(k)) if streams is None else list(streams)
    per_task = [
        bucket_batches(b, batch_size, seed, epoch, streams[t]) for t, b in enumerate(bucket_ids)
    ]
    if sampler == "every-task":
        return round_plan(bucket_ids, batch_size, seed, epoch, streams)
    total = sum(len(b) for b in per_task)
    if sampler == "proportional":
        plan = [(t, batch) for t, batches in enumerate(per_task) for batch in batches]
        order = _rng(seed, epoch, -1 & 0xFFFFFFFF).permutation(len(plan))
        return [plan[i] for i in order]
    probs = sampler_probs([len(b) for b in bucket_ids], sampler, temperature)
    draws = _rng(seed, epoch, 0xFFFFFFFE).choice(k, size=total, p=probs)
    cursor = [0] * k
    cycle = [0] * k
    current = list(per_task)
    plan = []
    for t in draws:
        if cursor[t] == len(current[t]):
            cycle[t] += 1
            current[t] = bucket_batches(
                bucket_ids[t], batch_size, seed, epoch, streams[t], cycle[t]
            )
            cursor[t] = 0
        plan.append((int(t), current[t][cursor[t]]))
        cursor[t] += 1
    return plan


def round_plan(
    bucket_ids: Sequence[np.ndarray],
    batch_size: int,
    seed: int,
    epoch: int,
    streams: Sequence[int],
) -> list[tuple[int, np.ndarray]]:
    """The ``every-task`` plan: rounds of one batch of every task, in task order.

    An epoch has as many rounds as its largest task has batches; a task that runs out of batches
    within the epoch starts a new shuffle of them (``cycle`` 1, 2, …). With ``grad_accum`` equal
    to the number of tasks, each round is one optimizer step (TAG's steps,
    :mod:`pvigroup.baselines.tag`).
    """
    k = len(bucket_ids)
    current = [bucket_batches(b, batch_size, seed, epoch, streams[t])
               for t, b in enumerate(bucket_ids)]
    rounds = max(len(b) for b in current)
    cursor, cycle = [0] * k, [0] * k
    plan: list[tuple[int, np.ndarray]] = []
    for _ in range(rounds):
        for t in range(k):
            if cursor[t] == len(current[t]):
                cycle[t] += 1
                current[t] = bucket_batches(
                    bucket_ids[t], batch_size, seed, epoch, streams[t], cycle[t]
                )
                cursor[t] = 0
            plan.append((t, current[t][cursor[t]]))
            cursor[t] += 1
    return plan


def is_update_step(batch_index: int, n_batches: int, grad_accum: int) -> bool:
    """Whether the optimizer steps after micro-batch ``batch_index`` (0-based) of an epoch.

    It steps every ``grad_accum`` micro-batches and at the epoch's last micro-batch.
    """
    return (batch_index + 1) % grad_accum == 0 or batch_index + 1 == n_batches


def accumulation_size(batch_index: int, n_batches: int, grad_accum: int) -> int:
    """Number of micro-batches in the accumulation group holding ``batch_index``.

    Each micro-batch loss is divided by this, so every optimizer step averages its micro-batches,
    including the epoch's last, possibly shorter, group.
    """
    start = (batch_index // grad_accum) * grad_accum
    return min(grad_accum, n_batches - start)


def steps_per_epoch(n_batches: int, grad_accum: int) -> int:
    """Optimizer steps in an epoch of ``n_batches`` micro-batches."""
    return math.ceil(n_batches / grad_accum)


def warmup_steps(total_steps: int, warmup_ratio: float) -> int:
    """Warm-up length in optimizer steps (``ceil(ratio * total)``)."""
    return math.ceil(warmup_ratio * total_steps)


def lr_factor(step: int, total_steps: int, warmup: int) -> float:
    """Multiplier of the peak learning rate at optimizer step ``step`` (0-based).

    Linear warm-up from 0 over ``warmup`` steps, then linear decay to 0 at ``total_steps``
    (the same shape as ``transformers.get_linear_schedule_with_warmup``).
    """
    if step < warmup:
        return step / max(1, warmup)
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup))
