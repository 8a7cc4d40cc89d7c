"""STL and MTL runs through pvigroup.train on a tiny randomly initialised BERT (mechanics only)."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np
import pandas as pd
import pytest
from safetensors.torch import load_file

from pvigroup import train as tr
from pvigroup.engine import load_head, load_model
from pvigroup.errors import PvigroupError
from pvigroup.io import read_json, write_json, write_parquet

ENGINE = {"device": "cpu", "compile": "off", "buckets": [16], "eval_batch_size": 64,
          "threads": 1, "progress": False}
WORDS = {"a": ["bad", "good"], "b": ["red", "green", "blue"]}
FILLER = ["the", "one", "was", "very", "quite", "it", "is", "so"]




def make_task(root, name, n=(48, 24, 20), seed=0):
    """results/data/{name}/ with train/dev/test parquet and task.json; label = a keyword."""
    rng = np.random.default_rng(seed)
    words = WORDS[name]
    d = root / name
    for split, size in zip(("train", "dev", "test"), n, strict=True):
        labels = np.arange(size) % len(words)
        texts = [" ".join([*rng.choice(FILLER, 3), words[y], *rng.choice(FILLER, 2)])
                 for y in labels]
        df = pd.DataFrame({"id": [f"{name}:{split}:{i}" for i in range(size)], "text": texts,
                           "text_pair": pd.Series([None] * size, dtype=object),
                           "label": labels.astype("int64"),
                           "label_name": [words[y] for y in labels]})
        write_parquet(df, d / f"{split}.parquet", {"task": name, "split": split})
    write_json({"task": name, "labels": words, "pair": False, "private": False,
                "fingerprint": {"train": name}}, d / "task.json")
    return d / "task.json"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    return {name: make_task(root, name, seed=i) for i, name in enumerate(WORDS)}


def settings(**kw):
    base = {"grid": {"epochs": [1], "lr": [1e-3], "max_length": [16]}, "batch_size": 8,
            "grad_accum": 1}
    base.update(kw)
    return base


def run_mtl(tmp, tiny_bert, data, name, **kw):
    out = tmp / name
    m = tr.train_mtl([data["a"], data["b"]], out / "metrics.json", out / "predictions.parquet",
                     out / "model", group="a__b", model="tiny", seed=42, pretrained=tiny_bert,
                     train=settings(**kw), engine=ENGINE)
    return m, out


def encoder_weights(model_dir):
    return load_file(str(model_dir / "encoder" / "model.safetensors"))


def differs(w1, w2):
    return any(not np.array_equal(w1[k].numpy(), w2[k].numpy()) for k in w1)


def test_mtl_shared_encoder_heads_and_gradients_from_every_task(tmp_path, tiny_bert, data):
    both, out = run_mtl(tmp_path, tiny_bert, data, "both")
    only_a, out_a = run_mtl(tmp_path, tiny_bert, data, "only_a", loss_weights={"b": 0.0})
    _, out_b = run_mtl(tmp_path, tiny_bert, data, "only_b", loss_weights={"a": 0.0})
    # one encoder, one head per task, heads of different sizes, each reloadable alone
    assert sorted(p.name for p in (out / "model" / "heads").iterdir()) == [
        "a.safetensors", "b.safetensors"]
    head_a, labels_a = load_head(out / "model" / "heads" / "a.safetensors")
    head_b, labels_b = load_head(out / "model" / "heads" / "b.safetensors")
    assert (head_a.out_proj.out_features, head_b.out_proj.out_features) == (2, 3)
    assert (labels_a, labels_b) == (WORDS["a"], WORDS["b"])
    alone = load_model(out / "model", tasks=["b"])
    assert list(alone.heads) == ["b"]
    # the same batches and dropout in all three runs: the encoder differs from the joint run
    # only through the task whose loss was switched off, so each task's gradient reaches it
    w = encoder_weights(out / "model")
    assert differs(w, encoder_weights(out_a / "model")), "task b's loss did not reach the encoder"
    assert differs(w, encoder_weights(out_b / "model")), "task a's loss did not reach the encoder"
    assert both["settings"]["loss_weights"] == {}
    assert only_a["settings"]["loss_weights"] == {"b": 0.0}
    # MTL metrics and predictions for every task
    assert set(both["test"]) == {"a", "b"}
    assert both["kind"] == "mtl" and both["tasks"] == ["a", "b"]
    preds = pd.read_parquet(out / "predictions.parquet")
    assert list(preds.columns) == ["id", "task", "label", "pred", "correct"]
    assert preds.groupby("task").size().to_dict() == {"a": 20, "b": 20}
    assert (preds["correct"] == (preds["label"] == preds["pred"])).all()
    for task in ("a", "b"):
        t = both["test"][task]
        sub = preds[preds.task == task]
        assert t["accuracy"] == pytest.approx(sub["correct"].mean())
        assert set(t["per_class_f1"]) == set(WORDS[task]) and t["n"] == 20
    # selection on the mean dev macro-F1 over the group
    hist = both["grid"][0]["history"]
    kept = hist[both["selected"]["epochs"] - 1]
    assert kept["dev_score"] == pytest.approx(np.mean([kept["dev"][t]["macro_f1"]
                                                       for t in ("a", "b")]))


def test_stl_grid_selects_best_dev_point(tmp_path, tiny_bert, data):
    out = tmp_path / "stl"
    m = tr.train_stl(data["a"], out / "metrics.json", out / "predictions.parquet",
                     out / "model", task="a", model="tiny", seed=52, pretrained=tiny_bert,
                     train=settings(grid={"epochs": [2], "lr": [1e-7, 3e-3],
                                          "max_length": [16]}), engine=ENGINE)
    saved = read_json(out / "metrics.json")
    assert saved["selected"] == m["selected"] and saved["test"] == m["test"]
    scores = [g["dev_score"] for g in m["grid"]]
    assert len(scores) == 2
    best = m["grid"][int(np.argmax(scores))]
    assert m["selected"] == {"epochs": best["epoch"], "lr": best["lr"], "max_length": 16}
    assert m["dev_score"] == pytest.approx(max(scores))
    # the kept model is the selected one
    meta = read_json(out / "model" / "meta.json")
    assert meta["params"]["lr"] == best["lr"] and meta["best_epoch"] == best["epoch"]
    assert not (out / "model.grid").exists()
    assert m["kind"] == "stl" and m["group"] == "a" and m["seed"] == 52
    assert list(m["test"]) == ["a"]


def test_epoch_runs_mode_trains_each_epoch_count(tmp_path, tiny_bert, data):
    out = tmp_path / "runs"
    m = tr.train_stl(data["b"], out / "metrics.json", out / "predictions.parquet",
                     out / "model", task="b", model="tiny", seed=42, pretrained=tiny_bert,
                     train=settings(grid={"epochs": [1, 2], "lr": [1e-3], "max_length": [16]},
                                    epoch_search="runs"), engine=ENGINE)
    assert [(g["epochs"], g["epoch"]) for g in m["grid"]] == [(1, 1), (2, 2)]
    # each run's score is its last epoch's; the better run is kept (a tie keeps the shorter)
    scores = [g["dev_score"] for g in m["grid"]]
    assert scores == [g["history"][-1]["dev_score"] for g in m["grid"]]
    want = 2 if scores[1] > scores[0] else 1
    assert m["selected"]["epochs"] == want and m["dev_score"] == max(scores)
    meta = read_json(out / "model" / "meta.json")
    assert meta["params"]["epochs"] == want and len(meta["history"]) == want


@pytest.mark.parametrize(("scripted", "kept"), [((0.9, 0.5, 0.6), 3), ((0.9, 0.7, 0.6), 2)])
def test_select_keeps_only_grid_epochs(tmp_path, tiny_bert, data, monkeypatch, scripted, kept):
    # the real loop and read-out, with the dev score of each epoch scripted: epoch 1 is the best,
    # but the grid's epochs are [2, 3], so the run of 3 epochs must keep 2 or 3
    from pvigroup.engine import evaluate, loop

    real_entry = loop._epoch_entry

    def entry(*args, **kwargs):
        out = real_entry(*args, **kwargs)
        return {**out, "dev_score": scripted[out["epoch"] - 1]}

    monkeypatch.setattr(loop, "_epoch_entry", entry)
    out = tmp_path / "select"
    m = tr.train_stl(data["a"], out / "metrics.json", out / "predictions.parquet",
                     out / "model", task="a", model="tiny", seed=42, pretrained=tiny_bert,
                     train=settings(grid={"epochs": [3, 2], "lr": [1e-3], "max_length": [16]}),
                     engine=ENGINE)
    (run,) = m["grid"]
    assert run["epochs"] == 3 and [h["dev_score"] for h in run["history"]] == list(scripted)
    assert run["allowed_epochs"] == [2, 3] and run["epoch"] == kept
    # epoch 1 cannot be kept: it is not read out on dev (no dev pass spent on it)
    assert run["history"][0]["dev"] == {} and set(run["history"][1]["dev"]) == {"a"}
    assert m["selected"]["epochs"] == kept and m["dev_score"] == scripted[kept - 1]
    assert m["epoch_selection"] == {"search": "select", "allowed": [2, 3], "selected": kept}
    assert read_json(out / "metrics.json")["epoch_selection"] == m["epoch_selection"]
    # the saved weights are those of the kept epoch (its real dev accuracy is reproduced)
    meta = read_json(out / "model" / "meta.json")
    assert meta["best_epoch"] == kept and meta["params"]["select_epochs"] == [2, 3]
    dev = pd.read_parquet(data["a"].parent / "dev.parquet")
    again = evaluate(out / "model", "a", dev, options=tr_options())
    assert again["accuracy"] == pytest.approx(run["history"][kept - 1]["dev"]["a"]["accuracy"])
    # the same scores with epoch 1 in the grid keep epoch 1: the restriction made the difference
    m1 = tr.train_stl(data["a"], out / "m1.json", out / "p1.parquet", out / "model1",
                      task="a", model="tiny", seed=42, pretrained=tiny_bert,
                      train=settings(grid={"epochs": [1, 3], "lr": [1e-3], "max_length": [16]}),
                      engine=ENGINE)
    assert m1["selected"]["epochs"] == 1 and m1["epoch_selection"]["allowed"] == [1, 3]


def tr_options():
    from pvigroup.config import engine_options

    return engine_options(ENGINE)


def test_bad_jobs_are_rejected(tmp_path, tiny_bert, data):
    out = tmp_path / "bad"
    kw = {"model": "tiny", "seed": 1, "pretrained": tiny_bert, "train": settings(),
          "engine": ENGINE}
    with pytest.raises(PvigroupError, match="two tasks or more"):
        tr.train_mtl([data["a"]], out / "m.json", out / "p.parquet", out / "model", group="a",
                     **kw)
    with pytest.raises(PvigroupError, match=r"no task.json for task\(s\) c"):
        tr.train_mtl([data["a"]], out / "m.json", out / "p.parquet", out / "model",
                     group="a__c", **kw)
    with pytest.raises(PvigroupError, match="not a sorted group id"):
        tr.train_mtl([data["a"], data["b"]], out / "m.json", out / "p.parquet", out / "model",
                     group="b__a", **kw)


def test_a_max_length_that_truncates_nothing_is_recorded_as_the_smaller_run(
        tmp_path, tiny_bert, data, monkeypatch):
    import torch
    import transformers

    from pvigroup import engine

    calls = []
    real_train = engine.train

    def counting(pretrained, tasks, params, out_dir, **kw):
        calls.append(params)
        return real_train(pretrained, tasks, params, out_dir, **kw)

    monkeypatch.setattr(engine, "train", counting)
    out = tmp_path / "stl"
    # rows are 8 tokens ([CLS] + 6 words + [SEP]): 6 truncates, 8 holds every row, so 32 and 64
    # are the run of 8
    m = tr.train_stl(data["a"], out / "metrics.json", out / "predictions.parquet", out / "model",
                     task="a", model="tiny", seed=42, pretrained=tiny_bert,
                     train=settings(grid={"epochs": [1], "lr": [1e-3],
                                          "max_length": [64, 6, 32, 8]}), engine=ENGINE)
    assert [p.max_length for p in calls] == [6, 8]
    assert m["longest_row"] == 8
    grid = {r["max_length"]: r for r in m["grid"]}
    assert "same_as" not in grid[6] and "same_as" not in grid[8]
    for length in (32, 64):
        assert grid[length]["same_as"] == {"max_length": 8}
        assert grid[length]["dev_score"] == grid[8]["dev_score"]
        assert grid[length]["history"] == grid[8]["history"]
    assert m["selected"]["max_length"] in (6, 8)
    # clipping and head reach the engine (defaults of train:), provenance is recorded
    assert {(p.max_grad_norm, p.head) for p in calls} == {(1.0, "cnlp")}
    prov = read_json(out / "metrics.json")["provenance"]
    assert prov["device"] == "cpu" and prov["precision"] == "fp32" and prov["compile"] == "off"
    assert prov["torch"] == torch.__version__ and prov["transformers"] == transformers.__version__
    assert prov["model_revision"].startswith("local:") and prov["dataset_revision"] == {"a": None}
