"""TAG lookahead affinity: arithmetic against a hand computation, a copy-free lookahead, files."""

from __future__ import annotations

import json
import math
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from pvigroup.baselines import tag
from pvigroup.baselines.grouping import GROUP_COLUMNS, baseline_groups, read_matrix
from pvigroup.errors import PvigroupError
from pvigroup.io import write_json, write_parquet


# --------------------------------------------------------------------------- a toy linear model
class Toy(nn.Module):
    """A linear "encoder" shared by two linear heads: logits = V_t (W x + b) + c_t."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(2, 2)
        self.heads = nn.ModuleDict({"a": nn.Linear(2, 2), "b": nn.Linear(2, 3)})

    def forward(self, task, x):
        return self.heads[task](self.encoder(x))


def _toy():
    torch.manual_seed(3)
    model = Toy()
    batches = {
        "a": {"x": torch.tensor([[1.0, -0.5], [0.3, 2.0], [-1.2, 0.7]]),
              "labels": torch.tensor([0, 1, 1])},
        "b": {"x": torch.tensor([[0.4, 0.9], [-0.8, -1.1]]), "labels": torch.tensor([2, 0])},
    }
    return model, batches


def _np(t):
    return t.detach().double().numpy()


def _ce(logits, y):
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(y)), y].mean()), np.exp(logp)


def _hand_affinity(model, batches, lr):
    """Z by hand: the chain rule of cross-entropy through two linear maps, in numpy."""
    W, b = _np(model.encoder.weight), _np(model.encoder.bias)
    heads = {t: (_np(h.weight), _np(h.bias)) for t, h in model.heads.items()}
    data = {t: (_np(v["x"]), v["labels"].numpy()) for t, v in batches.items()}

    def loss(t, W, b):
        X, y = data[t]
        V, c = heads[t]
        return _ce((X @ W.T + b) @ V.T + c, y)

    names = list(batches)
    before = np.array([loss(t, W, b)[0] for t in names])
    Z = np.empty((2, 2))
    for i, src in enumerate(names):
        X, y = data[src]
        V, _ = heads[src]
        _, p = loss(src, W, b)
        dlogits = (p - np.eye(p.shape[1])[y]) / len(y)  # d mean CE / d logits
        dh = dlogits @ V                                 # through the head
        W2, b2 = W - lr * dh.T @ X, b - lr * dh.sum(axis=0)
        for j, dst in enumerate(names):
            Z[i, j] = 1 - loss(dst, W2, b2)[0] / before[j]
    return Z


def test_lookahead_affinity_matches_a_hand_computation():
    model, batches = _toy()
    lr = 0.5
    got = tag.lookahead_affinity(model, batches, lr)
    want = _hand_affinity(model, batches, lr)
    assert got.shape == (2, 2)
    np.testing.assert_allclose(got, want, atol=2e-6)
    assert np.all(np.diag(got) > 0)  # a step on a task's own loss lowers it
    assert np.abs(got).max() > 1e-3  # a real signal, not a vacuous match of zeros


def test_lookahead_leaves_the_model_unchanged():
    model, batches = _toy()
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    tag.lookahead_affinity(model, batches, 0.5)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in model.parameters())
    assert model.training  # mode restored
    # the heads are not stepped: a model with a head-only change gives the same before-loss
    assert set(tag.shared_parameters(model)) == {"encoder.weight", "encoder.bias"}


def test_lookahead_params_is_one_sgd_step():
    shared = {"w": torch.tensor([1.0, 2.0]), "u": torch.tensor([3.0])}
    grads = {"w": torch.tensor([0.5, -1.0]), "u": None}
    out = tag.lookahead_params(shared, grads, 0.1)
    assert torch.allclose(out["w"], torch.tensor([0.95, 2.1]))
    assert out["u"] is shared["u"]
    assert torch.equal(shared["w"], torch.tensor([1.0, 2.0]))


def test_affinity_arithmetic():
    before = [2.0, 4.0]
    after = np.array([[1.5, 3.0], [2.5, 5.0]])
    np.testing.assert_allclose(tag.affinity_from_losses(before, after),
                               [[0.25, 0.25], [-0.25, -0.25]])
    z = tag.affinity_from_losses([0.0, 1.0], np.ones((2, 2)))
    assert np.isnan(z[:, 0]).all() and (z[:, 1] == 0).all()
    with pytest.raises(ValueError, match="K x K"):
        tag.affinity_from_losses([1.0, 1.0], np.ones((3, 3)))
    m = tag.mean_affinity([np.array([[1.0, np.nan]]), np.array([[3.0, np.nan]])])
    assert m[0, 0] == 2.0 and np.isnan(m[0, 1])
    A = pd.DataFrame([[0.1, 0.4, np.nan], [0.2, 0.3, 0.6], [0.0, 0.2, 0.5]],
                     index=list("abc"), columns=list("abc"))
    S = tag.symmetrise(A)
    assert S.loc["a", "b"] == S.loc["b", "a"] == pytest.approx(0.3)
    assert S.loc["a", "c"] == S.loc["c", "a"] == 0.0  # one direction unknown: the other
    assert S.loc["b", "c"] == pytest.approx(0.4)
    assert np.isnan(np.diag(S.to_numpy())).all()


def test_record_steps():
    assert tag.record_steps(25, 10) == [9, 19]
    assert tag.record_steps(3, 1) == [0, 1, 2]
    assert tag.record_steps(4, 10) == [3]  # a short run still records once
    with pytest.raises(ValueError, match="every"):
        tag.record_steps(5, 0)


# --------------------------------------------------------------------------- a short real run
def _task_dirs(tmp_path, names):
    texts = ["good", "bad", "great film", "awful film", "nice", "poor", "fine", "dull"]
    dirs = []
    for t in names:
        d = tmp_path / "data" / t
        for split in ("train", "dev"):
            df = pd.DataFrame({"id": [f"{t}:{split}:{i}" for i in range(8)], "text": texts,
                               "text_pair": [None] * 8, "label": [i % 2 for i in range(8)],
                               "label_name": [("neg", "pos")[i % 2] for i in range(8)]})
            write_parquet(df, d / f"{split}.parquet", {"task": t, "split": split})
        write_json({"task": t, "labels": ["neg", "pos"], "pair": False}, d / "task.json")
        dirs.append(d)
    return dirs


def test_tag_run_writes_a_matrix_that_groups(tmp_path, tiny_bert):
    from pvigroup.train import read_groups

    dirs = _task_dirs(tmp_path, ["r", "p", "q"])
    root = tmp_path / "tag"
    aff = tag.tag_affinity(dirs, root / "affinity.tsv", root / "symmetric.tsv",
                           root / "affinity.json", model="tiny", pretrained=str(tiny_bert),
                           hparams={"epochs": 2, "batch_size": 4, "lr": 1e-4, "max_length": 16},
                           lookahead_lr=1e-3, every=1, max_train_rows=6, seed=1,
                           engine={"device": "cpu"})
    Z = read_matrix(root / "affinity.tsv")
    assert list(Z.index) == list(Z.columns) == ["p", "q", "r"]
    assert np.isfinite(Z.to_numpy()).all()  # diagonal included
    assert (np.diag(Z.to_numpy()) > 0).all()  # each task's own step lowers its loss
    pd.testing.assert_frame_equal(Z, aff.rename_axis("task"), check_names=False)
    S = read_matrix(root / "symmetric.tsv")
    np.testing.assert_allclose(S.loc["p", "q"], (Z.loc["p", "q"] + Z.loc["q", "p"]) / 2,
                               rtol=1e-5, atol=1e-9)
    meta = json.loads((root / "affinity.json").read_text())
    # 6 rows per task in batches of 4: 2 steps per epoch, 2 epochs, a record at every step
    assert meta["total_steps"] == 4 and meta["steps_recorded"] == [0, 1, 2, 3]
    assert meta["seeds"] == [1] and meta["settings"]["lookahead_lr"] == 1e-3
    assert meta["n_train"] == {"r": 6, "p": 6, "q": 6}
    records = np.array([r["affinity"] for r in meta["records"]])
    order = meta["record_order"]
    mean = pd.DataFrame(records.mean(axis=0), index=order, columns=order)
    np.testing.assert_allclose(Z.to_numpy(), mean.loc[Z.index, Z.columns].to_numpy(),
                               rtol=1e-5, atol=1e-9)
    assert set(meta["dev"]) == {"p", "q", "r"}

    groups = baseline_groups(root / "symmetric.tsv", root / "groups.tsv", method="tag",
                             test="tag-lookahead", sizes=[2, 3])
    assert len(groups) == 1
    back = read_groups(root / "groups.tsv")
    assert list(back.columns) == GROUP_COLUMNS
    assert set(back["source"]) == {"tag"}


def test_tag_needs_two_tasks(tmp_path, tiny_bert):
    dirs = _task_dirs(tmp_path, ["p"])
    with pytest.raises(PvigroupError, match="at least two tasks"):
        tag.tag_affinity(dirs, tmp_path / "a.tsv", tmp_path / "s.tsv", tmp_path / "a.json",
                         model="tiny", pretrained=str(tiny_bert),
                         hparams={"epochs": 1, "batch_size": 4, "lr": 1e-4, "max_length": 16},
                         lookahead_lr=1e-3, every=1, max_train_rows=None, seed=1,
                         engine={"device": "cpu"})


# --------------------------------------------------------------------------- wiring and cost
def test_config_wiring_and_estimate(tmp_path):
    import inspect

    import yaml

    from pvigroup import baselines as bl
    from pvigroup.estimate import STARTUP_SECONDS, estimate, load_config

    repo = __import__("pathlib").Path(__file__).resolve().parents[2]
    tasks = {f"t{i}": {"source": {"files": {"train": f"t{i}.csv"}}, "text": ["text"],
                       "label": "label", "labels": ["a", "b"],
                       "max_rows": {"train": 160, "dev": 48, "test": 40}} for i in range(3)}
    cfg = {"tasks": tasks,
           "models": {"minilm": {"pretrained": "sentence-transformers/all-MiniLM-L6-v2",
                                 "family": "bert"}},
           "train": {"sources": ["pvi-similar", "tag"]},
           "baselines": {"taskemb": {"enabled": False},
                         "tag": {"enabled": True, "max_train_rows": 100,
                                 "train": {"epochs": 3, "batch_size": 16, "max_length": 64}}}}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    config = load_config(path, repo)
    assert config["baselines"]["tag"]["every"] == 10  # schema defaults filled
    assert bl.enabled_methods(config) == ["tag"]
    assert bl.compared_methods(config) == ["tag"]
    root = "results/baselines/tag/minilm"
    assert set(bl.baseline_targets(config, "minilm")) == {
        f"{root}/groups.tsv", f"{root}/symmetric.tsv", f"{root}/affinity.tsv",
        f"{root}/comparison.tsv", "results/baselines/minilm/beat_stl.tsv"}
    assert bl.matrix_file("tag", "minilm") == f"{root}/symmetric.tsv"
    assert bl.group_settings(config, "tag")["test"] == "tag-lookahead"
    settings = bl.tag_settings(config)
    accepted = set(inspect.signature(tag.tag_affinity).parameters)
    assert set(settings) <= accepted  # the rule passes exactly these as keywords
    est = estimate(config, device="cpu")
    rule = next(r for r in est.rules if r.rule == "tag_affinity")
    assert (rule.jobs, rule.stage, rule.gpu) == (1, "tag", True)
    # priced as one MTL run over 3 x min(160, 100) train rows and 3 x 48 dev rows
    from pvigroup import resources as res

    cost = res.model_cost("minilm", config["models"]["minilm"], res.settings(config))
    step = cost.cpu_step_seconds * 16 * 64 / res.REF_TOKENS
    want = STARTUP_SECONDS["cpu"] + 3 * (math.ceil(300 / 16) + math.ceil(144 / 16) / 3) * step
    assert rule.hours * 3600 == pytest.approx(want)
    cfg["baselines"]["tag"]["enabled"] = False
    path.write_text(yaml.safe_dump(cfg))
    off = estimate(load_config(path, repo), device="cpu")
    assert next(r for r in off.rules if r.rule == "tag_affinity").jobs == 0


@pytest.mark.parametrize(("max_grad_norm", "expected_calls"), [(0.5, 4), (0.0, 0)])
def test_tag_run_clips_gradients(tmp_path, tiny_bert, monkeypatch, max_grad_norm, expected_calls):
    import torch

    seen = []
    real = torch.nn.utils.clip_grad_norm_

    def spy(parameters, max_norm, *args, **kwargs):
        seen.append(max_norm)
        return real(parameters, max_norm, *args, **kwargs)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    dirs = _task_dirs(tmp_path, ["r", "p"])
    root = tmp_path / "tag"
    tag.tag_affinity(dirs, root / "affinity.tsv", root / "symmetric.tsv", root / "affinity.json",
                     model="tiny", pretrained=str(tiny_bert),
                     hparams={"epochs": 2, "batch_size": 4, "lr": 1e-4, "max_length": 16,
                              "max_grad_norm": max_grad_norm},
                     lookahead_lr=1e-3, every=1, max_train_rows=6, seed=1,
                     engine={"device": "cpu"})
    # 6 rows per task in batches of 4: 2 optimizer steps per epoch, 2 epochs
    assert seen == [max_grad_norm] * expected_calls
