"""GPU check: the engine's CUDA path measured in one run of at most 8 minutes on one GPU.

Steps, in this order (each in its own process, so a CUDA crash in one leaves the others):

``env``               GPU, torch, transformers, commit
``throughput_large``  engine vs ``transformers.Trainer`` on the roberta-large shape (random init),
                      synthetic GLUE-like lengths, bf16, batch 32, same lr, epochs, max length,
                      clipping 1.0: samples/s per epoch after the first, compile time (first
                      epoch minus a later one), peak GPU memory, final loss, torch.compile graphs
``throughput_base``   the same on the bert-base shape (the clinical tasks' Bio+Clinical BERT)
``readout``           ``predict_logprobs`` samples/s at <= 64 and at 128 tokens (large, base, small)
``sigterm_resume``    SIGTERM in the middle of a compiled run → checkpoint → the same call
                      resumes and completes (same number of steps; loss difference)
``parity_minilm``     dev accuracy on the real MiniLM and the demo's polarity task, 3 seeds,
                      engine vs Trainer (mean ± sd)
``ref_step``          seconds per step of the resources reference batch (32 x 128 tokens) for the
                      size classes large, base, small (``pvigroup.resources.SIZES``)
``snakemake_demo``    the demo's PVI stage (``snakemake groups``, engine.device auto, --cores 16):
                      wall time and job times; skipped with its reason without snakemake

Everything goes to ``gpu_check.json`` and ``gpu_check.log`` under ``--out`` (default ``$OUT``,
else ``results/gpu_check``). The JSON is rewritten after every step. Past ``--budget-s`` no
further step starts; a running step is stopped at the budget and keeps its finished parts.

Examples
--------
bash bench/gpu_check.sh --prepare           # here, once: MiniLM (fp16), demo corpora, wheels
bash bench/gpu_check.sh                     # on the GPU machine (docs/gpu_check.md)
python bench/gpu_check.py --dry --out /tmp/gc   # CPU dry mode: tiny sizes, about 30 s
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_check_lib import REPO, Ctx

BUDGET_S = 450.0  # 7.5 minutes of steps; the run's timeout leaves room for start-up and writing
GRACE_S = 15.0  # a step running past the budget is stopped this much later
MIN_LEFT_S = {"snakemake_demo": 90.0}  # a full run starts these only with this much time left
STEP_NAMES = ["env", "throughput_large", "throughput_base", "readout", "sigterm_resume",
              "parity_minilm", "ref_step", "snakemake_demo"]  # fmt: skip


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=None, help="output folder (default $OUT)")
    p.add_argument("--dry", action="store_true", help="CPU dry mode: tiny models, few steps")
    p.add_argument("--steps", default=",".join(STEP_NAMES), help="comma-separated steps")
    p.add_argument("--budget-s", type=float, default=BUDGET_S, help="no step starts after this")
    p.add_argument("--assets", type=Path, default=REPO / "resources" / "gpu_check")
    p.add_argument("--inline", action="store_true", help="run the steps in this process")
    p.add_argument("--prepare", action="store_true", help="write --assets here (needs network)")
    p.add_argument("--corpora", type=Path, default=None, help="--prepare: resources/demo to use")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    p.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--deadline", type=float, default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.out is None:
        a.out = Path(os.environ["OUT"]) if os.environ.get("OUT") else REPO / "results" / "gpu_check"
    a.steps = [s.strip() for s in a.steps.split(",") if s.strip()]
    unknown = [s for s in a.steps if s not in STEP_NAMES]
    if unknown:
        p.error(f"unknown step(s) {', '.join(unknown)}; known: {', '.join(STEP_NAMES)}")
    return a


# ---------------------------------------------------------------------------- one step
def run_worker(args: argparse.Namespace) -> int:
    """``--worker STEP``: run one step in this process and write its result JSON."""
    from gpu_check_steps import STEPS

    ctx = Ctx(dry=args.dry, work=args.work, assets=args.assets, result_path=args.result,
              deadline=args.deadline)  # fmt: skip
    ctx.save()
    result = STEPS[args.worker](ctx)
    ctx.result = result
    ctx.save()
    return 0


def _status(result: dict) -> str:
    if "skipped" in result:
        return "skipped"
    if "error" in result:
        return "error"
    parts = [v for v in result.values() if isinstance(v, dict)]
    return "partial" if any("error" in v for v in parts) else "ok"


def run_step(name: str, args, work: Path, deadline: float, log: Path) -> dict:
    """Run step ``name`` in its own process (or inline); its entry of the report."""
    result_path = work / f"{name}.result.json"
    t0 = time.perf_counter()
    with log.open("a") as fh:
        fh.write(f"\n===== step {name} ({datetime.datetime.now().isoformat()}) =====\n")
    if args.inline:
        from gpu_check_steps import STEPS

        ctx = Ctx(dry=args.dry, work=work, assets=args.assets, result_path=result_path,
                  deadline=deadline)  # fmt: skip
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("default")
                result = STEPS[name](ctx)
        except Exception as err:  # noqa: BLE001 - recorded in the report, never raised
            result = {**ctx.result, "error": f"{type(err).__name__}: {err}",
                      "traceback": traceback.format_exc()}  # fmt: skip
        entry = {"status": _status(result), "result": result}
    else:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--work",
               str(work), "--result", str(result_path), "--deadline", str(deadline),
               "--assets", str(args.assets)] + (["--dry"] if args.dry else [])  # fmt: skip
        with log.open("a") as fh:
            start = fh.tell()
            proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT,
                                    start_new_session=True)  # fmt: skip
            killed = False
            try:
                proc.wait(timeout=max(1.0, deadline + GRACE_S - time.time()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                killed = True
        result = json.loads(result_path.read_text()) if result_path.exists() else {}
        entry = {"status": _status(result), "returncode": proc.returncode, "result": result}
        if killed:
            entry["status"] = "killed"
            entry["error"] = f"stopped at the time budget ({args.budget_s:.0f} s + {GRACE_S:.0f})"
        elif proc.returncode != 0:
            entry["status"] = "error"
            with log.open() as fh:
                fh.seek(start)
                entry["error"] = fh.read()[-4000:]
    entry["seconds"] = round(time.perf_counter() - t0, 1)
    return entry


# ---------------------------------------------------------------------------- the report
def _get(report: dict, step: str, *keys):
    node = report["steps"].get(step, {}).get("result", {})
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _storms(node, path="") -> list[str]:
    if isinstance(node, dict):
        if "storm" in node and "unique_graphs" in node:
            return [path] if node["storm"] else []
        return [p for k, v in node.items() for p in _storms(v, f"{path}/{k}")]
    return []


def targets(report: dict) -> dict:
    """The issue's targets, each with its measured value and pass (None: not measured)."""

    def target(value, goal, ok):
        return {"value": value, "target": goal, "pass": None if value is None else bool(ok(value))}

    out = {}
    for arch in ("large", "base"):
        out[f"{arch}_engine_speedup_over_trainer"] = target(
            _get(report, f"throughput_{arch}", "speedup"), ">= 5", lambda v: v >= 5
        )
        out[f"{arch}_final_loss_engine_minus_trainer"] = {
            "value": _get(report, f"throughput_{arch}", "final_loss_diff"), "target": "within noise"
        }
    for arch in ("large", "base", "small"):
        runs = _get(report, "readout", arch) or {}
        keys = sorted((k for k in runs if k.startswith("le64_bs")), key=lambda k: int(k[7:]))
        best = max((runs[k].get("samples_per_s") or 0 for k in keys), default=None)
        out[f"readout_le64_{arch}_samples_per_s"] = target(best or None, ">= 15000",
                                                           lambda v: v >= 15000)  # fmt: skip
    wall = _get(report, "snakemake_demo", "wall_s")
    ran = _get(report, "snakemake_demo", "ran") and _get(report, "snakemake_demo", "returncode") == 0
    out["demo_pvi_stage_s"] = target(wall if ran else None, "< 120", lambda v: v < 120)
    out["sigterm_resume_ok"] = target(_get(report, "sigterm_resume", "ok"), True, bool)
    storms = _storms(report["steps"])
    out["no_recompile_storm"] = {"value": storms, "target": "[]", "pass": not storms}
    return out


