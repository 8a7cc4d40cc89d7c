"""PVI math against hand-computed cases."""

import math

import numpy as np
import pandas as pd
import pytest

from pvigroup.errors import PvigroupError
from pvigroup.pvi import (
    collapse_check,
    empirical_prior,
    gold_log2,
    macro_f1,
    majority_accuracy,
    null_model_difference,
    pvi,
)


def test_pvi_hand_computed():
    # two instances, three labels; probabilities chosen so log2 values are exact
    gprime = np.log(np.array([[0.5, 0.25, 0.25], [0.125, 0.125, 0.75]]))
    null = np.log(np.array([[0.25, 0.5, 0.25], [0.25, 0.5, 0.25]]))
    labels = np.array([0, 1])
    # instance 0: log2(0.5) - log2(0.25) = -1 + 2 = 1 bit
    # instance 1: log2(0.125) - log2(0.5) = -3 + 1 = -2 bits (g' worse than the prior)
    np.testing.assert_allclose(pvi(gprime, null, labels), [1.0, -2.0], atol=1e-12)


def test_gold_log2_indexes_by_label_id_not_position():
    logp = np.log(np.array([[0.1, 0.9], [0.9, 0.1]]))
    np.testing.assert_allclose(gold_log2(logp, np.array([1, 0])), [math.log2(0.9)] * 2)


def test_gold_log2_rejects_out_of_range_labels():
    with pytest.raises(ValueError, match="label ids"):
        gold_log2(np.zeros((1, 2)), np.array([2]))


def test_empirical_prior_is_label_frequency():
    logp = empirical_prior(np.array([0, 0, 0, 1]), 3)
    np.testing.assert_allclose(np.exp(logp), [0.75, 0.25, 0.0])


def test_mean_pvi_of_perfect_model_equals_label_entropy():
    # g' certain and right; g = empirical prior: mean PVI = H(Y) in bits (here 1 bit)
    labels = np.array([0, 1, 0, 1])
    gprime = np.log(np.where(np.eye(2)[labels] > 0, 1 - 1e-12, 1e-12))
    null = np.tile(empirical_prior(labels, 2), (4, 1))
    assert pvi(gprime, null, labels).mean() == pytest.approx(1.0, abs=1e-9)


def test_majority_and_macro_f1():
    assert majority_accuracy(np.array([1, 1, 0]), np.array([1, 0, 0, 0])) == 0.25
    gold = np.array([0, 0, 1, 1])
    pred = np.array([0, 1, 1, 1])
    # class 0: tp1 fp0 fn1 -> 2/3; class 1: tp2 fp1 fn0 -> 4/5
    assert macro_f1(gold, pred, 2) == pytest.approx((2 / 3 + 4 / 5) / 2)


def test_null_model_difference_by_hand():
    # train labels 0,0,0,1: prior 3/4 and 1/4; g gave log2 p = -0.5 (label 0) and -1.9 (label 1)
    df = pd.DataFrame({"id": ["x", "y"], "label": [0, 1], "log2_p_gprime": [-0.1, -1.0],
                       "log2_p_null": [-0.5, -1.9], "pvi": [0.4, 0.9]})
    d = null_model_difference(df, np.array([0, 0, 0, 1]), 2)
    assert list(d["id"]) == ["x", "y"]
    assert d["log2_p_prior"].tolist() == pytest.approx([math.log2(0.75), -2.0])
    assert d["pvi_prior"].tolist() == pytest.approx([-0.1 - math.log2(0.75), -1.0 + 2.0])
    assert (d["pvi_finetune"] - d["pvi_prior"]).tolist() == pytest.approx(
        (d["log2_p_prior"] - d["log2_p_null"]).tolist())
    with pytest.raises(PvigroupError, match="lacks columns"):
        null_model_difference(df.drop(columns="log2_p_null"), np.array([0, 1]), 2)


