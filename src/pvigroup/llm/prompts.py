"""Few-shot prompts in the paper's format (Tables 17-18): templates, shots, truncation.

Everything here is pure: data frames and strings in, strings out. A prompt is a list of blocks
joined by ``separator``; each shot block is the task template filled with a training instance and
followed by its gold answer, and the last block is the query, which ends where the answer begins
(``ANSWER:`` in the paper's templates).
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pvigroup.errors import PvigroupError

PAIR_TEMPLATE = (
    "SENTENCE1: {text}\n\nSENTENCE2: {text_pair}\n\nQUESTION: Is this {choices}?\n\nANSWER:"
)
SINGLE_TEMPLATE = "CONTEXT: {text}\n\nQUESTION: Is this {choices}?\n\nANSWER:"
SEPARATOR = "\n\n"
ANSWER_TEMPLATE = " {answer}"
TEMPLATE_FIELDS = frozenset({"text", "text_pair", "choices"})
VERBALIZERS = ("index", "name")


@dataclass(frozen=True)
class PromptOptions:
    """Prompt settings shared by every LLM (the ``llm:`` section of the config, less ``models``).

    Attributes mirror the schema keys and carry the same defaults.
    """

    shots_per_class: int = 1
    shot_draws: int = 1
    seed: int = 42
    max_test_rows: int | None = None
    verbalizer: str = "index"
    pair_template: str = PAIR_TEMPLATE
    single_template: str = SINGLE_TEMPLATE
    separator: str = SEPARATOR
    answer_template: str = ANSWER_TEMPLATE
    task_templates: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, llm_cfg: Mapping[str, Any] | None) -> PromptOptions:
        """Build from the validated ``llm:`` config section (missing keys take the defaults)."""
        cfg = dict(llm_cfg or {})
        templates = dict(cfg.get("templates") or {})
        opts = cls(
            shots_per_class=int(cfg.get("shots_per_class", 1)),
            shot_draws=int(cfg.get("shot_draws", 1)),
            seed=int(cfg.get("seed", 42)),
            max_test_rows=cfg.get("max_test_rows"),
            verbalizer=cfg.get("verbalizer", "index"),
            pair_template=templates.get("pair", PAIR_TEMPLATE),
            single_template=templates.get("single", SINGLE_TEMPLATE),
            separator=templates.get("separator", SEPARATOR),
            answer_template=templates.get("answer", ANSWER_TEMPLATE),
            task_templates=dict(templates.get("tasks") or {}),
        )
        opts.check()
        return opts

    def check(self) -> None:
        """Raise ``PvigroupError`` naming the config key of a bad template or option."""
        if self.verbalizer not in VERBALIZERS:
            raise PvigroupError(
                f"config llm.verbalizer: {self.verbalizer!r} is not one of {VERBALIZERS}"
            )
        check_template(self.pair_template, "llm.templates.pair", TEMPLATE_FIELDS)
        check_template(
            self.single_template, "llm.templates.single", TEMPLATE_FIELDS - {"text_pair"}
        )
        for task, tpl in self.task_templates.items():
            check_template(tpl, f"llm.templates.tasks.{task}", TEMPLATE_FIELDS)
        check_template(
            self.answer_template, "llm.templates.answer", {"answer"}, required={"answer"}
        )

    def template_for(self, task: str, pair: bool) -> str:
        """The query template of ``task``: its own override, else its family's (pair or single)."""
        if task in self.task_templates:
            return self.task_templates[task]
        return self.pair_template if pair else self.single_template

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready record of the options (written to ``metrics.json``)."""
        return {
            "shots_per_class": self.shots_per_class,
            "shot_draws": self.shot_draws,
            "seed": self.seed,
            "max_test_rows": self.max_test_rows,
            "verbalizer": self.verbalizer,
            "templates": {
                "pair": self.pair_template,
                "single": self.single_template,
                "separator": self.separator,
                "answer": self.answer_template,
                "tasks": dict(self.task_templates),
            },
        }


def check_template(
    template: str, key: str, allowed: set[str] | frozenset[str], required: set[str] | None = None
) -> None:
    """Check that ``template`` is a valid ``str.format`` template using only ``allowed`` fields.

    Raises
    ------
    PvigroupError
        Naming the config ``key``, for a syntax error, an unknown field, or a missing required one.
    """
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as err:
        raise PvigroupError(
            f"config {key}: bad template ({err}); write literal braces as {{{{ }}}}"
        ) from None
    unknown = names - set(allowed)
    if unknown:
        raise PvigroupError(
            f"config {key}: unknown placeholder(s) {sorted(unknown)}; allowed: {sorted(allowed)}"
        )
    missing = (required or set()) - names
    if missing:
        raise PvigroupError(
            f"config {key}: the template must contain {sorted('{' + m + '}' for m in missing)}"
        )


def choices_text(labels: Sequence[str]) -> str:
    """The paper's list of options: ``(0) a or (1) b``; ``(0) a, (1) b, or (2) c`` for three or more."""
    items = [f"({i}) {name}" for i, name in enumerate(labels)]
    if len(items) < 2:
        raise PvigroupError(f"a task needs at least two labels to prompt for, got {list(labels)}")
    if len(items) == 2:
        return f"{items[0]} or {items[1]}"
    return ", ".join(items[:-1]) + ", or " + items[-1]


