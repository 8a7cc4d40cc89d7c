"""Measure the user's own device (``snakemake calibrate``) and price jobs with what it measured.

:mod:`.measure` times training steps and read-out of a configured model per length bucket on the
machine it runs on and writes ``results/calibration/{model}.json``; :mod:`.use` reads those
files into the cost model of :mod:`pvigroup.resources` (the Slurm ``runtime``/``mem_mb`` of every
GPU rule) and of ``pvigroup estimate``.
"""

from pvigroup.calibration.measure import calibrate, plan, reference_step
from pvigroup.calibration.use import (
    CALIBRATION_DIR,
    Calibration,
    calibrate_resources,
    calibrated_cost,
    calibration_path,
    read_calibration,
)

__all__ = ["CALIBRATION_DIR", "Calibration", "calibrate", "calibrate_resources", "calibrated_cost", "calibration_path",
           "plan", "read_calibration", "reference_step"]