# --------------------------------------------------------------------------- collapsed-g' gate
def test_collapse_check_compares_log_loss_with_the_prior():
    train_labels = np.array([0] * 18 + [1] * 6)  # prior 0.75 / 0.25
    labels = np.array([0, 1, 0, 1])
    prior_loss = -(np.log2(0.75) + np.log2(0.25)) / 2
    better = collapse_check(np.log2([0.55, 0.45, 0.55, 0.45]), labels, train_labels, 2)
    assert better["prior_log_loss"] == pytest.approx(prior_loss)
    assert better["gprime_log_loss"] == pytest.approx(-(np.log2(0.55) + np.log2(0.45)) / 2)
    assert not better["collapsed"]
    worse = collapse_check(np.log2([0.2, 0.8, 0.2, 0.8]), labels, train_labels, 2)
    assert worse["collapsed"]
    # the prior itself is collapsed (no information over the prior); an unseen label is not
    assert collapse_check(np.log2([0.75, 0.25] * 2), labels, train_labels, 2)["collapsed"]
    unseen = collapse_check(np.log2([0.5, 0.5]), np.array([0, 2]), train_labels, 3)
    assert unseen["prior_log_loss"] is None and not unseen["collapsed"]


@pytest.fixture(scope="module")
def skewed_task(tmp_path_factory, tiny_bert):
    """Skewed train (18 'a' / 6 'b'), balanced dev; g' models with constant outputs p(b)."""
    import torch

    from pvigroup.engine.model import build_model, save_model
    from pvigroup.io import write_json, write_parquet
    from pvigroup.pvi import fit_empirical_prior

    root = tmp_path_factory.mktemp("gate")
    d = root / "data" / "t"

    def frame(split, ys):
        return pd.DataFrame({"id": [f"t:{split}:{i}" for i in range(len(ys))],
                             "text": [f"row {i} says {'ab'[y]}" for i, y in enumerate(ys)],
                             "label": np.asarray(ys, dtype=np.int64)})

    write_parquet(frame("train", [0] * 18 + [1] * 6), d / "train.parquet", {"task": "t"})
    write_parquet(frame("dev", [0, 1] * 4), d / "dev.parquet", {"task": "t"})
    write_json({"task": "t", "labels": ["a", "b"],
                "source": {"hf": {"path": "x/y", "revision": "abc123"}}}, d / "task.json")
    fit_empirical_prior(d, root / "prior.json")
    for name, p_b in (("better", 0.45), ("worse", 0.8)):
        torch.manual_seed(0)
        model = build_model(tiny_bert, {"t": ["a", "b"]}, 16, False)
        with torch.no_grad():  # constant output: zero weights, bias = log-probabilities
            model.heads["t"].out_proj.weight.zero_()
            model.heads["t"].out_proj.bias.copy_(torch.log(torch.tensor([1 - p_b, p_b])))
        save_model(model, root / name, {"tasks": {"t": {"labels": ["a", "b"]}}, "max_length": 16,
                                        "null_input": False, "pretrained": tiny_bert,
                                        "provenance": {"device": "cpu", "model_revision": "r1"}})
    return d, root


def _compute(skewed_task, tmp_path, gprime, allow=False):
    from pvigroup.pvi import compute_pvi

    d, root = skewed_task
    engine = {"device": "cpu", "compile": "off", "buckets": [16], "threads": 1, "progress": False}
    return compute_pvi(d, root / gprime, root / "prior.json", tmp_path / "t.parquet",
                       tmp_path / "t.summary.json", split="dev", model="tiny",
                       model_spec={"pretrained": "tiny"}, hparams={"seed": 1}, engine=engine,
                       allow_collapsed=allow)


