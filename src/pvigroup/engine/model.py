"""The model: one shared encoder and one classification head per task; its directory format.

A model directory holds ``encoder/`` (``save_pretrained`` of the encoder and its tokenizer),
``heads/{task}.safetensors`` (each head with its sizes and labels in the safetensors metadata, so
it reloads alone) and ``meta.json`` (tasks with labels, max_length, null_input, pretrained id,
hyperparameters, seed, history, package version).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, safe_open, save_file
from torch import nn

from pvigroup import __version__
from pvigroup.engine.heads import head_kind, make_head, new_head
from pvigroup.errors import PvigroupError
from pvigroup.io import read_json, write_json

log = logging.getLogger(__name__)


class MultiTaskModel(nn.Module):
    """A shared ``AutoModel`` encoder with one head per task (:mod:`pvigroup.engine.heads`).

    Attributes set by :func:`build_model` and :func:`load_model`: ``tokenizer``, ``labels``
    ({task: [label names]}), ``max_length``, ``null_input`` and ``meta`` (the saved meta.json).
    """

    def __init__(self, encoder: nn.Module, heads: dict[str, nn.Module]):
        super().__init__()
        self.encoder = encoder
        self.heads = nn.ModuleDict(heads)
        self.tokenizer = None
        self.labels: dict[str, list[str]] = {}
        self.max_length = 0
        self.null_input = False
        self.meta: dict = {}

    def forward(
        self,
        task: str,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits of task ``task`` for a padded batch."""
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        hidden = self.encoder(**kwargs).last_hidden_state
        return self.heads[task](hidden)


def build_model(pretrained: str, labels: dict[str, list[str]], max_length: int, null_input: bool,
                head: str = "cnlp"):
    """A fresh model: the pretrained encoder and new heads (seed torch before calling).

    ``head`` is ``cnlp`` or ``hf`` (:func:`pvigroup.engine.heads.head_kind`).
    """
    from transformers import AutoModel, AutoTokenizer

    try:
        encoder = AutoModel.from_pretrained(pretrained, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(pretrained)
    except OSError as err:
        raise PvigroupError(f"pretrained model {pretrained!r} cannot be loaded: {err}") from None
    kind = head_kind(head, str(getattr(encoder.config, "model_type", "")))
    heads = {t: make_head(kind, encoder, len(names)) for t, names in labels.items()}
    model = MultiTaskModel(encoder, heads)
    model.tokenizer, model.labels = tokenizer, {t: list(v) for t, v in labels.items()}
    model.max_length, model.null_input = int(max_length), bool(null_input)
    return model


def save_head(head: nn.Module, path: Path, task: str, labels: list[str]) -> None:
    """Write one head to a safetensors file with its sizes and labels as metadata."""
    state = {k: v.detach().float().cpu().contiguous() for k, v in head.state_dict().items()}
    meta = {
        "task": task,
        "labels": json.dumps(list(labels)),
        "hidden_size": str(head.hidden_size),
        "n_labels": str(head.n_labels),
        "dropout": str(head.dropout_p),
        "kind": head.kind,
    }
    save_file(state, str(path), metadata=meta)


def load_head(path: str | Path) -> tuple[nn.Module, list[str]]:
    """Load one head file alone; returns the head and its label names.

    A file without a ``kind`` (written before heads were configurable) is a ``cnlp`` head.
    """
    path = Path(path)
    if not path.exists():
        raise PvigroupError(f"{path}: head file not found")
    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata() or {}
    try:
        head = new_head(meta.get("kind", "cnlp"), int(meta["hidden_size"]),
                        int(meta["n_labels"]), float(meta["dropout"]))
        labels = json.loads(meta["labels"])
    except KeyError as err:
        raise PvigroupError(f"{path}: head metadata lacks {err}") from None
    head.load_state_dict(load_file(str(path)))
    return head, labels


def save_model(model: MultiTaskModel, out_dir: str | Path, meta: dict) -> None:
    """Write ``model`` in the engine directory format (replacing what ``out_dir`` held)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for sub in ("encoder", "heads"):
        if (out_dir / sub).exists():
            shutil.rmtree(out_dir / sub)
    model.encoder.save_pretrained(out_dir / "encoder")
    model.tokenizer.save_pretrained(out_dir / "encoder")
    (out_dir / "heads").mkdir()
    for task, head in model.heads.items():
        save_head(head, out_dir / "heads" / f"{task}.safetensors", task, model.labels[task])
    write_json({**meta, "pvigroup": __version__}, out_dir / "meta.json")


def load_model(model_dir, tasks: list[str] | None = None, options=None) -> MultiTaskModel:
    """Load a model directory written by :func:`pvigroup.engine.train`.

    Parameters
    ----------
    model_dir : path
        The engine model directory.
    tasks : list of str, optional
        Heads to load (default: every task of the model).
    options : EngineOptions, optional
        Only ``device`` is used; the model is returned in eval mode on that device.
    """
    from transformers import AutoModel, AutoTokenizer

    from pvigroup.engine.types import EngineOptions

    options = options or EngineOptions()
    model_dir = Path(model_dir)
    meta = read_json(model_dir / "meta.json")
    known = meta.get("tasks", {})
    tasks = list(known) if tasks is None else list(tasks)
    for task in tasks:
        if task not in known:
            raise PvigroupError(
                f"{model_dir}: no head for task {task!r} (has: {', '.join(known) or 'none'})"
            )
    encoder = AutoModel.from_pretrained(model_dir / "encoder", dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(model_dir / "encoder")
    heads, labels = {}, {}
    for task in tasks:
        heads[task], labels[task] = load_head(model_dir / "heads" / f"{task}.safetensors")
    model = MultiTaskModel(encoder, heads)
    model.tokenizer, model.labels, model.meta = tokenizer, labels, meta
    model.max_length, model.null_input = int(meta["max_length"]), bool(meta["null_input"])
    return model.to(options.resolve_device()).eval()
