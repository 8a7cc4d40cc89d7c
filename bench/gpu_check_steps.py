"""The steps of ``bench/gpu_check.py``: one function per measurement, each returning a dict.

A step with several parts runs each through :meth:`gpu_check_lib.Ctx.part` (its own ``try``; the
partial result is saved after every part).
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_check_lib import (
    DEMO_CORPORA,
    REPO,
    Ctx,
    _params,
    arch_dir,
    compile_counts,
    evt,
    fixed_length,
    minilm_dir,
    peak_mb,
    reset_compile,
    reset_peak,
    run_engine,
    run_trainer,
    sync,
    words,
)


def step_env(ctx: Ctx) -> dict:
    import platform

    import torch
    import transformers

    out = {"python": platform.python_version(), "torch": torch.__version__,
           "transformers": transformers.__version__, "cuda_available": torch.cuda.is_available(),
           "cpu_count": os.cpu_count(), "dry": ctx.dry, "minilm": minilm_dir(ctx)}  # fmt: skip
    if torch.cuda.is_available():
        prop = torch.cuda.get_device_properties(0)
        out.update(gpu=prop.name, gpu_mem_gb=round(prop.total_memory / 2**30, 1),
                   cuda=torch.version.cuda, capability=f"{prop.major}.{prop.minor}")  # fmt: skip
    try:
        out["commit"] = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, text=True,
                                       capture_output=True, check=False).stdout.strip()  # fmt: skip
    except OSError:
        out["commit"] = None
    return out


def step_throughput(ctx: Ctx, arch: str) -> dict:
    """Engine vs Trainer on ``arch`` (GLUE-like lengths): samples/s after epoch 1, memory, loss."""
    s = ctx.size
    model_dir = arch_dir(ctx, arch)
    df = evt.glue_like(words(ctx), s["n_train"], 1, "train", s["max_length"])
    ctx.result["workload"] = {"arch": arch, "rows": len(df), "epochs": s["epochs"],
                              "batch": s["batch"], "lr": s["lr"], "max_length": s["max_length"],
                              "clip": 1.0}  # fmt: skip
    ctx.save()
    eng = ctx.part("engine", run_engine, ctx, model_dir, df, ["a", "b"], _params(ctx),
                   ctx.work / f"engine-{arch}")  # fmt: skip
    shutil.rmtree(ctx.work / f"engine-{arch}", ignore_errors=True)
    reset_compile()
    p = {"batch": s["batch"], "epochs": s["epochs"], "lr": s["lr"], "max_length": s["max_length"],
         "seed": 42}  # fmt: skip
    tr = ctx.part("trainer", run_trainer, ctx, model_dir, df, 2, p, ctx.work / f"trainer-{arch}")
    if "steady_samples_per_s" in eng and "steady_samples_per_s" in tr:
        ctx.result["speedup"] = eng["steady_samples_per_s"] / tr["steady_samples_per_s"]
        if tr.get("final_loss") is not None:
            ctx.result["final_loss_diff"] = eng["final_loss"] - tr["final_loss"]
    return ctx.result


def _readout(ctx: Ctx, model, df, bs: int) -> dict:
    from pvigroup.engine import predict_logprobs

    opts = ctx.options(eval_batch_size=bs)
    predict_logprobs(model, "t", df.iloc[:bs], options=opts)  # warm-up (kernels, cuBLAS)
    sync()
    t0 = time.perf_counter()
    logp = predict_logprobs(model, "t", df, options=opts)
    sync()
    sec = time.perf_counter() - t0
    ok = bool(np.isfinite(logp).all())
    return {"rows": len(df), "eval_batch_size": bs, "seconds": sec, "finite": ok,
            "samples_per_s": len(df) / sec, "peak_mem_mb": peak_mb()}  # fmt: skip


def step_readout(ctx: Ctx) -> dict:
    """predict_logprobs samples/s (tokenising included) at <= 64 and at 128 tokens."""
    from pvigroup.engine import load_model, train

    s, vocab = ctx.size, words(ctx)
    short = evt.glue_like(vocab, s["readout_rows"], 3, "ro", 64)
    long = fixed_length(vocab, s["readout_rows"] // 2, 128)
    for arch in ("large", "base", "small"):

        def one(arch=arch):
            from pvigroup.engine import TaskData

            model_dir = arch_dir(ctx, arch)
            out = ctx.work / f"readout-{arch}"
            seed_rows = fixed_length(vocab, 16, 16)
            train(model_dir, [TaskData("t", ["a", "b"], seed_rows)],
                  _params(ctx, epochs=1, batch_size=8, max_length=128), out,
                  options=ctx.options(compile="off"))  # fmt: skip
            model = load_model(out, options=ctx.options())
            reset_peak()
            res = {f"le64_bs{bs}": _readout(ctx, model, short, bs) for bs in s["eval_batch_sizes"]}
            res["len128"] = _readout(ctx, model, long, s["eval_batch_sizes"][0])
            del model
            shutil.rmtree(out, ignore_errors=True)
            return res

        ctx.part(arch, one)
    return ctx.result


def step_ref_step(ctx: Ctx) -> dict:
    """Seconds per optimizer step of the resources reference batch (32 x 128 tokens): the
    measurement ``snakemake calibrate`` makes for a user's model
    (:func:`pvigroup.calibration.measure.measure_bucket`), here for each size class."""
    from pvigroup.calibration.measure import measure_bucket

    s = ctx.size
    plan = {"batch_size": s["batch"], "lr": s["lr"], "warmup_steps": 2,
            "steps": s["ref_batches"], "readout_rows": 64}
    for arch in ("large", "base", "small"):

        def one(arch=arch):
            r = measure_bucket(arch_dir(ctx, arch), s["max_length"], plan, ctx.options(),
                               ctx.work / f"ref-{arch}")
            r["batch_tokens"] = [s["batch"], s["max_length"]]
            return r

        ctx.part(arch, one)
    return ctx.result


# ---------------------------------------------------------------------------- SIGTERM → resume
def child_train(spec_path: str) -> int:
    """One training run in its own process (``gpu_check.py --child SPEC``); writes its result.

    With ``stop_at``, the run waits after that optimizer step until the parent has sent SIGTERM
    (``sent`` file), then returns to the engine, which checkpoints and exits with status 143.
    """
    from pvigroup.engine import EngineOptions, TaskData, TrainParams, train

    spec = __import__("json").loads(Path(spec_path).read_text())
    df = pd.read_parquet(spec["data"])
    state = {"last_step": 0, "steps_here": 0}

    def on_step(epoch: int, step: int) -> None:
        state["last_step"], state["steps_here"] = step, state["steps_here"] + 1
        if spec.get("stop_at") == step:
            Path(spec["ready"]).write_text(str(os.getpid()))
            deadline = time.time() + 120
            while not Path(spec["sent"]).exists() and time.time() < deadline:
                time.sleep(0.02)
            time.sleep(0.2)  # the handler has run by now (it runs between bytecodes)

    options = EngineOptions(**spec["options"])
    reset_compile()
    code, history = 0, None
    try:
        res = train(spec["model"], [TaskData("t", ["a", "b"], df)], TrainParams(**spec["params"]),
                    spec["out"], options=options, step_callback=on_step)  # fmt: skip
        history = res.history
    except SystemExit as err:
        code = int(err.code or 0)
    mode = options.compile_mode(options.resolve_device())
    out = {**state, "exit": code, "history": history, "compile": compile_counts(spec["buckets"], mode)}
    Path(spec["result"]).write_text(__import__("json").dumps(out, default=str))
    return code


def _child(ctx: Ctx, spec: dict, name: str, signal_at: int | None = None,
           in_process: bool = False) -> dict:
    """Run :func:`child_train` in a child process (``in_process``: here, for the reference)."""
    import json

    from pvigroup.engine import default_resume_dir

    spec = {**spec, "stop_at": signal_at, "result": str(ctx.work / f"sig-{name}.json"),
            "ready": str(ctx.work / f"sig-{name}.ready"), "sent": str(ctx.work / f"sig-{name}.sent")}
    for key in ("result", "ready", "sent"):
        Path(spec[key]).unlink(missing_ok=True)
    path = ctx.work / f"sig-{name}.spec.json"
    path.write_text(json.dumps(spec))
    if in_process:
        code = child_train(str(path))
        out = json.loads(Path(spec["result"]).read_text())
        ckpt = default_resume_dir(spec["out"]) / "checkpoint.pt"
        return {**out, "returncode": code, "sigterm_after_step": None,
                "checkpoint_exists": ckpt.exists(), "process": "the step's own"}  # fmt: skip
    cmd = [sys.executable, str(Path(__file__).with_name("gpu_check.py")), "--child", str(path)]
    proc = subprocess.Popen(cmd)
    limit = time.time() + ctx.seconds_left(300)
    sent_at = None
    if signal_at is not None:
        while not Path(spec["ready"]).exists() and proc.poll() is None and time.time() < limit:
            time.sleep(0.02)
        if proc.poll() is None and Path(spec["ready"]).exists():
            os.kill(proc.pid, signal.SIGTERM)
            sent_at = signal_at
            Path(spec["sent"]).write_text("sent")
    try:
        proc.wait(timeout=max(1.0, limit - time.time()))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    out = json.loads(Path(spec["result"]).read_text()) if Path(spec["result"]).exists() else {}
    ckpt = default_resume_dir(spec["out"]) / "checkpoint.pt"
    return {**out, "returncode": proc.returncode, "sigterm_after_step": sent_at,
            "checkpoint_exists": ckpt.exists()}  # fmt: skip


def step_sigterm(ctx: Ctx) -> dict:
    """SIGTERM mid-run (compiled on CUDA) → checkpoint → the same call resumes and completes."""
    from pvigroup.engine import PREEMPTED_STATUS

    s = ctx.size
    length = min(64, s["max_length"])
    df = evt.glue_like(words(ctx), s["batch"] * s["sig_batches"], 4, "sig", length)
    data = ctx.work / "sig.parquet"
    df.to_parquet(data)
    total = s["sig_epochs"] * s["sig_batches"]
    stop_at = s["sig_batches"] + max(1, s["sig_batches"] // 2)  # in the middle of epoch 2
    opts = ctx.options()
    model = arch_dir(ctx, "small")
    from pvigroup.engine.schedule import effective_buckets

    spec = {"model": model, "data": str(data),
            "params": {"epochs": s["sig_epochs"], "batch_size": s["batch"], "lr": 1e-4,
                       "max_length": length, "seed": 42, "max_grad_norm": 1.0},
            "options": {"device": opts.device, "progress": False, "threads": opts.threads},
            "buckets": len(effective_buckets(opts.buckets, length))}  # fmt: skip
    ctx.result["plan"] = {"arch": "small", "total_steps": total, "sigterm_after_step": stop_at}
    ref = ctx.part("reference", _child, ctx, {**spec, "out": str(ctx.work / "sig-ref")}, "ref",
                   in_process=True)  # fmt: skip
    run = {**spec, "out": str(ctx.work / "sig-run")}
    stopped = ctx.part("interrupted", _child, ctx, run, "stopped", stop_at)
    resumed = ctx.part("resumed", _child, ctx, run, "resumed")
    ref_loss = (ref.get("history") or [{}])[-1].get("loss")
    res_loss = (resumed.get("history") or [{}])[-1].get("loss")
    ctx.result["checks"] = {
        "interrupted_exit_143": stopped.get("returncode") == PREEMPTED_STATUS,
        "checkpoint_written": bool(stopped.get("checkpoint_exists")),
        "resumed_completed": resumed.get("returncode") == 0,
        "same_number_of_steps": resumed.get("last_step") == ref.get("last_step") == total,
        "resumed_ran_only_the_rest": resumed.get("steps_here") == total - stop_at,
        "checkpoint_removed": resumed.get("checkpoint_exists") is False,
        "final_loss_diff": None if None in (ref_loss, res_loss) else res_loss - ref_loss,
    }
    checks = ctx.result["checks"]
    ctx.result["ok"] = all(v for k, v in checks.items() if k != "final_loss_diff")
    return ctx.result


# ---------------------------------------------------------------------------- accuracy parity
def demo_task(ctx: Ctx) -> tuple[pd.DataFrame, pd.DataFrame, list[str], str]:
    """Train and dev rows of a real task: the demo's polarity corpus (dry: tests' tiny topics)."""
    s = ctx.size
    if ctx.dry:
        raw = pd.read_csv(REPO / "tests" / "data" / "tiny" / "clean-a.csv")
        raw = raw.rename(columns={"sentence": "text", "topic": "label_name"})
        name = "tests/data/tiny/clean-a.csv (dry mode)"
    else:
        with tarfile.open(ctx.assets / DEMO_CORPORA) as tar:
            raw = pd.read_csv(tar.extractfile("./polarity.csv"), dtype={"label": str})
        raw = raw.rename(columns={"label": "label_name"})
        name = "polarity (demo corpus, Pang & Lee sentence polarity)"
    labels = sorted(raw["label_name"].astype(str).unique())
    raw = raw.sample(frac=1.0, random_state=0).reset_index(drop=True)
    raw = raw.assign(id=[f"r{i}" for i in range(len(raw))], text_pair=None,
                     label=raw["label_name"].astype(str).map(labels.index).astype(np.int64))  # fmt: skip
    cols = ["id", "text", "text_pair", "label"]
    n_tr, n_dev = s["parity_train"], s["parity_dev"]
    return raw[cols].iloc[:n_tr], raw[cols].iloc[n_tr : n_tr + n_dev], labels, name


def step_parity(ctx: Ctx) -> dict:
    """Dev accuracy of the engine and the Trainer on MiniLM over 3 seeds (mean ± sd)."""
    from pvigroup.engine import evaluate

    s = ctx.size
    train_df, dev_df, labels, name = demo_task(ctx)
    model = arch_dir(ctx, "small") if ctx.dry else minilm_dir(ctx)
    ctx.result["workload"] = {"task": name, "model": model, "train": len(train_df),
                              "dev": len(dev_df), "epochs": s["parity_epochs"],
                              "lr": s["parity_lr"], "max_length": s["parity_max_length"]}  # fmt: skip
    for seed in s["seeds"]:
        params = _params(ctx, epochs=s["parity_epochs"], lr=s["parity_lr"], seed=seed,
                         max_length=s["parity_max_length"])  # fmt: skip
        out = ctx.work / f"parity-engine-{seed}"

        def engine(params=params, out=out):
            r = run_engine(ctx, model, train_df, labels, params, out)
            r["dev_accuracy"] = evaluate(out, "t", dev_df, options=ctx.options())["accuracy"]
            shutil.rmtree(out, ignore_errors=True)
            return r

        ctx.part(f"engine_seed{seed}", engine)
        p = {"batch": s["batch"], "epochs": s["parity_epochs"], "lr": s["parity_lr"],
             "max_length": s["parity_max_length"], "seed": seed}  # fmt: skip
        ctx.part(f"trainer_seed{seed}", run_trainer, ctx, model, train_df, len(labels), p,
                 ctx.work / f"parity-trainer-{seed}", dev_df)  # fmt: skip
    summary = {}
    for who in ("engine", "trainer"):
        accs = [ctx.result[f"{who}_seed{sd}"].get("dev_accuracy") for sd in s["seeds"]]
        accs = [a for a in accs if a is not None]
        if accs:
            summary[who] = {"n": len(accs), "mean": statistics.mean(accs),
                            "sd": statistics.stdev(accs) if len(accs) > 1 else None}  # fmt: skip
    if len(summary) == 2:
        summary["mean_diff"] = summary["engine"]["mean"] - summary["trainer"]["mean"]
    ctx.result["accuracy"] = summary
    return ctx.result


# ---------------------------------------------------------------------------- Snakemake demo
def job_counts(text: str) -> dict[str, int]:
    """The first 'Job stats' table of Snakemake's output as {rule: count}."""
    lines = text.splitlines()
    if "Job stats:" not in lines:
        return {}
    counts: dict[str, int] = {}
    for line in lines[lines.index("Job stats:") + 3 :]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        counts[parts[0]] = int(parts[1])
    return counts


