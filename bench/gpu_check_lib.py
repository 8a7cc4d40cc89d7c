"""What the steps of ``bench/gpu_check.py`` share: sizes, context, the two contestants.

Each step takes a :class:`Ctx` and returns a JSON-ready dict. A step made of several
measurements runs each in its own ``try`` (:meth:`Ctx.part`), so a failure leaves the other
numbers and the traceback in the result, and saves what it has after every part (a step killed at
the time budget keeps its finished parts).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import engine_vs_trainer as evt

REPO = Path(__file__).resolve().parents[1]
DEMO_CORPORA = "demo_corpora.tar.gz"  # resources/demo/*.csv of a CPU demo run (prepare)

#: Sizes of a full run (one H100/H200, about 8 minutes in all) and of the CPU dry mode.
FULL = {
    "n_train": 2048, "epochs": 3, "batch": 32, "max_length": 128, "lr": 2e-5,
    "readout_rows": 16384, "ref_batches": 16, "sig_batches": 24, "sig_epochs": 2,
    "parity_train": 2000, "parity_dev": 1000, "parity_epochs": 3, "parity_max_length": 64,
    "parity_lr": 1e-4, "seeds": [42, 52, 62], "eval_batch_sizes": [256, 1024],
}  # fmt: skip
DRY = {
    "n_train": 48, "epochs": 2, "batch": 8, "max_length": 32, "lr": 2e-5,
    "readout_rows": 64, "ref_batches": 2, "sig_batches": 4, "sig_epochs": 2,
    "parity_train": 32, "parity_dev": 16, "parity_epochs": 1, "parity_max_length": 32,
    "parity_lr": 1e-4, "seeds": [42, 52, 62], "eval_batch_sizes": [32],
}  # fmt: skip

#: Encoder shapes (random init). small is MiniLM's shape (the resources size class "small").
ARCHS = {
    "large": ("roberta", {"hidden_size": 1024, "num_hidden_layers": 24,
                          "num_attention_heads": 16, "intermediate_size": 4096}),
    "base": ("bert", {"hidden_size": 768, "num_hidden_layers": 12,
                      "num_attention_heads": 12, "intermediate_size": 3072}),
    "small": ("bert", {"hidden_size": 384, "num_hidden_layers": 6,
                       "num_attention_heads": 12, "intermediate_size": 1536}),
}  # fmt: skip
TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
        "intermediate_size": 64}  # fmt: skip


@dataclass
class Ctx:
    """What a step needs: sizes, folders, and where to save its partial result."""

    dry: bool
    work: Path  # shared by all steps of one check (model dirs are written once)
    assets: Path
    result_path: Path | None = None
    deadline: float | None = None  # time.time() past which the check's budget is spent
    result: dict = field(default_factory=dict)

    def seconds_left(self, cap: float) -> float:
        """``cap``, or less when the check's time budget ends sooner."""
        if self.deadline is None:
            return cap
        return max(1.0, min(cap, self.deadline - time.time()))

    @property
    def size(self) -> dict:
        return DRY if self.dry else FULL

    @property
    def device(self) -> str:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def options(self, **kw):
        from pvigroup.engine import EngineOptions

        base = {"device": self.device, "progress": False, "threads": 1 if self.dry else 0}
        return EngineOptions(**{**base, **kw})

    def save(self) -> None:
        if self.result_path is not None:
            tmp = self.result_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.result, indent=1, default=str))
            os.replace(tmp, self.result_path)

    def part(self, name: str, fn, *args, **kw):
        """Run one measurement into ``result[name]``: its dict, or its error and traceback."""
        t0 = time.perf_counter()
        try:
            value = fn(*args, **kw)
        except Exception as err:  # noqa: BLE001 - recorded in the report, never raised
            value = {"error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()}
        value = {**value, "seconds": round(time.perf_counter() - t0, 2)}
        self.result[name] = value
        self.save()
        free_memory()
        return value


# ---------------------------------------------------------------------------- helpers
def free_memory() -> None:
    from pvigroup.engine.memory import free_cuda_cache

    free_cuda_cache()


def sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def reset_peak() -> float:
    """Reset the peak-memory counter; the MB still allocated (the new peak's floor)."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
        return round(torch.cuda.memory_allocated() / 2**20, 1)
    return 0.0


def peak_mb() -> float:
    return round(evt._peak_mb("cuda" if _cuda() else "cpu"), 1)


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def minilm_dir(ctx: Ctx) -> str:
    """The MiniLM directory: the prepared fp16 copy (device) or the installed package (here)."""
    prepared = ctx.assets / "minilm"
    return str(prepared) if (prepared / "config.json").exists() else evt.minilm_path()


def tokenizer(ctx: Ctx):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(minilm_dir(ctx))


def arch_dir(ctx: Ctx, arch: str) -> str:
    """A random-init encoder of ``arch`` (tiny in dry mode) with MiniLM's tokenizer, written once."""
    import torch
    from transformers import BertConfig, BertModel, RobertaModel

    path = ctx.work / "models" / arch
    if (path / "config.json").exists():
        return str(path)
    tok = tokenizer(ctx)
    torch.manual_seed(0)
    family, shape = ARCHS[arch]
    if family == "roberta":
        model = RobertaModel(evt.roberta_config(ctx.dry, tok.vocab_size))
    else:
        config = BertConfig(vocab_size=tok.vocab_size, max_position_embeddings=512,
                            **(TINY if ctx.dry else shape))  # fmt: skip
        model = BertModel(config)
    tmp = path.with_name(path.name + ".tmp")
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    os.replace(tmp, path)
    return str(path)


def words(ctx: Ctx) -> list[str]:
    return evt.word_list(tokenizer(ctx))


def fixed_length(vocab: list[str], n: int, n_tokens: int, seed: int = 5) -> pd.DataFrame:
    """``n`` two-class rows of exactly ``n_tokens`` tokens ([CLS] + one-token words + [SEP])."""
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(vocab[40:], size=n_tokens - 2)) for _ in range(n)]
    return pd.DataFrame({"id": [f"f:{i}" for i in range(n)], "text": texts, "text_pair": None,
                         "label": rng.integers(0, 2, size=n).astype(np.int64)})  # fmt: skip


