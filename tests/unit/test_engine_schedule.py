"""Pure parts of the engine: buckets, epoch plans, samplers, lr schedule, accumulation, metrics."""

import numpy as np
import pytest

from pvigroup.engine.metrics import classification_metrics
from pvigroup.engine.schedule import (
    accumulation_size,
    assign_buckets,
    bucket_batches,
    effective_buckets,
    epoch_plan,
    is_update_step,
    lr_factor,
    sampler_probs,
    steps_per_epoch,
    warmup_steps,
)


def test_effective_buckets_capped_and_include_max_length():
    assert effective_buckets((32, 64, 128, 256, 512), 128) == (32, 64, 128)
    assert effective_buckets((32, 64, 128), 100) == (32, 64, 100)
    assert effective_buckets((32, 64), 16) == (16,)
    assert effective_buckets((), 40) == (40,)


def test_assign_buckets_smallest_that_fits():
    ids = assign_buckets(np.array([1, 32, 33, 64, 100]), (32, 64, 100))
    assert ids.tolist() == [0, 0, 1, 1, 2]
    with pytest.raises(ValueError, match="exceeds"):
        assign_buckets(np.array([101]), (32, 64, 100))


@pytest.mark.parametrize("batch_size", [1, 5, 32])
def test_bucketing_loses_and_duplicates_nothing_for_any_bucket_set(batch_size):
    rng = np.random.default_rng(0)
    lengths = rng.integers(2, 129, size=203)
    for buckets in [(128,), (32, 64, 128), (8, 16, 24, 48, 96, 128)]:
        ids = assign_buckets(lengths, effective_buckets(buckets, 128))
        batches = bucket_batches(ids, batch_size, seed=7, epoch=3)
        rows = np.concatenate(batches)
        assert sorted(rows.tolist()) == list(range(203))  # same multiset for every bucket set
        for b in batches:
            assert 1 <= len(b) <= batch_size
            assert len(set(ids[b].tolist())) == 1  # one bucket per batch
        # at most one short batch per bucket
        short = [b for b in batches if len(b) < batch_size]
        assert len(short) <= len(set(ids.tolist()))


def test_batch_order_is_a_pure_function_of_seed_and_epoch():
    ids = assign_buckets(np.arange(1, 101) % 60 + 1, (16, 32, 64))
    a = bucket_batches(ids, 8, seed=1, epoch=2)
    b = bucket_batches(ids, 8, seed=1, epoch=2)
    c = bucket_batches(ids, 8, seed=1, epoch=3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=False))


def test_mtl_proportional_plan_is_single_task_and_uses_every_row_once():
    sizes = [37, 120, 9]
    ids = [np.zeros(n, dtype=np.int64) for n in sizes]
    ids[1][::3] = 1  # two buckets in task 1
    plan = epoch_plan(ids, 8, seed=0, epoch=0)
    for t, n in enumerate(sizes):
        rows = np.concatenate([r for task, r in plan if task == t])
        assert sorted(rows.tolist()) == list(range(n))
    for t, rows in plan:
        assert rows.max() < sizes[t]  # rows index that task's own frame
    # tasks interleave (shuffled batch list), not task after task
    order = [t for t, _ in plan]
    assert order != sorted(order)