def job_times(work: Path) -> dict:
    """Per rule, from ``benchmarks/**/*.tsv``: jobs, summed and longest seconds."""
    rules: dict[str, list[float]] = {}
    for tsv in sorted((work / "benchmarks").rglob("*.tsv")):
        seconds = pd.read_csv(tsv, sep="\t")["s"].tolist()
        rules.setdefault(tsv.stem, []).extend(float(x) for x in seconds)
    return {rule: {"jobs": len(v), "sum_s": round(sum(v), 1), "max_s": round(max(v), 1)}
            for rule, v in rules.items()}  # fmt: skip


def step_snakemake(ctx: Ctx) -> dict:
    """The demo's PVI stage (``snakemake groups``) with engine.device auto on --cores 16."""
    import importlib.util

    import yaml

    if importlib.util.find_spec("snakemake") is None:
        return {"skipped": "snakemake cannot be imported: carry its wheels "
                           "(bash bench/gpu_check.sh --prepare; docs/gpu_check.md)"}  # fmt: skip
    corpora = ctx.assets / DEMO_CORPORA
    if not ctx.dry and not corpora.exists():
        return {"skipped": f"{corpora} is missing: run bash bench/gpu_check.sh --prepare here"}
    work = ctx.work / "demo"
    shutil.rmtree(work, ignore_errors=True)
    (work / "resources" / "demo").mkdir(parents=True)
    if corpora.exists():
        with tarfile.open(corpora) as tar:
            tar.extractall(work / "resources" / "demo", filter="data")
    device = "cpu" if ctx.dry else "auto"
    override = {"engine": {"device": device, "progress": False},
                "models": {"minilm": {"pretrained": minilm_dir(ctx), "family": "bert"}}}  # fmt: skip
    (work / "gpu_check.yaml").write_text(yaml.safe_dump(override))
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory",
           str(work), "--cores", "16", "--scheduler", "greedy", "--configfile",
           str(REPO / "config" / "config.yaml"), str(work / "gpu_check.yaml")]  # fmt: skip
    cmd += ["-n", "--", "groups"] if ctx.dry else ["--", "groups"]
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(work / "inductor-cache"),
           "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    ctx.result.update(command=" ".join(cmd), engine_device=device, ran=not ctx.dry,
                      inductor_cache="cold: a fresh TORCHINDUCTOR_CACHE_DIR")  # fmt: skip
    log = work / "snakemake.log"
    t0 = time.perf_counter()
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
        try:
            proc.wait(timeout=max(1.0, ctx.seconds_left(1200) - 12))
            timed_out = False
        except subprocess.TimeoutExpired:  # stop it (and its jobs) before the step is killed
            timed_out = True
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    text = log.read_text(errors="replace")
    print(text[-6000:], flush=True)
    ctx.result.update(returncode=proc.returncode, timed_out=timed_out,
                      wall_s=round(time.perf_counter() - t0, 1), job_counts=job_counts(text),
                      job_times=job_times(work))  # fmt: skip
    if timed_out:
        ctx.result["error"] = (f"stopped at the time budget after {ctx.result['wall_s']} s "
                               "(job times so far under job_times)")  # fmt: skip
    elif proc.returncode != 0:
        ctx.result["error"] = f"snakemake exited {proc.returncode} (its output: gpu_check.log)"
    return ctx.result


STEPS = {
    "env": step_env,
    "throughput_large": lambda ctx: step_throughput(ctx, "large"),
    "throughput_base": lambda ctx: step_throughput(ctx, "base"),
    "readout": step_readout,
    "sigterm_resume": step_sigterm,
    "parity_minilm": step_parity,
    "ref_step": step_ref_step,
    "snakemake_demo": step_snakemake,
}
