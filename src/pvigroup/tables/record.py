"""What a table or figure records about the run that made it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from pvigroup import __version__


def config_hash(config: Mapping[str, Any]) -> str:
    """sha256 of the (validated) config dumped as JSON with sorted keys."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _seeds(node: Any, path: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(node, Mapping):
        for key in sorted(node, key=str):
            sub = f"{path}.{key}" if path else str(key)
            if sub == "tasks":
                continue  # per-task split seeds are part of the data fingerprint
            if str(key) in ("seed", "seeds") and not isinstance(node[key], Mapping):
                out[sub] = node[key]
            else:
                out.update(_seeds(node[key], sub))
    return out


def provenance(config: Mapping[str, Any]) -> dict[str, Any]:
    """What a table or figure records about the run that made it.

    Returns
    -------
    dict
        ``config_sha256``, ``models`` (key to pretrained id), ``seeds`` (every ``seed``/``seeds``
        setting outside ``tasks``, by dotted key) and ``pvigroup`` (package version).
    """
    return {
        "config_sha256": config_hash(config),
        "models": {m: str(spec.get("pretrained", "")) for m, spec in sorted(config["models"].items())},
        "seeds": _seeds(config),
        "pvigroup": __version__,
    }


def footer_text(prov: Mapping[str, Any]) -> str:
    """One line naming the config hash, models, seeds and package version."""
    models = ", ".join(f"{k}={v}" for k, v in prov["models"].items())
    seeds = ", ".join(f"{k}={json.dumps(v)}" for k, v in prov["seeds"].items()) or "none"
    return (f"config sha256 {prov['config_sha256']}; models: {models}; seeds: {seeds}; "
            f"pvigroup {prov['pvigroup']}")
