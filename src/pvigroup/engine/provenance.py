"""Provenance: the settings that change numbers, recorded next to every model and result.

Two runs with the same config can differ in device (CPU vs CUDA kernels), precision (bf16
autocast), compilation, library versions and the exact checkpoint or data revision; each PVI and
training output records them so a difference can be traced.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".h5", ".msgpack")


def model_revision(pretrained: str | Path, config: Any = None) -> str | None:
    """The checkpoint's revision: the hub commit hash, or a hash of a local directory.

    A local directory is identified by ``local:`` + sha256 (16 hex digits) of its ``config.json``
    bytes and the names and sizes of its weight files (cheap: the weights are not read). A hub
    id gives the commit hash ``transformers`` recorded in ``config`` when it downloaded it, else
    None (not known).
    """
    path = Path(str(pretrained))
    if path.is_dir():
        h = hashlib.sha256()
        cfg = path / "config.json"
        if cfg.is_file():
            h.update(cfg.read_bytes())
        for f in sorted(path.iterdir()):
            if f.is_file() and f.name.endswith(WEIGHT_SUFFIXES):
                h.update(f"{f.name}:{f.stat().st_size}\n".encode())
        return "local:" + h.hexdigest()[:16]
    commit = getattr(config, "_commit_hash", None) if config is not None else None
    return str(commit) if commit else None


def dataset_revision(info: Mapping[str, Any]) -> Any:
    """The data revision from a ``task.json`` source record, when known (else None).

    A Hugging Face dataset pinned with ``revision`` gives that revision; local files give their
    sha256 per role (as ``prepare`` recorded them).
    """
    source = info.get("source") or {}
    hf = source.get("hf") if isinstance(source, Mapping) else None
    if isinstance(hf, Mapping) and hf.get("revision"):
        return str(hf["revision"])
    if isinstance(source, Mapping) and source.get("sha256"):
        return dict(source["sha256"])
    return None


def engine_provenance(options, device=None, decisions: Mapping[str, Any] | None = None
                      ) -> dict[str, Any]:
    """Device, card, precision, compile mode and library versions of ``options`` here.

    ``decisions`` (what a run actually did: a compile fallback, an out-of-memory split of the
    micro-batch; :meth:`pvigroup.engine.steps.Stepper.provenance`) replaces the planned values.
    """
    import torch
    import transformers

    from pvigroup.engine.steps import PRECISION_LABELS

    device = device if device is not None else options.resolve_device()
    info = options.device_info(device)
    mode, reason = options.compile_decision(device, info)
    out = {
        "device": str(device),
        "device_name": info.name if device.type == "cuda" else "cpu",
        "capability": info.as_dict()["capability"],
        "precision": PRECISION_LABELS[options.precision_for(device, info)],
        "precision_requested": options.precision,
        "compile": mode or "off",
        "compile_reason": reason,
        "torch": torch.__version__,
        "cuda": torch.version.cuda if device.type == "cuda" else None,
        "transformers": transformers.__version__,
    }
    out.update(decisions or {})
    return out
