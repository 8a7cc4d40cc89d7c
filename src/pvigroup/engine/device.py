"""What the card can do: the precision and compile decisions of ``engine.precision: auto`` and
``engine.compile: auto``, taken from the device's compute capability.

Everything that decides is a pure function of a :class:`DeviceInfo`, so the choice for a V100
(sm_70), a T4 or Titan RTX (sm_75), an A100 (sm_80) or an H100 (sm_90) is tested on a CPU
machine by building the ``DeviceInfo`` such a card reports. :func:`probe` is the only function
that asks ``torch.cuda``.

========================  ================================  ============================
card (capability)          ``precision: auto``               ``compile: auto``
========================  ================================  ============================
CPU                        fp32                              off
< sm_70 (P100: 6.0/6.1)    fp32                              off (inductor needs sm_70)
sm_70 - sm_75 (V100, T4)   fp16 autocast + ``GradScaler``    reduce-overhead (Triton)
>= sm_80 (A100, H100)      bf16 autocast                     reduce-overhead (Triton)
========================  ================================  ============================

``compile: auto`` also needs Triton to be importable; without it, it is off.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import torch

from pvigroup.errors import PvigroupError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
COMPILE_MODES = ("auto", "off", "reduce-overhead")
#: The oldest compute capability with native bf16 (Ampere).
BF16_CAPABILITY = (8, 0)
#: The oldest compute capability ``torch.compile``'s Triton backend generates code for.
TRITON_CAPABILITY = (7, 0)
#: The autocast dtype of each precision (None: no autocast).
AUTOCAST = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class DeviceInfo:
    """The device a run uses, as far as the precision and compile decisions need it.

    Attributes
    ----------
    type : str
        ``cpu`` or ``cuda``.
    name : str
        The card's name (``torch.cuda.get_device_name``), ``cpu`` for the CPU.
    capability : tuple of int, optional
        CUDA compute capability ``(major, minor)``; None on the CPU.
    bf16_native : bool
        Whether the card computes bf16 natively (not emulated).
    triton : bool
        Whether Triton is importable (``torch.compile``'s GPU code generator).
    memory_gb : float, optional
        Total memory of the card (GiB); None on the CPU.
    """

    type: str
    name: str
    capability: tuple[int, int] | None = None
    bf16_native: bool = False
    triton: bool = False
    memory_gb: float | None = None

    @property
    def sm(self) -> str:
        """``sm_80`` style label of the capability (``cpu`` on the CPU)."""
        return "cpu" if self.capability is None else f"sm_{self.capability[0]}{self.capability[1]}"

    def describe(self) -> str:
        """One phrase naming the card: ``NVIDIA H100 80GB HBM3 (sm_90)``."""
        return "CPU" if self.type == "cpu" else f"{self.name} ({self.sm})"

    def as_dict(self) -> dict:
        """JSON-ready record for provenance and calibration files."""
        return {
            "type": self.type,
            "name": self.name,
            "capability": None if self.capability is None else ".".join(map(str, self.capability)),
            "bf16_native": self.bf16_native,
            "triton": self.triton,
            "memory_gb": self.memory_gb,
        }


def _bf16_native(index: int, capability: tuple[int, int]) -> bool:
    """``torch.cuda.is_bf16_supported(including_emulation=False)`` where torch has the argument."""
    try:
        with torch.cuda.device(index):
            return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:  # older torch: no including_emulation argument
        return tuple(capability) >= BF16_CAPABILITY


def triton_available() -> bool:
    """Whether Triton can be imported (without importing it)."""
    return importlib.util.find_spec("triton") is not None


def probe(device: torch.device) -> DeviceInfo:
    """The :class:`DeviceInfo` of ``device`` on this machine."""
    if device.type != "cuda":
        return DeviceInfo(type=device.type, name=device.type)
    index = device.index if device.index is not None else torch.cuda.current_device()
    capability = tuple(int(v) for v in torch.cuda.get_device_capability(index))
    props = torch.cuda.get_device_properties(index)
    return DeviceInfo(
        type="cuda",
        name=str(torch.cuda.get_device_name(index)),
        capability=capability,
        bf16_native=_bf16_native(index, capability),
        triton=triton_available(),
        memory_gb=round(props.total_memory / 2**30, 1),
    )


def choose_precision(requested: str, info: DeviceInfo) -> str:
    """``fp32``, ``bf16`` or ``fp16``: what ``engine.precision: requested`` means on this device.

    ``auto`` gives bf16 where the card computes it natively (sm_80 and newer), fp16 (with a
    gradient scaler) on sm_70 to sm_75, fp32 on older cards and on the CPU. An explicit ``bf16``
    on a CUDA card without native bf16, or ``fp16`` on the CPU, is refused with the options.
    """
    if requested not in PRECISIONS:
        raise PvigroupError(
            f"config key engine.precision: {requested!r} is not one of {', '.join(PRECISIONS)}"
        )
    if requested == "auto":
        if info.type != "cuda":
            return "fp32"
        if info.bf16_native:
            return "bf16"
        if info.capability is not None and info.capability >= (7, 0):
            return "fp16"
        return "fp32"
    if requested == "bf16" and info.type == "cuda" and not info.bf16_native:
        raise PvigroupError(
            f"config key engine.precision: bf16 asked for, but {info.describe()} has no native "
            f"bf16 (it needs compute capability 8.0, an A100 or newer); use precision: auto "
            f"(fp16 autocast with a gradient scaler on sm_70-sm_75, else fp32), fp16 or fp32"
        )
    if requested == "fp16" and info.type != "cuda":
        raise PvigroupError(
            "config key engine.precision: fp16 needs a CUDA device (it trains with a CUDA "
            "gradient scaler); on the CPU use auto, fp32 or bf16"
        )
    return requested


def choose_compile(requested: str, info: DeviceInfo) -> tuple[str | None, str]:
    """The ``torch.compile`` mode for ``engine.compile: requested`` and why.

    Returns ``(mode, reason)``: ``mode`` is ``reduce-overhead`` or None (eager). ``auto``
    compiles only on CUDA with capability >= 7.0 and Triton importable; ``reduce-overhead``
    asked for explicitly is returned as is (and fails loudly where it cannot work).
    """
    if requested not in COMPILE_MODES:
        raise PvigroupError(
            f"config key engine.compile: {requested!r} is not one of {', '.join(COMPILE_MODES)}"
        )
    if requested == "off":
        return None, "off"
    if requested == "reduce-overhead":
        return "reduce-overhead", "asked for"
    if info.type != "cuda":
        return None, "auto: no CUDA device"
    if info.capability is None or info.capability < TRITON_CAPABILITY:
        return None, f"auto: {info.describe()} is older than sm_70, which Triton needs"
    if not info.triton:
        return None, "auto: Triton is not importable"
    return "reduce-overhead", "auto"
