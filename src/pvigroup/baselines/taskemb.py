"""TaskEmb (Vu et al., EMNLP 2020): task embeddings from the empirical Fisher information.

For each task, a model with that task's head (the task's fine-tuned g′ by default, or the base
encoder with a freshly initialised head) is run in ``eval()`` mode over the task's examples with
their gold labels. The empirical Fisher information of a quantity ``z`` is
``F(z) = (1/N) Σ_n (∂ℓ_n/∂z)²`` (diagonal), ``ℓ_n`` being example ``n``'s cross-entropy.

Components (``components``), all diagonal:

``cls``
    the final-layer state of the first token ([CLS] / ``<s>``), the vector every engine head
    reads. It replaces the reference's ``cls_output`` (the BERT pooler output), which does not
    exist for encoders without a trained pooler (RoBERTa, sentence-transformer checkpoints).
``layers``
    for every transformer layer ℓ, the gradient of the loss summed over the example's non-pad
    tokens, squared and divided by its token count (the reference's ``layer_output`` feature;
    it is the Fisher of a shift added to every token state of that layer). Shape
    ``(n_layers · hidden,)``.
``params``
    every encoder parameter (the textbook diagonal Fisher of the encoder). Large: as many
    floats per task as the encoder has parameters; off by default.

Squared gradients (``fisher``): ``per-example`` (default) squares each example's own gradient,
the empirical Fisher proper, so the embedding does not depend on the batch size or on which
examples share a batch. ``batch`` squares the gradient of the batch-mean loss, as the reference
code does (its scale depends on the batch size, which must then be equal across tasks).
Examples are independent in ``eval()`` mode, so one backward pass of the summed loss gives every
example's gradient with respect to its own activations; only ``params`` with ``per-example``
needs one backward pass per example.

Similarity: cosine per component, averaged over components (the components have very different
scales, so a cosine of the concatenation would be decided by the largest one).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from pvigroup import __version__
from pvigroup.baselines.grouping import write_matrix
from pvigroup.errors import PvigroupError
from pvigroup.io import read_json, read_meta, read_parquet, write_json

log = logging.getLogger(__name__)

COMPONENTS = ("cls", "layers", "params")
FISHER_MODES = ("per-example", "batch")
SOURCES = ("gprime", "base")


# --------------------------------------------------------------------------- activations
def find_layers(encoder: nn.Module) -> nn.ModuleList:
    """The encoder's list of transformer layers (``encoder.layer`` in BERT/RoBERTa)."""
    for name in ("encoder.layer", "layer", "layers", "encoder.layers", "transformer.layer"):
        module: Any = encoder
        try:
            for part in name.split("."):
                module = getattr(module, part)
        except AttributeError:
            continue
        if isinstance(module, nn.ModuleList) and len(module) > 0:
            return module
    candidates = [m for n, m in encoder.named_modules()
                  if isinstance(m, nn.ModuleList) and n.rsplit(".", 1)[-1] in ("layer", "layers")]
    if not candidates:
        raise PvigroupError(f"TaskEmb: cannot find the transformer layers of "
                            f"{type(encoder).__name__} (no ModuleList named layer/layers)")
    return candidates[0]


@contextmanager
def capture_layer_outputs(encoder: nn.Module):
    """Record every layer's output hidden states (with ``retain_grad``) during a forward pass.

    Yields a list that the forward pass fills, in layer order.
    """
    store: list[torch.Tensor] = []

    def hook(_module, _inputs, output):
        hidden = output[0] if isinstance(output, tuple | list) else output
        if hidden.requires_grad:
            hidden.retain_grad()
        store.append(hidden)

    handles = [layer.register_forward_hook(hook) for layer in find_layers(encoder)]
    try:
        yield store
    finally:
        for h in handles:
            h.remove()


