"""Few-shot prompts in the paper's format (Tables 17-18), shots, truncation and answer parsing."""

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pvigroup.errors import PvigroupError
from pvigroup.llm.prompts import (
    PromptOptions,
    TaskPrompt,
    answer_strings,
    choices_text,
    fit_prompt,
    parse_answer,
    prompt_hash,
    select_shots,
    subsample_test,
)
from pvigroup.llm.spec import LLMSpec

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"

# Paper, Appendix A.2, Table 17 (CB): the three shots, verbatim (typographic quotes included).
CB = [
    (
        (
            "Then the silence in the Zoo became complete. Woil stared around him and then suddenly "
            "with a push of his wings raised himself into the air, turned, and landed ten feet away on "
            "the back of a green bench. Creggan could see that he was afraid and that his fear was "
            "making him terribly uncertain."
        ),
        "Woil was afraid",
        0,
    ),
    (
        (
            "He\u2019s weird enough to have undressed me without thinking, according to some mad notion "
            "of the \u201cproper\u201d thing to do. Perhaps he thought I couldn\u2019t lie in bed with "
            "my clothes on."
        ),
        "she couldn\u2019t lie in bed with her clothes on",
        1,
    ),
    (
        (
            "I hope you are settling down and the cat is well. This was a lie. She did not hope the "
            "cat was well."
        ),
        "the cat was well",
        2,
    ),
]
CB_PAPER = """SENTENCE1: Then the silence in the Zoo became complete. Woil stared around him and then suddenly with a push of his wings raised himself into the air, turned, and landed ten feet away on the back of a green bench. Creggan could see that he was afraid and that his fear was making him terribly uncertain.

SENTENCE2: Woil was afraid

QUESTION: Is this (0) entailment, (1) contradiction, or (2) neutral?

ANSWER: 0

SENTENCE1: He\u2019s weird enough to have undressed me without thinking, according to some mad notion of the \u201cproper\u201d thing to do. Perhaps he thought I couldn\u2019t lie in bed with my clothes on.

SENTENCE2: she couldn\u2019t lie in bed with her clothes on

QUESTION: Is this (0) entailment, (1) contradiction, or (2) neutral?

ANSWER: 1

SENTENCE1: I hope you are settling down and the cat is well. This was a lie. She did not hope the cat was well.

SENTENCE2: the cat was well

QUESTION: Is this (0) entailment, (1) contradiction, or (2) neutral?

ANSWER: 2"""

# Paper, Table 18 (Causal Language): four shots, one per class.
CAUSAL = [
    (
        (
            "Further research is needed to evaluate clinical applications of the PA, such as a more "
            "accurate identification of malnourished cardiac surgery patients."
        ),
        0,
    ),
    ("The etiology of anemia appears to be iron-related and precipitated by the female sex.", 1),
    (
        (
            "Diet may influence the pharmacokinetics of ASA, but effects may be through modulation of "
            "glycine conjugation rather than glucuronidation."
        ),
        2,
    ),
    (
        (
            "Dietary interventions in older people were effective in maintaining fruit and fish "
            "intake, but this did not lead to a significant reduction in cognitive decline."
        ),
        3,
    ),
]
CAUSAL_PAPER = """CONTEXT: Further research is needed to evaluate clinical applications of the PA, such as a more accurate identification of malnourished cardiac surgery patients.

QUESTION: Is this (0) no relationship, (1) correlation, (2) conditional causation, or (3) direct causation?

ANSWER: 0

CONTEXT: The etiology of anemia appears to be iron-related and precipitated by the female sex.

QUESTION: Is this (0) no relationship, (1) correlation, (2) conditional causation, or (3) direct causation?

ANSWER: 1

CONTEXT: Diet may influence the pharmacokinetics of ASA, but effects may be through modulation of glycine conjugation rather than glucuronidation.

QUESTION: Is this (0) no relationship, (1) correlation, (2) conditional causation, or (3) direct causation?

ANSWER: 2

CONTEXT: Dietary interventions in older people were effective in maintaining fruit and fish intake, but this did not lead to a significant reduction in cognitive decline.

QUESTION: Is this (0) no relationship, (1) correlation, (2) conditional causation, or (3) direct causation?

ANSWER: 3"""