def compile_counts(expected_max: int, mode) -> dict:
    """torch.compile graphs since the last :func:`reset_compile` (storm: more than expected)."""
    from torch._dynamo.utils import counters

    graphs = int(counters["stats"].get("unique_graphs", 0))
    breaks = int(sum(counters["graph_break"].values()))
    cudagraph = {k: int(v) for k, v in counters["inductor"].items() if "cudagraph" in k}
    return {"mode": mode, "unique_graphs": graphs, "graph_breaks": breaks,
            "expected_max": expected_max, "storm": graphs > expected_max,
            "inductor_cudagraph_counters": cudagraph}  # fmt: skip


def reset_compile() -> None:
    import torch
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()


def buckets_used(model_dir: str, df: pd.DataFrame, max_length: int, options) -> int:
    from transformers import AutoTokenizer

    from pvigroup.engine.encode import encode_frame
    from pvigroup.engine.schedule import assign_buckets, effective_buckets

    enc = encode_frame(AutoTokenizer.from_pretrained(model_dir), df, max_length, False)
    buckets = effective_buckets(options.buckets, max_length)
    return len(set(np.asarray(assign_buckets(enc.lengths, buckets)).tolist()))


# ---------------------------------------------------------------------------- contestants
def run_engine(ctx: Ctx, model_dir: str, df, labels, params, out_dir, dev=None, **opt) -> dict:
    """Train with the engine; per-epoch samples/s, compile estimate, peak memory, final loss."""
    from pvigroup.engine import TaskData, train

    options = ctx.options(**opt)
    device = options.resolve_device()
    expected = buckets_used(model_dir, df, params.max_length, options)
    cache = Path(os.environ.get("TORCHINDUCTOR_CACHE_DIR", "/nonexistent"))
    cached = sum(1 for p in cache.rglob("*") if p.is_file()) if cache.is_dir() else 0
    reset_compile()
    floor = reset_peak()
    t0 = time.perf_counter()
    res = train(model_dir, [TaskData("t", labels, df, dev)], params, out_dir, options=options)
    sync()
    wall = time.perf_counter() - t0
    epochs = [{"epoch": h["epoch"], "loss": h["loss"], "samples_per_s": h["samples_per_s"],
               "seconds": len(df) / h["samples_per_s"]} for h in res.history]  # fmt: skip
    later = epochs[1:] or epochs
    steady_s = statistics.mean(e["seconds"] for e in later)
    return {
        "epochs": epochs,
        "steady_samples_per_s": statistics.mean(e["samples_per_s"] for e in later),
        "first_epoch_s": epochs[0]["seconds"],
        "compile_s_est": epochs[0]["seconds"] - steady_s,  # first epoch minus a later one
        "train_call_s": wall,
        "final_loss": epochs[-1]["loss"],
        "peak_mem_mb": peak_mb(),
        "mem_at_start_mb": floor,
        "compile": compile_counts(expected, options.compile_mode(device)),
        "inductor_cache_files_before": cached,
        "amp": str(options.autocast_dtype(device)),
        "out_dir": str(out_dir),
    }