def _model_inputs(batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    keys = ("input_ids", "attention_mask", "token_type_ids")
    return {k: batch[k] for k in keys if k in batch and batch[k] is not None}


# --------------------------------------------------------------------------- Fisher
def fisher_embedding(model: nn.Module, task: str, batches: Iterable[Mapping[str, torch.Tensor]],
                     *, components: Sequence[str] = ("cls", "layers"),
                     fisher: str = "per-example") -> dict[str, np.ndarray]:
    """Diagonal empirical Fisher information of a task's model, per component.

    Parameters
    ----------
    model
        A multi-task model: attribute ``encoder`` (a Hugging Face encoder) and
        ``forward(task, input_ids, attention_mask[, token_type_ids]) -> logits``.
    task
        The head to use.
    batches
        Tokenised batches: ``input_ids``, ``attention_mask`` (optional ``token_type_ids``) and
        ``labels`` (gold label ids), all on the model's device.
    components
        Any of ``cls``, ``layers``, ``params`` (see the module docstring).
    fisher
        ``per-example`` (mean of squared per-example gradients) or ``batch`` (squared gradients
        of each batch-mean loss, summed over batches and divided by the number of examples).

    Returns
    -------
    dict
        Component name → 1-D float64 array.
    """
    unknown = [c for c in components if c not in COMPONENTS]
    if unknown or not components:
        raise PvigroupError(f"baselines.taskemb.components: {unknown or '[]'} not allowed; "
                            f"choose from {', '.join(COMPONENTS)}")
    if fisher not in FISHER_MODES:
        raise PvigroupError(f"baselines.taskemb.fisher: {fisher!r} is not one of "
                            f"{', '.join(FISHER_MODES)}")
    was_training = model.training
    frozen = [p for p in model.parameters() if not p.requires_grad]
    for p in frozen:  # gradients must reach the activations even for a frozen encoder
        p.requires_grad_(True)
    model.eval()
    encoder = model.encoder
    params = list(encoder.parameters())
    want_params = "params" in components
    acc: dict[str, torch.Tensor | None] = {c: None for c in components}
    n_total = 0

    def add(name: str, value: torch.Tensor) -> None:
        value = value.detach().to(torch.float64)
        acc[name] = value if acc[name] is None else acc[name] + value

    grad_mode = torch.enable_grad()
    grad_mode.__enter__()
    try:
        for batch in batches:
            labels = batch["labels"].long()
            n = int(labels.shape[0])
            if n == 0:
                continue
            n_total += n
            mask = batch["attention_mask"].to(torch.float64)
            tokens = mask.sum(dim=1)  # (n,)
            model.zero_grad(set_to_none=True)
            with capture_layer_outputs(encoder) as hidden:
                logits = model(task, **_model_inputs(batch))
                losses = nn.functional.cross_entropy(logits.float(), labels, reduction="none")
            if fisher == "per-example":
                # example n's loss depends only on its own activations, so the gradient of the
                # summed loss w.r.t. activation row n is example n's own gradient
                losses.sum().backward(retain_graph=want_params)
                grads = [h.grad.to(torch.float64) for h in hidden]
                if "cls" in acc:
                    add("cls", (grads[-1][:, 0, :] ** 2).sum(dim=0))
                if "layers" in acc:
                    per_layer = [((g * mask[..., None]).sum(dim=1) ** 2 / tokens[:, None]).sum(0)
                                 for g in grads]
                    add("layers", torch.cat(per_layer))
                if want_params:
                    for i in range(n):
                        ps = torch.autograd.grad(losses[i], params, retain_graph=i < n - 1,
                                                 allow_unused=True)
                        add("params", torch.cat([
                            (g.reshape(-1) ** 2 if g is not None else torch.zeros(p.numel()))
                            .to(torch.float64) for g, p in zip(ps, params, strict=True)]))
            else:
                losses.mean().backward()
                grads = [h.grad.to(torch.float64) for h in hidden]
                if "cls" in acc:
                    add("cls", grads[-1][:, 0, :].sum(dim=0) ** 2)
                if "layers" in acc:
                    per_layer = [(g * mask[..., None]).sum(dim=(0, 1)) ** 2 / tokens.sum()
                                 for g in grads]
                    add("layers", torch.cat(per_layer))
                if want_params:
                    add("params", torch.cat([
                        (p.grad.reshape(-1) ** 2 if p.grad is not None
                         else torch.zeros(p.numel(), device=p.device)).to(torch.float64)
                        for p in params]))
    finally:
        grad_mode.__exit__(None, None, None)
        model.zero_grad(set_to_none=True)
        model.train(was_training)
        for p in frozen:
            p.requires_grad_(False)
    if n_total == 0:
        raise PvigroupError(f"TaskEmb: task {task!r} has no examples to embed")
    return {c: (acc[c] / n_total).cpu().numpy() for c in components}


# --------------------------------------------------------------------------- similarity
def pack(embedding: Mapping[str, np.ndarray]) -> tuple[np.ndarray, dict[str, list[int]]]:
    """Concatenate components into one vector; return it and each component's [start, stop)."""
    slices, parts, start = {}, [], 0
    for name in sorted(embedding):
        vec = np.asarray(embedding[name], dtype=np.float64).reshape(-1)
        slices[name] = [start, start + vec.size]
        parts.append(vec)
        start += vec.size
    return np.concatenate(parts), slices


def unpack(vector: np.ndarray, slices: Mapping[str, Sequence[int]]) -> dict[str, np.ndarray]:
    """Inverse of :func:`pack`."""
    return {name: vector[a:b] for name, (a, b) in slices.items()}


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity; 0 when either vector is all zeros."""
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return 0.0
    return float(np.dot(a, b) / (na * nb))


def similarity_matrix(embeddings: Mapping[str, Mapping[str, np.ndarray]]) -> pd.DataFrame:
    """Task × task similarity: the mean over components of the per-component cosine.

    Raises
    ------
    PvigroupError
        When tasks do not share the same components and sizes (different models or settings).
    """
    names = sorted(embeddings)
    if not names:
        raise PvigroupError("TaskEmb: no task embeddings to compare")
    ref = names[0]
    shape = {c: np.shape(v) for c, v in embeddings[ref].items()}
    for t in names[1:]:
        other = {c: np.shape(v) for c, v in embeddings[t].items()}
        if other != shape:
            raise PvigroupError(f"TaskEmb: embedding of {t!r} has components {other}, but "
                                f"{ref!r} has {shape}; embed all tasks with the same settings")
    sim = np.eye(len(names))
    for i, a in enumerate(names):
        for j in range(i + 1, len(names)):
            b = names[j]
            value = float(np.mean([cosine(embeddings[a][c], embeddings[b][c]) for c in shape]))
            sim[i, j] = sim[j, i] = value
    return pd.DataFrame(sim, index=names, columns=names)


# --------------------------------------------------------------------------- I/O
def save_embedding(embedding: Mapping[str, np.ndarray], out_npy: str | Path,
                   meta: Mapping[str, Any]) -> None:
    """Write the packed vector to ``{task}.npy`` and components/provenance to ``{task}.json``."""
    out_npy = Path(out_npy)
    vector, slices = pack(embedding)
    out_npy.parent.mkdir(parents=True, exist_ok=True)
    np.save(out_npy, vector, allow_pickle=False)
    write_json({**meta, "components": slices, "pvigroup": __version__},
               out_npy.with_suffix(".json"))


def load_embedding(npy: str | Path) -> dict[str, np.ndarray]:
    """Read an embedding written by :func:`save_embedding` (needs its ``.json`` sidecar)."""
    npy = Path(npy)
    if not npy.exists():
        raise PvigroupError(f"{npy}: file not found")
    meta = read_json(npy.with_suffix(".json"))
    vector = np.load(npy, allow_pickle=False)
    size = max(b for _, b in meta["components"].values())
    if vector.ndim != 1 or vector.size != size:
        raise PvigroupError(f"{npy}: {vector.shape} values, but {npy.with_suffix('.json')} "
                            f"describes {size}")
    return unpack(vector, meta["components"])


def select_rows(df: pd.DataFrame, max_examples: int | None, seed: int) -> pd.DataFrame:
    """A seeded random subset of ``max_examples`` rows (all rows when None or fewer)."""
    if max_examples is None or len(df) <= max_examples:
        return df.reset_index(drop=True)
    return df.sample(n=max_examples, random_state=seed).sort_index().reset_index(drop=True)


def engine_batches(model: nn.Module, df: pd.DataFrame, *, batch_size: int):
    """Yield padded batches of ``df`` (with ``labels``) tokenised exactly as the engine trains.

    Uses the engine's ``encode_frame`` (same tokenizer, ``max_length`` and pair encoding as the
    model's training) and ``pad_batch``; each batch is padded to its longest row, on the model's
    device.
    """
    from pvigroup.engine.encode import encode_frame, pad_batch

    enc = encode_frame(model.tokenizer, df, model.max_length, null_input=bool(model.null_input))
    device = next(model.parameters()).device
    pad_id = model.tokenizer.pad_token_id or 0
    labels = df["label"].to_numpy(dtype=np.int64)
    for start in range(0, len(df), batch_size):
        rows = np.arange(start, min(start + batch_size, len(df)))
        length = int(enc.lengths[rows].max())
        padded = pad_batch(enc, rows, length, pad_id)
        batch = {k: torch.from_numpy(v).to(device) for k, v in padded.items() if k != "weight"}
        batch["labels"] = torch.from_numpy(labels[rows].copy()).to(device)
        yield batch


def compute_taskemb(data_dir: str | Path, out_npy: str | Path, *, model: str, source: str,
                    gprime_dir: str | Path | None = None, pretrained: str | None = None,
                    max_length: int = 128, split: str = "train",
                    components: Sequence[str] = ("cls", "layers"), fisher: str = "per-example",
                    batch_size: int = 32, max_examples: int | None = None, seed: int = 42,
                    engine: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
    """Compute one task's TaskEmb and write ``{task}.npy`` plus its ``{task}.json`` sidecar.

    Parameters
    ----------
    data_dir
        The prepared task directory (``results/data/{task}``).
    out_npy
        Output vector (components concatenated in name order; the sidecar gives the slices,
        the settings and the provenance).
    model
        Model key (provenance only).
    source
        ``gprime``: the task's fine-tuned g′ from ``gprime_dir`` (the reference's choice: a
        model already fine-tuned on the task); ``base``: the ``pretrained`` encoder with a new
        head initialised from ``seed`` (no training at all).
    gprime_dir, pretrained, max_length
        The g′ model directory (``source=gprime``), or the encoder spec and tokenisation limit
        (``source=base``).
    split
        Split whose examples are used (the reference: train).
    components, fisher
        See :func:`fisher_embedding`.
    batch_size
        Rows per forward/backward pass (matters for the result only with ``fisher=batch``).
    max_examples, seed
        Seeded random subset of the split (None = every row); the seed also initialises the
        ``base`` head.
    engine
        The validated ``engine:`` section (device and threads are used).
    """
    from pvigroup.config import engine_options, resolve_pretrained
    from pvigroup.engine.model import build_model, load_model

    if source not in SOURCES:
        raise PvigroupError(f"baselines.taskemb.source: {source!r} is not one of "
                            f"{', '.join(SOURCES)}")
    data_dir = Path(data_dir)
    info = read_json(data_dir / "task.json")
    task = info["task"]
    df = select_rows(read_parquet(data_dir / f"{split}.parquet"), max_examples, seed)
    options = engine_options(engine or {})
    if options.threads > 0:
        torch.set_num_threads(options.threads)
    if source == "gprime":
        if gprime_dir is None:
            raise PvigroupError("baselines.taskemb.source is gprime, but no g' model was given")
        net = load_model(gprime_dir, [task], options)
        origin = {"gprime": str(gprime_dir), "pretrained": net.meta.get("pretrained")}
    else:
        if pretrained is None:
            raise PvigroupError("baselines.taskemb.source is base, but the model has no pretrained")
        torch.manual_seed(seed)
        net = build_model(resolve_pretrained(pretrained), {task: list(info["labels"])},
                          max_length, null_input=False).to(options.resolve_device())
        origin = {"pretrained": pretrained}
    labels = net.labels.get(task)
    if labels is not None and [str(x) for x in labels] != [str(x) for x in info["labels"]]:
        raise PvigroupError(f"{gprime_dir}: head labels {labels} differ from "
                            f"{data_dir / 'task.json'} labels {info['labels']}")
    log.info("TaskEmb %s (%s): %d %s examples, components %s, %s Fisher", task, source, len(df),
             split, ",".join(components), fisher)
    emb = fisher_embedding(net, task, engine_batches(net, df, batch_size=batch_size),
                           components=components, fisher=fisher)
    meta = {"task": task, "model": model, "source": source, **origin, "split": split,
            "n": len(df), "fisher": fisher, "batch_size": batch_size,
            "max_examples": max_examples, "seed": seed,
            "data_fingerprint": read_meta(data_dir / f"{split}.parquet").get("fingerprint")}
    save_embedding(emb, out_npy, meta)
    return emb


def taskemb_similarity(embedding_paths: Sequence[str | Path],
                       out_similarity: str | Path) -> pd.DataFrame:
    """Write the task × task similarity of per-task embeddings (mean per-component cosine).

    Parameters
    ----------
    embedding_paths
        ``{task}.npy`` files written by :func:`compute_taskemb` (task = file stem).
    out_similarity
        Task × task TSV (``pvigroup.baselines.grouping.write_matrix``), read by
        :func:`pvigroup.baselines.grouping.baseline_groups`.
    """
    embeddings = {Path(p).stem: load_embedding(p) for p in embedding_paths}
    sim = similarity_matrix(embeddings)
    write_matrix(sim, out_similarity)
    log.info("TaskEmb similarity of %d tasks written to %s", len(embeddings), out_similarity)
    return sim
