"""Conversion between an engine model with an ``hf`` head and ``AutoModelForSequenceClassification``.

A g′ trained with ``head: hf`` has exactly the parameters Hugging Face's sequence-classification
model of the same config has, under other names; :func:`export_hf` writes one task of it as a
``save_pretrained`` directory (``AutoModelForSequenceClassification.from_pretrained`` loads it,
with identical logits), :func:`import_hf` reads such a directory back into the engine format.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from pvigroup.engine.heads import head_kind, new_head
from pvigroup.engine.model import MultiTaskModel, load_model, save_model
from pvigroup.errors import PvigroupError

# engine head parameter -> AutoModelForSequenceClassification parameter (prefix: base model)
_HEAD_KEYS = {
    "hf-bert": {"pooler.weight": "{base}.pooler.dense.weight",
                "pooler.bias": "{base}.pooler.dense.bias",
                "classifier.weight": "classifier.weight", "classifier.bias": "classifier.bias"},
    "hf-roberta": {"dense.weight": "classifier.dense.weight", "dense.bias": "classifier.dense.bias",
                   "out_proj.weight": "classifier.out_proj.weight",
                   "out_proj.bias": "classifier.out_proj.bias"},
}


def to_hf(model: MultiTaskModel, task: str):
    """The ``AutoModelForSequenceClassification`` holding ``model``'s encoder and ``task`` head."""
    from transformers import AutoModelForSequenceClassification

    if task not in model.heads:
        raise PvigroupError(f"model has no head for task {task!r} (has: {', '.join(model.heads)})")
    head = model.heads[task]
    if head.kind not in _HEAD_KEYS:
        raise PvigroupError(f"task {task!r} has a {head.kind!r} head, which "
                            "AutoModelForSequenceClassification does not build; train with head: hf")
    labels = model.labels[task]
    config = copy.deepcopy(model.encoder.config)
    config.num_labels = len(labels)
    config.id2label = dict(enumerate(labels))
    config.label2id = {name: i for i, name in enumerate(labels)}
    config.architectures = None
    hf = AutoModelForSequenceClassification.from_config(config, dtype=torch.float32)
    base = hf.base_model_prefix
    target = hf.state_dict()
    state = {f"{base}.{k}": v for k, v in model.encoder.state_dict().items()
             if f"{base}.{k}" in target}
    for k, v in head.state_dict().items():
        state[_HEAD_KEYS[head.kind][k].format(base=base)] = v
    missing = sorted(set(target) - set(state))
    if missing:
        raise PvigroupError(f"task {task!r}: AutoModelForSequenceClassification expects "
                            f"parameters the engine model lacks: {', '.join(missing[:5])}")
    hf.load_state_dict(state, strict=True)
    return hf.eval()


def from_hf(hf_model, task: str, max_length: int, null_input: bool = False) -> MultiTaskModel:
    """An engine model (one ``hf`` head named ``task``) from a sequence-classification model."""
    config = hf_model.config
    kind = head_kind("hf", str(getattr(config, "model_type", "")))
    base = hf_model.base_model_prefix
    encoder = copy.deepcopy(getattr(hf_model, base))
    labels = [config.id2label[i] for i in range(config.num_labels)]
    head = new_head(kind, config.hidden_size, len(labels), float(
        config.classifier_dropout if getattr(config, "classifier_dropout", None) is not None
        else config.hidden_dropout_prob))
    source = hf_model.state_dict()
    head.load_state_dict({k: source[name.format(base=base)]
                          for k, name in _HEAD_KEYS[kind].items()}, strict=True)
    model = MultiTaskModel(encoder, {task: head})
    model.labels = {task: labels}
    model.max_length, model.null_input = int(max_length), bool(null_input)
    return model.eval()


def export_hf(model_dir: str | Path, task: str, out_dir: str | Path) -> Path:
    """Write ``task`` of an engine model directory as an AutoModelForSequenceClassification dir."""
    model = load_model(model_dir, [task])
    hf = to_hf(model, task)
    out_dir = Path(out_dir)
    hf.save_pretrained(out_dir)
    model.tokenizer.save_pretrained(out_dir)
    return out_dir


def import_hf(hf_dir: str | Path, out_dir: str | Path, *, task: str, max_length: int,
              null_input: bool = False) -> Path:
    """Write a sequence-classification directory (BERT or RoBERTa) as an engine model dir."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    try:
        hf = AutoModelForSequenceClassification.from_pretrained(hf_dir, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(hf_dir)
    except OSError as err:
        raise PvigroupError(f"{hf_dir}: cannot be loaded as a sequence classifier: {err}") from None
    model = from_hf(hf, task, max_length, null_input)
    model.tokenizer = tokenizer
    meta = {"tasks": {task: {"labels": model.labels[task]}}, "max_length": int(max_length),
            "null_input": bool(null_input), "pretrained": str(hf_dir), "imported_from": "hf"}
    save_model(model, out_dir, meta)
    return Path(out_dir)