@pytest.mark.parametrize(
    ("sampler", "temperature"), [("temperature", 2.0), ("uniform", 1.0), ("temperature", 5.0)]
)
def test_sampler_proportions_match_formula(sampler, temperature):
    sizes = [400, 100, 25]
    ids = [np.zeros(n, dtype=np.int64) for n in sizes]
    counts = np.zeros(3)
    total = 0
    for epoch in range(60):
        plan = epoch_plan(ids, 5, seed=3, epoch=epoch, sampler=sampler, temperature=temperature)
        assert len(plan) == sum(-(-n // 5) for n in sizes)  # same total number of batches
        for t, _ in plan:
            counts[t] += 1
        total += len(plan)
    expected = sampler_probs(sizes, sampler, temperature)
    if sampler == "uniform":
        np.testing.assert_allclose(expected, [1 / 3] * 3)
    else:
        w = np.array(sizes, dtype=float) ** (1 / temperature)
        np.testing.assert_allclose(expected, w / w.sum())
    # binomial standard error on 6,300 draws is below 0.007
    np.testing.assert_allclose(counts / total, expected, atol=0.025)


def test_temperature_sampler_cycles_each_task_through_its_own_batches():
    sizes = [40, 10]
    ids = [np.zeros(n, dtype=np.int64) for n in sizes]
    plan = epoch_plan(ids, 5, seed=0, epoch=0, sampler="uniform")
    small = [r for t, r in plan if t == 1]
    # the first two batches of task 1 are a permutation of its 10 rows; it then starts a new cycle
    assert len(small) > 2
    assert sorted(np.concatenate(small[:2]).tolist()) == list(range(10))


def test_proportional_sampler_probs_and_unknown_sampler():
    np.testing.assert_allclose(sampler_probs([1, 3], "proportional"), [0.25, 0.75])
    with pytest.raises(ValueError, match="proportional, temperature, uniform"):
        sampler_probs([1, 2], "round-robin")


def test_lr_schedule_linear_warmup_then_linear_decay():
    total, warm = 10, warmup_steps(10, 0.2)
    assert warm == 2
    got = [lr_factor(s, total, warm) for s in range(11)]
    np.testing.assert_allclose(got, [0, 0.5, 1, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125, 0])
    assert [lr_factor(s, 4, 0) for s in range(5)] == [1, 0.75, 0.5, 0.25, 0]


def test_accumulation_rule():
    # 7 micro-batches, k = 3: steps after batches 3, 6 and the last one (7)
    assert [i for i in range(7) if is_update_step(i, 7, 3)] == [2, 5, 6]
    assert [accumulation_size(i, 7, 3) for i in range(7)] == [3, 3, 3, 3, 3, 3, 1]
    assert steps_per_epoch(7, 3) == 3
    assert [i for i in range(4) if is_update_step(i, 4, 1)] == [0, 1, 2, 3]
    assert steps_per_epoch(6, 3) == 2


def test_classification_metrics_hand_computed():
    y = np.array([0, 0, 1, 1, 1, 2])
    p = np.array([0, 1, 1, 1, 0, 0])
    m = classification_metrics(y, p, ["a", "b", "c", "d"])
    # class a: tp 1, |true| 2, |pred| 3 -> 2/5; b: tp 2, 3, 3 -> 4/6; c: 0 (one gold, no pred)
    assert m["per_class_f1"] == pytest.approx({"a": 0.4, "b": 2 / 3, "c": 0.0, "d": 0.0})
    assert m["macro_f1"] == pytest.approx((0.4 + 2 / 3 + 0) / 3)  # d absent everywhere
    assert m["accuracy"] == pytest.approx(3 / 6)
    assert m["n"] == 6


def test_every_task_plan_takes_one_batch_of_every_task_per_round():
    from pvigroup.engine.schedule import round_plan

    bucket_ids = [np.array([0, 0, 1, 1, 0, 1, 0]), np.array([0, 1, 1])]  # 7 and 3 rows
    streams = [11, 22]
    plan = epoch_plan(bucket_ids, 2, 5, 1, "every-task", streams=streams)
    again = round_plan(bucket_ids, 2, 5, 1, streams)
    assert all(t == u and np.array_equal(r, q) for (t, r), (u, q) in zip(plan, again, strict=True))
    # the larger task has 4 batches (buckets of 4 and 3 rows): 4 rounds, task order in each
    assert [t for t, _ in plan] == [0, 1] * 4
    first = bucket_batches(bucket_ids[0], 2, 5, 1, 11)
    assert all(np.array_equal(a, b) for a, b in zip([r for t, r in plan if t == 0], first,
                                                     strict=True))
    # the smaller task (2 batches) runs out after round 2 and starts a new shuffle (cycle 1)
    small = [r for t, r in plan if t == 1]
    want = bucket_batches(bucket_ids[1], 2, 5, 1, 22) + bucket_batches(bucket_ids[1], 2, 5, 1, 22, 1)
    assert all(np.array_equal(a, b) for a, b in zip(small, want, strict=True))
