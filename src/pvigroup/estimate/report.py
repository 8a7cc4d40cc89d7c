"""The result of an estimate: one row per rule, totals per stage, the printed report."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class RuleCost:
    """The jobs of one rule and what they cost.

    Attributes
    ----------
    rule, stage : str
        Snakemake rule name and workflow stage.
    jobs : int
        Number of jobs; an upper bound when ``exact`` is False.
    exact : bool
        False when the count depends on groups not known before the statistics run (MTL of the
        PVI groups or of a baseline's groups): ``jobs`` and ``hours`` are then at most these.
    gpu : bool
        Whether the job asks for a GPU (``resources: gpu=1``).
    hours : float
        Estimated device-hours of all the jobs (GPU-hours for GPU rules, CPU-node hours else).
    """

    rule: str
    stage: str
    jobs: int
    exact: bool
    gpu: bool
    hours: float


@dataclass
class CostEstimate:
    """The estimate of one config: a row per rule, plus the assumptions behind the hours.

    Attributes
    ----------
    rules : list of RuleCost
    device : str
        ``gpu`` or ``cpu``: which step times price the training jobs.
    assumptions : list of str
        One line per number the hours rest on, with its source.
    """

    rules: list[RuleCost]
    device: str
    assumptions: list[str] = field(default_factory=list)

    def job_counts(self, *, exact_only: bool = True) -> dict[str, int]:
        """``{rule: jobs}`` for rules with at least one job (exact counts only by default)."""
        return {r.rule: r.jobs for r in self.rules if r.jobs and (r.exact or not exact_only)}

    def frame(self) -> pd.DataFrame:
        """One row per rule: stage, rule, jobs, exact, gpu, hours."""
        return pd.DataFrame([vars(r) for r in self.rules])

    def by_stage(self) -> pd.DataFrame:
        """GPU jobs and hours per stage (at most these where ``exact`` is False)."""
        df = self.frame()
        g = df.groupby("stage", sort=False)
        return pd.DataFrame({
            "jobs": g["jobs"].sum(),
            "gpu_jobs": g.apply(lambda d: int(d.loc[d["gpu"], "jobs"].sum()), include_groups=False),
            "hours": g["hours"].sum(),
            "exact": g["exact"].all(),
        }).reset_index()

    @property
    def gpu_hours(self) -> float:
        return float(sum(r.hours for r in self.rules if r.gpu))

    def to_text(self) -> str:
        """The printed report: a table per stage, totals, then the assumptions."""
        unit = "GPU-h" if self.device == "gpu" else "CPU-h"
        lines = [f"{'stage':<10} {'rule':<20} {'jobs':>7} {'GPU':>4} {unit:>9}"]
        for r in self.rules:
            if not r.jobs:
                continue
            jobs = f"{r.jobs}" if r.exact else f"<={r.jobs}"
            lines.append(f"{r.stage:<10} {r.rule:<20} {jobs:>7} {'yes' if r.gpu else '':>4} "
                         f"{r.hours:>9.2f}")
        lines.append("")
        for _, s in self.by_stage().iterrows():
            if not s["jobs"]:
                continue
            bound = "" if s["exact"] else " (at most: its groups are known after the statistics)"
            kind = "GPU jobs" if self.device == "gpu" else "model jobs"
            lines.append(f"stage {s['stage']:<10} {int(s['gpu_jobs']):>5} {kind} "
                         f"{s['hours']:>9.2f} {unit}{bound}")
        exact = sum(r.hours for r in self.rules if r.gpu and r.exact)
        if all(r.exact for r in self.rules if r.jobs):
            lines.append(f"total: {self.gpu_hours:.1f} {unit}")
        else:
            lines.append(f"total: {exact:.1f} {unit} of exactly known jobs, at most "
                         f"{self.gpu_hours:.1f} {unit} with the bounded ones")
        lines.append("")
        lines.append("assumptions:")
        lines += [f"  - {a}" for a in self.assumptions]
        return "\n".join(lines)