def cb_prompt() -> TaskPrompt:
    meta = {"task": "cb", "labels": ["entailment", "contradiction", "neutral"], "pair": True}
    return TaskPrompt.from_meta(meta, PromptOptions())


def causal_prompt() -> TaskPrompt:
    labels = ["no relationship", "correlation", "conditional causation", "direct causation"]
    return TaskPrompt.from_meta(
        {"task": "causal", "labels": labels, "pair": False}, PromptOptions()
    )


def test_pair_prompt_is_the_papers_table_17_byte_for_byte():
    shots = pd.DataFrame(CB[:2], columns=["text", "text_pair", "label"])
    text, pair, gold = CB[2]
    prompt = cb_prompt().build(shots, text, pair)
    # the query ends where the answer begins; with its gold answer it is the paper's prompt
    assert prompt.endswith("ANSWER:")
    assert prompt + cb_prompt().answers[gold] == CB_PAPER
    assert (prompt + " 2").encode() == CB_PAPER.encode()


def test_single_text_prompt_is_the_papers_table_18_byte_for_byte():
    shots = pd.DataFrame(
        [(t, None, y) for t, y in CAUSAL[:3]], columns=["text", "text_pair", "label"]
    )
    text, gold = CAUSAL[3]
    prompt = causal_prompt().build(shots, text, None)
    assert prompt + causal_prompt().answers[gold] == CAUSAL_PAPER
    assert prompt.count("CONTEXT:") == 4
    assert "SENTENCE" not in prompt


def test_choices_lists_two_three_and_four_labels_like_the_paper():
    assert choices_text(["negative", "positive"]) == "(0) negative or (1) positive"
    assert choices_text(["e", "c", "n"]) == "(0) e, (1) c, or (2) n"
    assert choices_text(list("abcd")) == "(0) a, (1) b, (2) c, or (3) d"
    with pytest.raises(PvigroupError):
        choices_text(["only"])


def test_answers_follow_the_verbalizer():
    labels = ["entailment", "contradiction"]
    assert answer_strings(labels, PromptOptions()) == [" 0", " 1"]
    assert answer_strings(labels, PromptOptions(verbalizer="name")) == [
        " entailment",
        " contradiction",
    ]


def test_task_template_override_and_template_checks():
    opts = PromptOptions.from_config(
        {"templates": {"tasks": {"cb": "P: {text} H: {text_pair} A:"}}}
    )
    tp = TaskPrompt.from_meta({"task": "cb", "labels": ["y", "n"], "pair": True}, opts)
    shots = pd.DataFrame([("a", "b", 1)], columns=["text", "text_pair", "label"])
    assert tp.build(shots, "c", "d") == "P: a H: b A: 1\n\nP: c H: d A:"
    with pytest.raises(PvigroupError, match=r"llm\.templates\.single.*unknown placeholder"):
        PromptOptions.from_config({"templates": {"single": "CONTEXT: {txt}"}})
    with pytest.raises(PvigroupError, match=r"llm\.templates\.answer"):
        PromptOptions.from_config({"templates": {"answer": " label"}})
    with pytest.raises(PvigroupError, match="text_pair"):
        TaskPrompt.from_meta(
            {"task": "rte", "labels": ["y", "n"], "pair": True},
            PromptOptions(task_templates={"rte": "{text} ANSWER:"}),
        )


def test_braces_in_texts_are_kept_verbatim():
    tp = causal_prompt()
    shots = pd.DataFrame(columns=["text", "text_pair", "label"])
    assert tp.build(shots, "f(x) = {a} {text}", None).startswith("CONTEXT: f(x) = {a} {text}\n\n")


def train_frame() -> pd.DataFrame:
    rows = [(f"t:{i}", f"text {i}", None, i % 3) for i in range(30)]
    return pd.DataFrame(rows, columns=["id", "text", "text_pair", "label"])


def test_one_shot_per_class_seeded_and_in_label_order():
    train = train_frame()
    a = select_shots(train, n_labels=3, per_class=1, seed=42)
    assert list(a["label"]) == [0, 1, 2]
    assert a.equals(select_shots(train, 3, 1, 42))
    draws = {tuple(select_shots(train, 3, 1, s)["id"]) for s in range(10)}
    assert len(draws) > 1  # other seeds draw other shots
    two = select_shots(train, 3, 2, 7)
    assert list(two["label"]) == [0, 0, 1, 1, 2, 2]
    # a label absent from train gives fewer shots, not an error
    assert list(select_shots(train[train.label != 1], 3, 1, 0)["label"]) == [0, 2]


