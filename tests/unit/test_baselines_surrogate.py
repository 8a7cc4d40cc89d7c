"""Surrogate models: sampling, regression recovering planted affinities, group files."""

from __future__ import annotations

import math
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pandas as pd
import pytest

from pvigroup.baselines import surrogate
from pvigroup.baselines.grouping import (
    GROUP_COLUMNS,
    baseline_groups,
    read_group_file,
    read_matrix,
)
from pvigroup.errors import PvigroupError
from pvigroup.io import write_json

TASKS = ["a", "b", "c", "d", "e", "f"]


PLANTED = [("a", "b"), ("c", "d"), ("e", "f")]


def _planted_affinity(seed=0):
    rng = np.random.default_rng(seed)
    values = rng.uniform(-0.01, 0.01, size=(6, 6))
    np.fill_diagonal(values, 0.0)
    A = pd.DataFrame(values, index=TASKS, columns=TASKS)
    for x, y in PLANTED:  # asymmetric but both positive: x helps y more than y helps x
        A.loc[x, y], A.loc[y, x] = 0.06, 0.03
    return A


def _synthetic_perf(subsets, A, noise=0.002, seed=1, metric="accuracy"):
    rng = np.random.default_rng(seed)
    base = dict(zip(TASKS, rng.uniform(0.5, 0.9, size=6), strict=True))
    rows = []
    for s in subsets:
        members = s.split("__")
        for i in members:
            y = base[i] + sum(A.loc[i, j] for j in members if j != i) + rng.normal(0, noise)
            rows.append({"subset": s, "task": i, "accuracy": y, "macro_f1": y, "loss": -y})
    return pd.DataFrame(rows)


def test_sampling_is_deterministic_distinct_and_capped():
    one = surrogate.sample_subsets(TASKS, 12, [2, 3], seed=7)
    assert one == surrogate.sample_subsets(list(reversed(TASKS)), 12, [3, 2], seed=7)
    assert len(one) == len(set(one)) == 12
    assert all(2 <= len(s.split("__")) <= 3 for s in one)
    assert all(s.split("__") == sorted(s.split("__")) for s in one)
    assert one != surrogate.sample_subsets(TASKS, 12, [2, 3], seed=8)
    assert len(surrogate.sample_subsets(TASKS, 12, [2, 3], seed=7, max_runs=5)) == 5
    every = surrogate.sample_subsets(TASKS, 1000, [2, 3], seed=7)
    assert len(every) == surrogate.n_candidate_subsets(6, [2, 3]) == 15 + 20
    with pytest.raises(PvigroupError, match="sizes"):
        surrogate.sample_subsets(["a", "b"], 3, [3], seed=0)


def test_adding_a_task_keeps_the_subsets_it_does_not_displace():
    old = surrogate.sample_subsets(TASKS, 12, [2, 3], seed=7)
    new = surrogate.sample_subsets([*TASKS, "zz"], 12, [2, 3], seed=7)
    assert len(new) == 12
    gone = set(old) - set(new)
    # every old subset that is dropped was displaced by a new one holding the new task
    added = set(new) - set(old)
    assert all("zz" in s.split("__") for s in added) and len(gone) == len(added)
    assert len(gone) < 6  # most earlier runs are kept (a fresh draw would replace most)
    # the per-size order is uniform: over many seeds each pair is drawn about equally often
    counts = {}
    for seed in range(400):
        for s in surrogate.sample_subsets(TASKS, 4, [2], seed=seed):
            counts[s] = counts.get(s, 0) + 1
    assert len(counts) == 15 and max(counts.values()) < 2 * min(counts.values())


def test_plan_logs_the_number_of_runs(caplog):
    cfg = {"n_subsets": 10, "sizes": [2, 3], "seed": 1, "max_runs": 4, "seeds": [1, 2]}
    with caplog.at_level("INFO", logger="pvigroup"):
        plan = surrogate.surrogate_plan(TASKS, cfg)
    assert len(plan) == 4
    assert "4 task subsets x 2 seed(s) = 8 short MTL runs" in caplog.text


@pytest.mark.parametrize(("estimator", "sizes"),
                         [("ols", [2, 3]), ("ols", [3]), ("ridge", [3]), ("average", [2, 3])])
def test_regression_recovers_planted_affinities(estimator, sizes):
    A = _planted_affinity()
    subsets = surrogate.sample_subsets(TASKS, 30, sizes, seed=3)
    perf = _synthetic_perf(subsets, A)
    theta = surrogate.fit_coefficients(perf, TASKS, estimator=estimator)
    assert np.all(np.isnan(np.diag(theta.to_numpy())))
    off = ~np.eye(6, dtype=bool)
    planted = A.to_numpy()
    centred = planted - planted[off].reshape(6, 5).mean(axis=1, keepdims=True)
    r = np.corrcoef(theta.to_numpy()[off], centred[off])[0, 1]
    assert r > (0.9 if estimator != "average" else 0.7), r
    aff = surrogate.affinity_matrix(theta)
    assert np.allclose(aff.to_numpy()[off], aff.to_numpy().T[off])
    for x, y in PLANTED:  # each planted partner is the best partner of both members
        assert aff.loc[x].drop(x).idxmax() == y
        assert aff.loc[y].drop(y).idxmax() == x