def verbalize(label: int, labels: Sequence[str], verbalizer: str) -> str:
    """The answer text of label id ``label``: its index (the paper) or its name."""
    if verbalizer == "index":
        return str(label)
    if verbalizer == "name":
        return str(labels[label])
    raise PvigroupError(f"config llm.verbalizer: {verbalizer!r} is not one of {VERBALIZERS}")


def answer_strings(labels: Sequence[str], opts: PromptOptions) -> list[str]:
    """The continuation written after the query for each label id (``" 0"``, ``" 1"``, ...)."""
    answers = [
        opts.answer_template.format(answer=verbalize(i, labels, opts.verbalizer))
        for i in range(len(labels))
    ]
    if len(set(answers)) != len(answers):
        raise PvigroupError(f"llm answers are not distinct for labels {list(labels)}: {answers}")
    return answers


def truncate_text(text: str, max_chars: int | None) -> str:
    """``text`` cut to its first ``max_chars`` characters (unchanged when ``max_chars`` is None)."""
    if max_chars is None or len(text) <= max_chars:
        return text
    return text[:max_chars]


def render_block(
    template: str, text: str, text_pair: str | None, choices: str, max_chars: int | None = None
) -> str:
    """Fill a query template with one instance (texts cut to ``max_chars``)."""
    return template.format(
        text=truncate_text(text, max_chars),
        text_pair="" if text_pair is None else truncate_text(text_pair, max_chars),
        choices=choices,
    )


@dataclass(frozen=True)
class TaskPrompt:
    """How to prompt one task: its labels, template and answers, fixed for all its prompts."""

    task: str
    labels: tuple[str, ...]
    pair: bool
    template: str
    separator: str
    answers: tuple[str, ...]

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any], opts: PromptOptions) -> TaskPrompt:
        """Build from a ``task.json`` record (``task``, ``labels``, ``pair``)."""
        try:
            task, labels, pair = meta["task"], [str(x) for x in meta["labels"]], bool(meta["pair"])
        except KeyError as err:
            raise PvigroupError(f"task.json lacks the key {err}") from None
        template = opts.template_for(task, pair)
        if pair and "{text_pair}" not in template:
            raise PvigroupError(
                f"task {task} is a sentence-pair task but its llm template has no {{text_pair}}"
            )
        return cls(
            task=task,
            labels=tuple(labels),
            pair=pair,
            template=template,
            separator=opts.separator,
            answers=tuple(answer_strings(labels, opts)),
        )

    def build(
        self, shots: pd.DataFrame, text: str, text_pair: str | None, max_chars: int | None = None
    ) -> str:
        """The full prompt: shot blocks with their gold answers, then the query block.

        Parameters
        ----------
        shots
            Rows with ``text``, ``text_pair`` and ``label`` (in prompt order).
        text, text_pair
            The query instance.
        max_chars
            Cut every text field (shots and query) to this many characters.
        """
        choices = choices_text(self.labels)
        blocks = [
            render_block(self.template, row.text, _none(row.text_pair), choices, max_chars)
            + self.answers[int(row.label)]
            for row in shots.itertuples(index=False)
        ]
        blocks.append(render_block(self.template, text, text_pair, choices, max_chars))
        return self.separator.join(blocks)


