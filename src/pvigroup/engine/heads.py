"""Classification heads: which one a stage uses, how new layers are initialised.

Two configurable choices (``TrainParams.head``):

``hf``
    What ``AutoModelForSequenceClassification`` builds (the paper trains g′ and g "through
    HuggingFace's Transformer API"). BERT family: the checkpoint's *pretrained* pooler
    (dense + tanh on [CLS]) → dropout → linear (``hf-bert``); RoBERTa family:
    ``RobertaClassificationHead``, dropout → dense → tanh → dropout → out_proj on <s>
    (``hf-roberta``).
``cnlp``
    What cnlp_transformers (the authors' toolkit) builds per task: dropout → dense → tanh on the
    first token → dropout → linear, a fresh dense layer for every family.

Every head takes the encoder's last hidden state, so callers never need to know which head a
model has. The ``hf-bert`` head keeps its own copy of the pooler (copied from the encoder when the
model is built), so each task of a multi-task model owns its pooler; the encoder's pooler is
then unused. New layers are initialised as Hugging Face does: normal(0, initializer_range), zero
bias.
"""

from __future__ import annotations

import torch
from torch import nn

from pvigroup.errors import PvigroupError

HEADS = ("hf", "cnlp")
HEAD_KINDS = ("cnlp", "hf-bert", "hf-roberta")
BERT_TYPES = ("bert", "megatron-bert")
ROBERTA_TYPES = ("roberta", "xlm-roberta", "camembert", "roberta-prelayernorm")


def hf_init(module: nn.Module, std: float) -> None:
    """Hugging Face's initialisation of new Linear layers: normal(0, std) weights, zero bias."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, mean=0.0, std=std)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


class ClassificationHead(nn.Module):
    """First-token state → dropout → Linear(h, h) → tanh → dropout → Linear(h, n_labels).

    The ``cnlp`` head, and (``kind="hf-roberta"``) ``RobertaClassificationHead``, which has the
    same layers under the same names.
    """

    uses_pooler = False

    def __init__(self, hidden_size: int, n_labels: int, dropout: float = 0.1,
                 kind: str = "cnlp"):
        super().__init__()
        if kind not in ("cnlp", "hf-roberta"):
            raise PvigroupError(f"ClassificationHead: kind {kind!r} is not cnlp or hf-roberta")
        self.kind = kind
        self.hidden_size, self.n_labels, self.dropout_p = (
            int(hidden_size),
            int(n_labels),
            float(dropout),
        )
        self.dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.out_proj = nn.Linear(hidden_size, n_labels)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        x = self.dropout(hidden[:, 0])
        x = torch.tanh(self.dense(x))
        return self.out_proj(self.dropout(x))


class PoolerHead(nn.Module):
    """BERT's sequence-classification head: pooler (dense + tanh on [CLS]) → dropout → linear.

    ``pooler`` is initialised from the checkpoint's pretrained pooler by :func:`make_head`.
    """

    uses_pooler = True

    def __init__(self, hidden_size: int, n_labels: int, dropout: float = 0.1):
        super().__init__()
        self.kind = "hf-bert"
        self.hidden_size, self.n_labels, self.dropout_p = (
            int(hidden_size),
            int(n_labels),
            float(dropout),
        )
        self.pooler = nn.Linear(hidden_size, hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden_size, n_labels)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        pooled = torch.tanh(self.pooler(hidden[:, 0]))
        return self.classifier(self.dropout(pooled))


def head_kind(head: str, model_type: str) -> str:
    """The head built for config choice ``head`` (hf | cnlp) on an encoder of ``model_type``."""
    if head == "cnlp":
        return "cnlp"
    if head != "hf":
        raise PvigroupError(f"head {head!r} is not one of {', '.join(HEADS)}")
    if model_type in BERT_TYPES:
        return "hf-bert"
    if model_type in ROBERTA_TYPES:
        return "hf-roberta"
    raise PvigroupError(
        f"head 'hf' is defined for the BERT family ({', '.join(BERT_TYPES)}) and the RoBERTa "
        f"family ({', '.join(ROBERTA_TYPES)}); this encoder is {model_type!r}: set head: cnlp")


def dropout_of(config) -> float:
    """The classifier dropout Hugging Face uses: classifier_dropout, else hidden_dropout_prob."""
    for key in ("classifier_dropout", "hidden_dropout_prob", "dropout"):
        value = getattr(config, key, None)
        if isinstance(value, float):
            return value
    return 0.1


def new_head(kind: str, hidden_size: int, n_labels: int, dropout: float) -> nn.Module:
    """An uninitialised head of ``kind`` (one of :data:`HEAD_KINDS`)."""
    if kind == "hf-bert":
        return PoolerHead(hidden_size, n_labels, dropout)
    if kind in ("cnlp", "hf-roberta"):
        return ClassificationHead(hidden_size, n_labels, dropout, kind=kind)
    raise PvigroupError(f"head kind {kind!r} is not one of {', '.join(HEAD_KINDS)}")


def make_head(kind: str, encoder: nn.Module, n_labels: int) -> nn.Module:
    """A new head for ``encoder``: Hugging Face's init; ``hf-bert`` gets the pretrained pooler."""
    config = encoder.config
    head = new_head(kind, config.hidden_size, n_labels, dropout_of(config))
    hf_init(head, float(getattr(config, "initializer_range", 0.02)))
    if kind == "hf-bert":
        pooler = getattr(encoder, "pooler", None)
        if pooler is None:
            raise PvigroupError("head 'hf' for a BERT encoder needs its pooler, and this "
                                "encoder was loaded without one: set head: cnlp")
        head.pooler.load_state_dict(pooler.dense.state_dict())
    return head
