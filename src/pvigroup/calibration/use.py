"""Calibration files in the cost model: measured step times and memory instead of guesses.

``results/calibration/{model}.json`` (written by the ``calibrate`` target) replaces, for that
model key, the step time of its size class (:data:`pvigroup.resources.SIZES`) on the device kind
it was measured on — a GPU file prices GPU jobs, a CPU file CPU jobs — and the host memory
the job needs. A ``resources.models`` setting in the config still wins over both: what a user
writes by hand is never overridden.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pvigroup.errors import PvigroupError

#: Where the workflow writes calibration files (relative to its working directory).
CALIBRATION_DIR = Path("results") / "calibration"
#: Margin on the measured host memory of a calibration run.
MEM_MARGIN = 1.25


@dataclass(frozen=True)
class Calibration:
    """The numbers of one calibration file that the cost model uses.

    Attributes
    ----------
    path : Path
    measured_on : str
        ``cuda`` or ``cpu``.
    label : str
        The card (``NVIDIA H100 80GB HBM3 (sm_90)``) or ``CPU (...)``.
    ref_step_seconds : float
        Seconds of a training step of the reference batch (32 × 128 tokens).
    host_peak_mb : float
        Peak resident memory of the calibration process.
    date : str
    """

    path: Path
    measured_on: str
    label: str
    ref_step_seconds: float
    host_peak_mb: float | None
    date: str

    @property
    def gpu(self) -> bool:
        return self.measured_on == "cuda"

    def describe(self) -> str:
        return f"measured on {self.label} ({self.path}, {self.date[:10]})"


def calibration_path(model: str, workdir: str | Path = ".") -> Path:
    return Path(workdir) / CALIBRATION_DIR / f"{model}.json"


def read_calibration(model: str, workdir: str | Path = ".") -> Calibration | None:
    """The calibration of ``model`` under ``workdir``, or None when there is none."""
    path = calibration_path(model, workdir)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        step = float(data["ref_step_seconds"])
        kind = str(data["measured_on"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise PvigroupError(f"{path}: not a calibration file ({type(err).__name__}: {err}); "
                            f"delete it and run `snakemake calibrate` again") from None
    if not step > 0 or kind not in ("cuda", "cpu"):
        raise PvigroupError(f"{path}: ref_step_seconds must be > 0 and measured_on cuda or "
                            f"cpu, got {step!r} and {kind!r}")
    peak = data.get("host_peak_mb")
    return Calibration(path=path, measured_on=kind, label=str(data.get("label") or kind),
                       ref_step_seconds=step, host_peak_mb=float(peak) if peak else None,
                       date=str(data.get("date") or ""))


def calibrated_cost(cost, model: str, config: Mapping[str, Any], *, gpu: bool,
                    workdir: str | Path = ".") -> tuple[Any, str]:
    """``cost`` (a :class:`~pvigroup.resources.ModelCost`) with the measured numbers, and a note.

    The note says where the step time comes from: ``measured on …`` or why the default stays
    (no calibration file; measured on the other device kind; set in ``resources.models``).
    """
    manual = dict(((config.get("resources") or {}).get("models") or {}).get(model) or {})
    field = "gpu_step_seconds" if gpu else "cpu_step_seconds"
    if field in manual:
        return cost, f"resources.models.{model}.{field} in the config"
    cal = read_calibration(model, workdir)
    if cal is None:
        return cost, (f"default of the size class (no {calibration_path(model)}; run "
                      f"`snakemake calibrate` to measure it)")
    if cal.gpu != gpu:
        return cost, (f"default of the size class ({cal.path} was measured on "
                      f"{'a GPU' if cal.gpu else 'the CPU'}, this estimate is for "
                      f"{'GPU' if gpu else 'CPU'} jobs)")
    cost = replace(cost, **{field: cal.ref_step_seconds})
    if cal.host_peak_mb:
        cost = replace(cost, host_mem_mb=cal.host_peak_mb * MEM_MARGIN)
    return cost, cal.describe()


def calibrate_resources(config: Mapping[str, Any]) -> dict[str, Any]:
    """``{"mem_mb": f, "runtime": f}`` of a ``calibrate_model`` job (callables of wildcards).

    Memory as a training job of the model at the longest bucket; time: loading and saving the
    model once per bucket plus the timed steps, 30 minutes (a few minutes on a GPU), scaled by
    the retry attempt.
    """
    from pvigroup import resources as res
    from pvigroup.calibration.measure import plan

    settings = res.settings(config)
    gpu = (config.get("engine") or {}).get("device", "auto") != "cpu"

    def mem(wildcards: Any, attempt: int = 1) -> int:
        p = plan(config, wildcards.model)
        cost = res.model_cost(wildcards.model, config["models"][wildcards.model], settings)
        return res.train_mem_mb(cost, n_rows=p["readout_rows"], batch_size=p["batch_size"],
                                max_length=max(p["buckets"]), gpu=gpu, attempt=attempt,
                                res=settings)

    def runtime(wildcards: Any, attempt: int = 1) -> int:
        return 30 * attempt

    return {"mem_mb": mem, "runtime": runtime}