def run_trainer(ctx: Ctx, model_dir: str, df, n_labels, p: dict, out_dir, dev=None) -> dict:
    """transformers.Trainer, same batch, lr (linear, no warm-up), epochs, clipping 1.0, bf16."""
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    cuda = _cuda()
    if ctx.dry:
        torch.set_num_threads(1)
    tok = AutoTokenizer.from_pretrained(model_dir)
    torch.manual_seed(p["seed"])
    model = AutoModelForSequenceClassification.from_pretrained(
        model_dir, num_labels=n_labels, dtype=torch.float32
    )

    def encode(frame):
        enc = tok(frame["text"].tolist(), truncation=True, max_length=p["max_length"])
        return [{**{k: v[i] for k, v in enc.items()}, "labels": int(y)}
                for i, y in enumerate(frame["label"])]  # fmt: skip

    times: list[float] = []

    class EpochTimer(TrainerCallback):
        def on_epoch_begin(self, args, state, control, **kw):
            sync()
            self.t0 = time.perf_counter()

        def on_epoch_end(self, args, state, control, **kw):
            sync()
            times.append(time.perf_counter() - self.t0)

    args = TrainingArguments(
        output_dir=str(out_dir), per_device_train_batch_size=p["batch"],
        per_device_eval_batch_size=256, num_train_epochs=p["epochs"], learning_rate=p["lr"],
        lr_scheduler_type="linear", warmup_steps=0, weight_decay=0.0, max_grad_norm=1.0,
        bf16=cuda, use_cpu=not cuda, save_strategy="no", eval_strategy="no",
        logging_strategy="epoch", report_to=[], seed=p["seed"], disable_tqdm=True,
        dataloader_num_workers=0,
    )  # fmt: skip
    floor = reset_peak()
    trainer = Trainer(model=model, args=args, train_dataset=encode(df),
                      data_collator=DataCollatorWithPadding(tok), callbacks=[EpochTimer()])  # fmt: skip
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    epochs = [{"epoch": i + 1, "seconds": s, "samples_per_s": len(df) / s,
               "loss": losses[i] if i < len(losses) else None} for i, s in enumerate(times)]  # fmt: skip
    later = epochs[1:] or epochs
    out = {
        "epochs": epochs,
        "steady_samples_per_s": statistics.mean(e["samples_per_s"] for e in later),
        "final_loss": losses[-1] if losses else None,
        "peak_mem_mb": peak_mb(),
        "mem_at_start_mb": floor,
        "bf16": cuda,
        "padding": "dynamic (DataCollatorWithPadding)",
    }
    if dev is not None:
        pred = trainer.predict(encode(dev))
        out["dev_accuracy"] = float(np.mean(pred.predictions.argmax(-1) == dev["label"].to_numpy()))
    return out


def _params(ctx: Ctx, **kw):
    from pvigroup.engine import TrainParams

    s = ctx.size
    base = {"epochs": s["epochs"], "batch_size": s["batch"], "lr": s["lr"],
            "max_length": s["max_length"], "seed": 42, "max_grad_norm": 1.0}  # fmt: skip
    return TrainParams(**{**base, **kw})