def _none(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    return str(value)


def fit_prompt(
    task_prompt: TaskPrompt,
    shots: pd.DataFrame,
    text: str,
    text_pair: str | None,
    *,
    max_chars: int | None,
    max_tokens: int | None,
    count_tokens: Callable[[str], int] | None,
) -> tuple[str, int | None]:
    """Build a prompt that fits ``max_tokens``, cutting text fields as little as needed.

    Text fields are first cut to ``max_chars``. If the prompt is still longer than ``max_tokens``
    (counted by ``count_tokens``), the largest per-field character cap that fits is found by
    bisection, so the template's headers and the query's ``ANSWER:`` are never cut.

    Returns
    -------
    prompt, cap
        ``cap`` is the per-field character cap applied (None when nothing was cut).

    Raises
    ------
    PvigroupError
        When even one character per field does not fit ``max_tokens``.
    """
    fields = [text, text_pair or "", *shots["text"].astype(str)]
    if task_prompt.pair:
        fields += [str(x) for x in shots["text_pair"] if _none(x) is not None]
    longest = max(len(f) for f in fields)
    cap = max_chars if max_chars is not None and max_chars < longest else None
    prompt = task_prompt.build(shots, text, text_pair, cap)
    if max_tokens is None or count_tokens is None or count_tokens(prompt) <= max_tokens:
        return prompt, cap
    lo, hi = (
        1,
        (cap if cap is not None else longest) - 1,
    )  # the largest cap that fits is in [lo, hi]
    if count_tokens(task_prompt.build(shots, text, text_pair, lo)) > max_tokens:
        raise PvigroupError(
            f"task {task_prompt.task}: the prompt does not fit max_prompt_tokens={max_tokens} even "
            "with one character per text; raise max_prompt_tokens or lower llm.shots_per_class"
        )
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count_tokens(task_prompt.build(shots, text, text_pair, mid)) <= max_tokens:
            lo = mid
        else:
            hi = mid - 1
    return task_prompt.build(shots, text, text_pair, lo), lo


def select_shots(train: pd.DataFrame, n_labels: int, per_class: int, seed: int) -> pd.DataFrame:
    """``per_class`` training rows of each label, drawn with ``seed``, ordered by label.

    A label with fewer training rows than ``per_class`` contributes what it has (logged by the
    caller through the returned frame's size).
    """
    rng = np.random.default_rng(seed)
    parts = []
    for label in range(n_labels):
        rows = train.index[train["label"].to_numpy() == label]
        if len(rows) == 0 or per_class == 0:
            continue
        take = rng.choice(len(rows), size=min(per_class, len(rows)), replace=False)
        parts.append(train.loc[rows[np.sort(take)]])
    if not parts:
        return train.iloc[0:0]
    return pd.concat(parts)


def subsample_test(test: pd.DataFrame, max_rows: int | None, seed: int) -> pd.DataFrame:
    """A seeded subsample of ``max_rows`` test rows, in their original order (all when None)."""
    if max_rows is None or len(test) <= max_rows:
        return test
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(test), size=max_rows, replace=False))
    return test.iloc[keep]


def prompt_hash(prompt: str) -> str:
    """sha256 hex digest of a prompt (what logs and outputs show instead of the text)."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()


_INDEX_RE = re.compile(r"^\W*?(?:answer\s*:?\s*)?\(?\s*(\d+)\s*\)?(?!\d)", re.IGNORECASE)


def parse_answer(raw: str, labels: Sequence[str]) -> int:
    """The label id a generated answer names, or -1 when it names none.

    Accepts a leading label index (``"0"``, ``" (1)"``, ``"ANSWER: 2"``) or a leading label name
    (case-insensitive; the longest name wins when names share a prefix). Anything else, an index out
    of range included, is unparseable (-1) and is counted, never dropped.
    """
    text = raw.strip()
    match = _INDEX_RE.match(text)
    if match:
        idx = int(match.group(1))
        return idx if 0 <= idx < len(labels) else -1
    low = re.sub(r"^\W*(?:answer\s*:\s*)?", "", text.lower())
    hits = [i for i, name in enumerate(labels) if name and low.startswith(str(name).lower())]
    if not hits:
        return -1
    return max(hits, key=lambda i: len(str(labels[i])))
