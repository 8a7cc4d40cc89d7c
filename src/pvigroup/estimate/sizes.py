"""What the estimate knows about each task's data: split sizes and token lengths.

Split sizes, in order of preference:

1. ``{data_dir}/{task}/task.json`` once the task is prepared;
2. the rows of the task's local files, counted, then split as the data stage splits them
   (:func:`pvigroup.data.split_policy`: a missing dev split is ``dev_fraction`` of train, a
   missing test split as much again) and capped by ``max_rows``;
3. the paper's Table 9 for the paper's task ids (capped by ``max_rows``);
4. ``max_rows``, else ``resources.default_rows``.

Token lengths come only from prepared splits: each row is encoded by the engine's own
:func:`pvigroup.engine.encode.encode_frame` with the model's tokenizer when it loads without
the network, else approximated as ⌈characters / 4⌉ per text plus the special tokens (on English
news text, MiniLM's WordPiece gives 0.21 tokens per character, so the approximation prices
about a fifth high). Without lengths every row is priced at the run's ``max_length``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pvigroup import resources as res
from pvigroup.errors import PvigroupError

log = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")
#: Characters per token of the approximation used when the tokenizer is not available offline.
CHARS_PER_TOKEN = 4


def _paper_sizes() -> dict[str, dict[str, int]]:
    from pvigroup.tables import paper_frame

    t9 = paper_frame(9)
    return {r.task: {"train": int(r.train), "dev": int(r.dev), "test": int(r.test)}
            for r in t9.itertuples()}


def counted_rows(task_cfg: Mapping[str, Any], workdir: str | Path = ".") -> dict[str, int] | None:
    """Split sizes of a local-file task from its files' row counts, before preparation.

    None when the task reads a Hugging Face dataset or a file does not exist yet (the demo's
    corpora are fetched by the workflow).
    """
    from pvigroup.data import read_table, split_policy

    source = task_cfg["source"]
    files = source.get("files")
    if not files:
        return None
    paths = {split: Path(workdir) / p for split, p in files.items() if p}
    if not all(p.is_file() for p in paths.values()):
        return None
    n = {}
    for split, path in paths.items():
        frame, _ = read_table(path, source.get("format", "auto"), header=source.get("header", True),
                              encoding=source.get("encoding", "utf-8-sig"))
        n[split] = len(frame)
    frac = float((task_cfg.get("split") or {}).get("dev_fraction", 0.2))
    policy = split_policy(list(n))
    if policy == "given":
        out = dict(n)
    elif policy in ("dev-as-test", "split-train-dev"):
        dev = round(frac * n["train"])
        out = {"train": n["train"] - dev, "dev": dev,
               "test": n["dev" if policy == "dev-as-test" else "test"]}
    else:
        k = round(frac * n["train"])
        out = {"train": n["train"] - 2 * k, "dev": k, "test": k}
    return _capped(out, task_cfg)


def _capped(sizes: Mapping[str, int], task_cfg: Mapping[str, Any]) -> dict[str, int]:
    max_rows = task_cfg.get("max_rows") or {}
    return {s: min(int(sizes[s]), int(max_rows.get(s) or sizes[s])) for s in SPLITS}


def split_sizes(config: Mapping[str, Any], data_dir: str | Path = "results/data",
                workdir: str | Path = ".") -> tuple[dict[str, dict[str, int]], dict[str, str]]:
    """``({task: {train, dev, test}}, {task: source of the sizes})`` for every configured task."""
    paper = _paper_sizes()
    sizes, sources = {}, {}
    for task in sorted(config["tasks"]):
        cfg = config["tasks"][task]
        prepared = Path(data_dir) / task / "task.json"
        max_rows = {k: v for k, v in (cfg.get("max_rows") or {}).items()
                    if k in SPLITS and v}
        capped = " (capped by max_rows)" if max_rows else ""
        counted = None if prepared.exists() else counted_rows(cfg, workdir)
        if prepared.exists():
            sizes[task] = res.task_rows(task, config, data_dir)
            sources[task] = f"the prepared {Path(data_dir) / '<task>' / 'task.json'}"
        elif counted is not None:
            sizes[task] = counted
            sources[task] = "the rows of the local files, split by the split policy" + capped
        elif task in paper:
            sizes[task] = _capped(paper[task], cfg)
            sources[task] = "paper Table 9" + capped
        else:
            sizes[task] = res.task_rows(task, config, data_dir)
            sources[task] = "max_rows" if max_rows else "resources.default_rows"
    return sizes, sources


# --------------------------------------------------------------------------- token lengths
_TOKENIZERS: dict[str, Any] = {}


def load_tokenizer(pretrained: str):
    """The model's tokenizer if it loads from local files (no download), else None."""
    if pretrained in _TOKENIZERS:
        return _TOKENIZERS[pretrained]
    tok = None
    try:
        from transformers import AutoTokenizer
        from transformers.utils import logging as hf_logging

        from pvigroup.config import resolve_pretrained

        level = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # a missing file is expected here, not an error
        try:
            tok = AutoTokenizer.from_pretrained(resolve_pretrained(pretrained),
                                                local_files_only=True)
        finally:
            hf_logging.set_verbosity(level)
    except (OSError, ValueError, ImportError, PvigroupError) as err:
        log.info("tokenizer of %s not available offline (%s): lengths approximated", pretrained,
                 err)
    _TOKENIZERS[pretrained] = tok
    return tok


def approx_lengths(frame) -> np.ndarray:
    """⌈characters / 4⌉ tokens per text, plus 2 special tokens (4 for a sentence pair)."""
    def tokens(col):
        text = frame[col].fillna("").astype(str) if col in frame.columns else None
        return (np.zeros(len(frame), dtype=np.int64) if text is None
                else np.ceil(text.str.len().to_numpy() / CHARS_PER_TOKEN).astype(np.int64))

    pair = (~frame["text_pair"].isna()).to_numpy() if "text_pair" in frame.columns else (
        np.zeros(len(frame), dtype=bool))
    return tokens("text") + tokens("text_pair") + np.where(pair, 4, 2)


def token_lengths(task: str, pretrained: str, data_dir: str | Path = "results/data"
                  ) -> tuple[dict[str, np.ndarray] | None, str]:
    """Untruncated token lengths of each prepared split of ``task`` and how they were obtained.

    ``(None, reason)`` when the task is not prepared yet.
    """
    from pvigroup.io import read_parquet

    root = Path(data_dir) / task
    if not all((root / f"{s}.parquet").exists() for s in SPLITS):
        return None, "not prepared"
    tok = load_tokenizer(pretrained)
    out = {}
    for split in SPLITS:
        frame = read_parquet(root / f"{split}.parquet")
        if tok is None:
            out[split] = approx_lengths(frame)
            continue
        from transformers.utils import logging as hf_logging

        from pvigroup.engine.encode import encode_frame

        level = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # rows longer than the model's limit are expected
        try:  # untruncated: each grid max_length clips them
            out[split] = encode_frame(tok, frame, 10**9, null_input=False).lengths
        finally:
            hf_logging.set_verbosity(level)
    return out, ("the model's tokenizer" if tok is not None
                 else f"characters / {CHARS_PER_TOKEN} (tokenizer not available offline)")
