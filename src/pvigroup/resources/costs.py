"""The cost model's figures: encoder size classes, the ``resources`` config section, model costs.

:data:`SIZES` holds the step times and sizes of the three encoder size classes,
:data:`DEFAULTS` the settings of the ``resources`` config section; :func:`settings` merges and
checks that section, :func:`model_cost` gives the figures of one model key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from pvigroup.errors import PvigroupError

#: Reference batch for the step times: 32 sequences of 128 tokens.
REF_TOKENS = 32 * 128


@dataclass(frozen=True)
class ModelCost:
    """What one encoder costs to train.

    Attributes
    ----------
    params_m : float
        Parameters, in millions.
    hidden, layers : int
        Hidden size and number of layers (activation memory when training on the CPU).
    gpu_step_seconds : float
        Seconds per optimizer step of the reference batch (32 x 128 tokens) on one data-centre GPU.
    cpu_step_seconds : float
        The same on a CPU node (used when the job has no GPU).
    host_mem_mb : float, optional
        Measured host memory of a job of this model (a calibration file,
        :mod:`pvigroup.calibration`); replaces the computed process, weights and optimizer terms.
    """

    params_m: float
    hidden: int
    layers: int
    gpu_step_seconds: float
    cpu_step_seconds: float
    host_mem_mb: float | None = None


#: Encoder size classes. Step times are conservative (fp32, no compilation).
SIZES: dict[str, ModelCost] = {
    "large": ModelCost(
        params_m=355, hidden=1024, layers=24, gpu_step_seconds=0.25, cpu_step_seconds=60
    ),
    "base": ModelCost(
        params_m=125, hidden=768, layers=12, gpu_step_seconds=0.08, cpu_step_seconds=18
    ),
    "small": ModelCost(
        params_m=23, hidden=384, layers=6, gpu_step_seconds=0.03, cpu_step_seconds=4
    ),
}

#: Settings of the ``resources`` config section and their defaults.
DEFAULTS: dict[str, Any] = {
    "safety": 1.5,  # multiplies computed seconds
    "overhead_minutes": 5,  # start-up: imports, loading weights and data, saving
    "min_runtime": 10,  # minutes
    "runtime_step": 5,  # runtime is rounded up to a multiple of this (minutes)
    "base_mem_mb": 3000,  # python + torch + transformers + tokenizer
    "mem_step_mb": 1024,  # memory is rounded up to a multiple of this
    "default_rows": 10000,  # split size assumed before task.json exists (dry runs)
    "llm_seconds_per_prompt": 2.0,
    "llm_params_b": 8.0,  # billions of parameters of the LLM (host memory while loading)
    "models": {},  # model key -> {size: large|base|small, and/or any ModelCost field}
}


def settings(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``resources`` section of ``config`` merged over :data:`DEFAULTS`.

    Raises
    ------
    PvigroupError
        An unknown key, or a value that is not a positive number.
    """
    section = dict((config or {}).get("resources") or {})
    unknown = sorted(set(section) - set(DEFAULTS))
    if unknown:
        raise PvigroupError(
            f"config key resources.{unknown[0]} is unknown; valid keys: {', '.join(sorted(DEFAULTS))}"
        )
    out = {**DEFAULTS, **section}
    for key, value in out.items():
        if key == "models":
            if not isinstance(value, Mapping):
                raise PvigroupError("config key resources.models must map model keys to settings")
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise PvigroupError(
                f"config key resources.{key} must be a positive number, got {value!r}"
            )
    return out


def size_class(pretrained: str) -> str:
    """Guess the size class (``large``, ``base`` or ``small``) from a hub id, directory or ``py:`` spec.

    The last two path components are read (a local model is often ``<name>/model``): ``large`` ->
    large; ``mini``, ``tiny``, ``small``, ``distil`` -> small; otherwise base.
    """
    name = "/".join(Path(str(pretrained).rstrip("/")).parts[-2:]).lower()
    if "large" in name:
        return "large"
    if any(word in name for word in ("mini", "tiny", "small", "distil")):
        return "small"
    return "base"


def model_cost(model_key: str, model_cfg: Mapping[str, Any], res: Mapping[str, Any]) -> ModelCost:
    """The cost figures of model ``model_key``: its size class, then per-field overrides.

    Parameters
    ----------
    model_key : str
        Key under ``models`` in the config.
    model_cfg : mapping
        That model's config (``pretrained`` is used to guess the size class).
    res : mapping
        Output of :func:`settings`.
    """
    override = dict(res["models"].get(model_key) or {})
    size = override.pop("size", None) or size_class(model_cfg.get("pretrained", model_key))
    if size not in SIZES:
        raise PvigroupError(
            f"config key resources.models.{model_key}.size must be one of {', '.join(SIZES)}, got {size!r}"
        )
    valid = {f.name for f in fields(ModelCost)}
    bad = sorted(set(override) - valid)
    if bad:
        raise PvigroupError(
            f"config key resources.models.{model_key}.{bad[0]} is unknown; valid keys: size, "
            + ", ".join(sorted(valid))
        )
    return replace(SIZES[size], **override)