def test_gate_passes_a_gprime_at_majority_accuracy_with_better_log_loss(skewed_task, tmp_path):
    from pvigroup.io import read_json, read_meta

    out = _compute(skewed_task, tmp_path, "better")
    summary = read_json(tmp_path / "t.summary.json")
    # accuracy equals the majority baseline (the old gate stopped here), log-loss beats the prior
    assert summary["gprime_accuracy"] == summary["majority_accuracy"] == 0.5
    assert summary["gprime_log_loss"] < summary["prior_log_loss"] and not summary["collapsed"]
    assert out["pvi"].mean() == pytest.approx(summary["prior_log_loss"]
                                              - summary["gprime_log_loss"])
    # provenance: read-out settings, versions, checkpoint and data revisions, g' training
    import torch
    import transformers

    for prov in (summary["provenance"], read_meta(tmp_path / "t.parquet")["provenance"]):
        assert prov["device"] == "cpu" and prov["precision"] == "fp32" and prov["compile"] == "off"
        assert prov["torch"] == torch.__version__
        assert prov["transformers"] == transformers.__version__
        assert prov["model_revision"] == "r1" and prov["dataset_revision"] == "abc123"
        assert prov["training"]["gprime"]["device"] == "cpu"
        assert prov["training"]["null"] == "empirical-prior"


def test_gate_stops_a_gprime_worse_than_the_prior_and_the_override_keeps_it(skewed_task,
                                                                            tmp_path):
    from pvigroup.io import read_json

    with pytest.raises(PvigroupError) as err:
        _compute(skewed_task, tmp_path, "worse")
    msg = str(err.value)
    assert msg.startswith("t: g' log-loss 1.322 bits on dev is no better than the label "
                          "prior's 1.208 bits (accuracy 0.500, majority 0.500)")
    assert "pvi.allow_collapsed: true" in msg
    _compute(skewed_task, tmp_path, "worse", allow=True)
    assert read_json(tmp_path / "t.summary.json")["collapsed"] is True


# --------------------------------------------------------------------------- g sees nothing
@pytest.fixture(scope="module")
def null_model(skewed_task, tmp_path_factory, tiny_bert):
    """g fine-tuned by the rule function on the empty input of the skewed task."""
    from pvigroup.pvi import finetune

    d, _ = skewed_task
    out = tmp_path_factory.mktemp("g") / "null"
    engine = {"device": "cpu", "compile": "off", "buckets": [16], "threads": 1, "progress": False}
    finetune(d, out, pretrained=tiny_bert, hparams={"epochs": 1, "batch_size": 8, "lr": 1e-3,
                                                    "max_length": 16, "seed": 1},
             null_input=True, engine=engine)
    return out


def _compute_with_null(skewed_task, tmp_path, null):
    from pvigroup.pvi import compute_pvi

    d, root = skewed_task
    engine = {"device": "cpu", "compile": "off", "buckets": [16], "threads": 1, "progress": False}
    return compute_pvi(d, root / "better", null, tmp_path / "t.parquet",
                       tmp_path / "t.summary.json", split="dev", model="tiny",
                       model_spec={"pretrained": "tiny"}, hparams={"seed": 1}, engine=engine)


def test_g_from_finetune_null_reads_the_empty_input(skewed_task, null_model, tmp_path):
    from pvigroup.io import read_json

    assert read_json(null_model / "meta.json")["null_input"] is True
    out = _compute_with_null(skewed_task, tmp_path, null_model)
    assert out.groupby("label")["log2_p_null"].nunique().eq(1).all()  # one value per label


def test_g_trained_on_the_real_input_is_refused(skewed_task, tmp_path):
    _, root = skewed_task  # "worse" was saved with null_input false: a g' in g's place
    with pytest.raises(PvigroupError, match="trained on the real input"):
        _compute_with_null(skewed_task, tmp_path, root / "worse")


def test_g_read_out_on_the_real_input_is_refused(skewed_task, null_model, tmp_path, monkeypatch):
    import pvigroup.engine as engine

    real = engine.predict_logprobs

    def reads_the_text(*args, null_input=None, **kw):  # a read-out that ignores null_input
        return real(*args, null_input=False, **kw)

    monkeypatch.setattr(engine, "predict_logprobs", reads_the_text)
    with pytest.raises(PvigroupError, match="read the real input"):
        _compute_with_null(skewed_task, tmp_path, null_model)