def resources_suggestion(report: dict) -> dict:
    """Measured seconds per 32 x 128-token step per size class (``pvigroup.resources.SIZES``)."""
    return {arch: _get(report, "ref_step", arch, "step_seconds") for arch in ("large", "base", "small")}


def summary(report: dict) -> str:
    lines = ["| step | status | seconds |", "|---|---|---|"]
    for name, e in report["steps"].items():
        why = e.get("result", {}).get("skipped") or e.get("skipped") or ""
        lines.append(f"| {name} | {e['status']}{' (' + why + ')' if why else ''} | {e.get('seconds', '')} |")
    lines += ["", "| target | value | goal | pass |", "|---|---|---|---|"]
    for name, t in report["targets"].items():
        v = t["value"]
        v = f"{v:.4g}" if isinstance(v, float) else v
        lines.append(f"| {name} | {v} | {t['target']} | {t.get('pass', '')} |")
    return "\n".join(lines)


def run_check(args: argparse.Namespace) -> dict:
    args.out.mkdir(parents=True, exist_ok=True)
    json_path, log = args.out / "gpu_check.json", args.out / "gpu_check.log"
    log.write_text(f"gpu_check {' '.join(sys.argv[1:])}\n")
    t_start = time.time()
    deadline = t_start + args.budget_s
    report = {"mode": "dry" if args.dry else "full", "command": sys.argv,
              "started": datetime.datetime.now(datetime.UTC).isoformat(),
              "budget_s": args.budget_s, "assets": str(args.assets), "steps": {},
              "skipped_steps": []}  # fmt: skip
    work = args.work or Path(tempfile.mkdtemp(prefix="gpu_check-"))
    work.mkdir(parents=True, exist_ok=True)
    # one inductor cache per check, cold at its start and shared by its steps (the demo step
    # uses a cold one of its own)
    cache_before = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(work / "inductor-cache")
    report["inductor_cache"] = "cold at the start of the check, shared by its steps"
    for name in args.steps:
        elapsed = time.time() - t_start
        need = 0.0 if args.dry else MIN_LEFT_S.get(name, 0.0)
        if elapsed >= args.budget_s or args.budget_s - elapsed < need:
            why = f"time budget {args.budget_s:.0f} s spent ({elapsed:.0f} s elapsed)"
            if elapsed < args.budget_s:
                why = f"needs {need:.0f} s, {args.budget_s - elapsed:.0f} s of the budget left"
            report["steps"][name] = {"status": "skipped", "skipped": why}
        else:
            print(f"[gpu_check] {elapsed:6.1f} s: step {name}", flush=True)
            report["steps"][name] = run_step(name, args, work, deadline, log)
        if report["steps"][name]["status"] in ("skipped", "killed", "error"):
            report["skipped_steps"].append(name)
        report["elapsed_s"] = round(time.time() - t_start, 1)
        json_path.write_text(json.dumps(report, indent=1, default=str))
    report["targets"] = targets(report)
    report["gpu_step_seconds_measured"] = resources_suggestion(report)
    if report["skipped_steps"]:
        report["rerun"] = (f"bash bench/gpu_check.sh --steps {','.join(report['skipped_steps'])}"
                           " --budget-s <seconds left>")  # fmt: skip
    if cache_before is None:
        os.environ.pop("TORCHINDUCTOR_CACHE_DIR", None)
    else:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache_before
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)  # model folders (roberta-large: 1.4 GB)
    json_path.write_text(json.dumps(report, indent=1, default=str))
    print(summary(report), flush=True)
    print(f"[gpu_check] wrote {json_path} and {log} in {report['elapsed_s']} s", flush=True)
    return report


def main(argv: list[str] | None = None):
    args = parse_args(argv)
    if args.child:
        from gpu_check_steps import child_train

        return child_train(args.child)
    if args.worker:
        return run_worker(args)
    if args.prepare:
        from gpu_check_prepare import prepare

        return prepare(args.assets, args.corpora)
    return run_check(args)


if __name__ == "__main__":
    out = main()
    sys.exit(out if isinstance(out, int) else 0)
