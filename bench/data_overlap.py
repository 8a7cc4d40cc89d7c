"""Time the train/dev/test overlap check of task preparation at SST-2 size.

SST-2 (GLUE) has 67,349 train rows (phrases of its sentences), 872 dev and 1,821 test rows. The
data here is synthetic at those sizes and lengths: train phrases are cut from train sentences
(so train has many near duplicates of itself), a share of dev and test rows are planted copies
of train rows (half verbatim, half re-cased and re-punctuated), the rest are new sentences.

Usage::

    python bench/data_overlap.py            # prints JSON: sizes, planted and found counts, seconds

Both the pure check (:func:`pvigroup.data.overlap_report`) and the whole preparation of a
parquet-file task (:func:`pvigroup.data.prepare_task`, with and without ``drop_overlap``) are
timed; the counts found must equal the planted ones.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pvigroup.data import overlap_report, prepare_task


def sentence(rng: np.random.Generator, words: list[str], lo: int = 8, hi: int = 30) -> str:
    n = int(rng.integers(lo, hi))
    return " ".join(rng.choice(words, n)) + " ."


def synthetic(n_train: int, n_dev: int, n_test: int, planted: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(5000)] + [",", "'s", "n't", "--"]
    train = []
    while len(train) < n_train:  # a sentence and a few of its phrases, as SST-2's train is
        tokens = sentence(rng, words).split()
        train.append(" ".join(tokens))
        for _ in range(int(rng.integers(0, 6))):
            a = int(rng.integers(0, len(tokens) - 1))
            b = int(rng.integers(a + 1, len(tokens) + 1))
            train.append(" ".join(tokens[a:b]))
    train = train[:n_train]

    def held(n: int, offset: int) -> tuple[list[str], int, int]:
        texts = [f"held out {offset + i} " + sentence(rng, words) for i in range(n)]
        k = int(planted * n)
        picks = rng.choice(n_train, k, replace=False)
        exact = 0
        for j, (i, p) in enumerate(zip(rng.choice(n, k, replace=False), picks, strict=True)):
            if j % 2 == 0:
                texts[i] = train[p]
                exact += 1
            else:
                texts[i] = train[p].upper().replace(" ,", ",") + "!"
        return texts, exact, k

    dev, dev_exact, dev_norm = held(n_dev, 0)
    test, test_exact, test_norm = held(n_test, n_dev)
    frames = {}
    for name, texts in (("train", train), ("dev", dev), ("test", test)):
        frames[name] = pd.DataFrame({"sentence": texts, "label": rng.integers(0, 2, len(texts))})
    planted_counts = {
        "dev": {"exact": dev_exact, "normalised": dev_norm},
        "test": {"exact": test_exact, "normalised": test_norm},
    }
    return frames, planted_counts


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=67349)
    parser.add_argument("--n-dev", type=int, default=872)
    parser.add_argument("--n-test", type=int, default=1821)
    parser.add_argument("--planted", type=float, default=0.05, help="share of held-out copies")
    args = parser.parse_args(argv)
    frames, planted = synthetic(args.n_train, args.n_dev, args.n_test, args.planted)

    canon = {
        s: f.rename(columns={"sentence": "text"}).assign(
            id=[f"{s}:{i}" for i in range(len(f))], text_pair=None
        )
        for s, f in frames.items()
    }
    t0 = time.perf_counter()
    report, _ = overlap_report(canon["train"], {"dev": canon["dev"], "test": canon["test"]})
    check_s = time.perf_counter() - t0

    out: dict = {"n": {s: len(f) for s, f in frames.items()}, "planted": planted}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for s, f in frames.items():
            f.to_parquet(tmp / f"{s}.parquet")
        task = {
            "source": {"files": {s: f"{s}.parquet" for s in frames}},
            "text": ["sentence"],
            "label": "label",
            "labels": [0, 1],
        }
        timings = {}
        for drop in (False, True):
            t0 = time.perf_counter()
            info = prepare_task("sst2like", {**task, "drop_overlap": drop}, tmp / f"o{drop}",
                                base_dir=tmp)
            timings[f"prepare_task_drop_{str(drop).lower()}_s"] = round(time.perf_counter() - t0, 3)
    found = {s: {k: report[s][k] for k in ("exact", "normalised")} for s in ("dev", "test")}
    out.update(
        found=found,
        matches_planted=found == planted,
        dropped_from_train=info["overlap"]["dropped_from_train"],
        overlap_report_s=round(check_s, 3),
        **timings,
    )
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
