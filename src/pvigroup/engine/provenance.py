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


def engine_provenance(options, device=None) -> dict[str, Any]:
    """Device, precision, compile mode and library versions of ``options`` on this machine."""
    import torch
    import transformers

    device = device if device is not None else options.resolve_device()
    amp = options.autocast_dtype(device)
    out = {
        "device": str(device),
        "device_name": (torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"),
        "precision": "bf16-autocast" if amp is not None else "fp32",
        "compile": options.compile_mode(device) or "off",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
    return out