def test_loss_metric_is_negated():
    A = _planted_affinity()
    subsets = surrogate.sample_subsets(TASKS, 30, [2, 3], seed=3)
    perf = _synthetic_perf(subsets, A)
    acc = surrogate.fit_coefficients(perf, TASKS, metric="accuracy")
    loss = surrogate.fit_coefficients(perf, TASKS, metric="loss")
    np.testing.assert_allclose(acc.to_numpy(), loss.to_numpy(), equal_nan=True)


def test_unestimable_partner_is_nan_and_never_grouped():
    subsets = ["a__b", "a__b__c", "b__c", "a__c", "c__d"]  # d only ever with c
    A = _planted_affinity()
    perf = _synthetic_perf(subsets, A)
    theta = surrogate.fit_coefficients(perf, ["a", "b", "c", "d"], estimator="ridge")
    assert math.isnan(theta.loc["a", "d"]) and math.isnan(theta.loc["d", "a"])
    aff = surrogate.affinity_matrix(theta)
    assert math.isnan(aff.loc["a", "d"])
    # c is always with d: c's effect on d is unknown, d's effect on c is estimated (c runs with
    # and without d), and the affinity of the pair is that one known direction
    assert math.isnan(theta.loc["d", "c"]) and not math.isnan(theta.loc["c", "d"])
    assert aff.loc["c", "d"] == aff.loc["d", "c"] == theta.loc["c", "d"]


def test_surrogate_groups_writes_valid_files(tmp_path):
    A = _planted_affinity()
    subsets = surrogate.sample_subsets(TASKS, 30, [2, 3], seed=3)
    perf = _synthetic_perf(subsets, A)
    runs = []
    for s, rows in perf.groupby("subset"):
        path = tmp_path / "runs" / f"{s}.json"
        write_json({"subset": s, "tasks": sorted(rows["task"]),
                    "dev": {r.task: {"accuracy": r.accuracy, "macro_f1": r.macro_f1,
                                     "loss": r.loss} for r in rows.itertuples()}}, path)
        runs.append(path)
    surrogate.surrogate_fit(runs, tmp_path / "affinity.tsv", tmp_path / "coefficients.tsv",
                            tasks=TASKS, metric="accuracy", estimator="ols")
    baseline_groups(tmp_path / "affinity.tsv", tmp_path / "groups.tsv", method="surrogate",
                    test="surrogate-ols", sizes=[2, 3])
    groups = read_group_file(tmp_path / "groups.tsv")
    assert list(groups.columns) == GROUP_COLUMNS
    assert set(groups["source"]) == {"surrogate"}
    assert set(groups["group"]) == {"a__b", "c__d", "e__f"}  # the planted pairs
    assert (groups["score"].diff().dropna() <= 0).all()
    aff = read_matrix(tmp_path / "affinity.tsv")
    assert list(aff.index) == TASKS
    with pytest.raises(PvigroupError, match="not used by this model"):
        surrogate.surrogate_fit(runs, tmp_path / "a.tsv", tmp_path / "c.tsv", tasks=TASKS[:4])


def test_run_subset_trains_through_the_engine(tmp_path, tiny_bert):
    from pvigroup.io import write_parquet

    texts = ["good", "bad", "great film", "awful film", "nice", "poor", "fine", "dull"]
    dirs = []
    for t in ("p", "q"):
        d = tmp_path / "data" / t
        for split in ("train", "dev"):
            df = pd.DataFrame({"id": [f"{t}:{split}:{i}" for i in range(8)], "text": texts,
                               "text_pair": [None] * 8, "label": [i % 2 for i in range(8)],
                               "label_name": [("neg", "pos")[i % 2] for i in range(8)]})
            write_parquet(df, d / f"{split}.parquet", {"task": t, "split": split})
        write_json({"task": t, "labels": ["neg", "pos"], "pair": False}, d / "task.json")
        dirs.append(d)
    out = tmp_path / "runs" / "p__q.json"
    result = surrogate.run_subset(dirs, out, subset="p__q", model="tiny", pretrained=str(tiny_bert),
                                  hparams={"epochs": 1, "batch_size": 4, "lr": 1e-4,
                                           "max_length": 16},
                                  seeds=[1, 2], max_train_rows=6, engine={"device": "cpu"})
    assert out.exists()
    assert sorted(result["dev"]) == ["p", "q"]
    for scores in result["dev"].values():
        assert 0 <= scores["accuracy"] <= 1 and scores["loss"] > 0
    assert len(result["per_seed"]) == 2
    assert not any(p.name.startswith(".p__q") for p in out.parent.iterdir())  # scratch removed
    perf = surrogate.performance_table([out])
    assert set(perf["task"]) == {"p", "q"}
    with pytest.raises(PvigroupError, match="does not match"):
        surrogate.run_subset(dirs, out, subset="p__r", model="tiny", pretrained=str(tiny_bert),
                             hparams={"epochs": 1}, seeds=[1], max_train_rows=None,
                             engine={"device": "cpu"})