def test_test_subsample_is_seeded_and_keeps_order():
    test = train_frame()
    sub = subsample_test(test, 10, seed=1)
    assert len(sub) == 10 and sub.index.is_monotonic_increasing
    assert sub.equals(subsample_test(test, 10, seed=1))
    assert not sub.equals(subsample_test(test, 10, seed=2))
    assert subsample_test(test, None, 1) is test
    assert subsample_test(test, 100, 1) is test


def test_char_truncation_cuts_every_text_field():
    tp = cb_prompt()
    shots = pd.DataFrame([("a" * 50, "b" * 50, 0)], columns=["text", "text_pair", "label"])
    prompt, cap = fit_prompt(
        tp, shots, "c" * 50, "d" * 50, max_chars=10, max_tokens=None, count_tokens=None
    )
    assert cap == 10
    assert "SENTENCE1: " + "a" * 10 + "\n" in prompt and "a" * 11 not in prompt
    assert "SENTENCE2: " + "d" * 10 + "\n" in prompt and prompt.endswith("ANSWER:")
    short, cap = fit_prompt(tp, shots, "c", "d", max_chars=100, max_tokens=None, count_tokens=None)
    assert cap is None and short == tp.build(shots, "c", "d")


def test_token_budget_finds_the_largest_cap_that_fits():
    tp = causal_prompt()
    shots = pd.DataFrame([("x" * 400, None, 0)], columns=["text", "text_pair", "label"])

    def count(text: str) -> int:  # one token per 4 characters
        return -(-len(text) // 4)

    prompt, cap = fit_prompt(
        tp, shots, "y" * 400, None, max_chars=None, max_tokens=120, count_tokens=count
    )
    assert cap is not None and count(prompt) <= 120
    assert count(tp.build(shots, "y" * 400, None, cap + 1)) > 120
    assert prompt.endswith("ANSWER:") and prompt.startswith("CONTEXT: x")
    with pytest.raises(PvigroupError, match="max_prompt_tokens=5"):
        fit_prompt(tp, shots, "y" * 400, None, max_chars=None, max_tokens=5, count_tokens=count)


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        ("0", 0),
        (" 1", 1),
        (" (2)\n\nCONTEXT", 2),
        ("ANSWER: 1", 1),
        ("Neutral.", 2),
        ("contradiction, because", 1),
        ("3", -1),
        ("12", -1),
        ("I cannot tell", -1),
        ("", -1),
    ],
)
def test_parse_answer(raw, label):
    assert parse_answer(raw, ["entailment", "contradiction", "neutral"]) == label


def test_prompt_hash_is_sha256_hex():
    assert prompt_hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def _schema_defaults() -> tuple[dict, dict]:
    schema = yaml.safe_load(SCHEMA.read_text())
    llm = schema["properties"]["llm"]["properties"]
    model = schema["$defs"]["llm_model"]["properties"]
    return llm, model


def test_dataclass_defaults_equal_the_schema_defaults():
    llm, model = _schema_defaults()
    opts = PromptOptions()
    assert opts.shots_per_class == llm["shots_per_class"]["default"]
    assert opts.shot_draws == llm["shot_draws"]["default"]
    assert opts.seed == llm["seed"]["default"]
    assert opts.max_test_rows == llm["max_test_rows"]["default"]
    assert opts.verbalizer == llm["verbalizer"]["default"]
    tpl = llm["templates"]["properties"]
    assert opts.pair_template == tpl["pair"]["default"]
    assert opts.single_template == tpl["single"]["default"]
    assert opts.separator == tpl["separator"]["default"]
    assert opts.answer_template == tpl["answer"]["default"]
    spec = LLMSpec(name="x")
    for key, prop in model.items():
        if "default" in prop:
            assert getattr(spec, key) == prop["default"], key
        assert hasattr(spec, key), key
    assert json.dumps(spec.as_dict())  # JSON-ready
