"""How far the two null models differ on a finished run: fine-tuned g vs the empirical prior.

Reads ``results/pvi/{model}/{task}.parquet`` (made with ``pvi.null_model: finetune``) and each
task's train labels, recomputes every instance's PVI with the closed-form null model (train label
frequencies, :func:`pvigroup.pvi.null_model_difference`; g′ is the same), and prints per task the
mean PVI under both, the mean and largest per-instance difference, and then every pair test under
both null models with its accept/reject decision at alpha.

Example (after the demo)::

    python bench/null_models.py --results results --model minilm
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd

from pvigroup.pvi import null_model_difference
from pvigroup.stats import pair_test


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="results", help="the run's results/ folder")
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--alpha", type=float, default=0.01)
    ap.add_argument("--method", default="student", help="pair test (stats.pair_test)")
    args = ap.parse_args()
    res = Path(args.results)
    rows, both = [], {}
    for path in sorted((res / "pvi" / args.model).glob("*.parquet")):
        task = path.stem
        info = json.loads((res / "data" / task / "task.json").read_text())
        train = pd.read_parquet(res / "data" / task / "train.parquet")
        d = null_model_difference(pd.read_parquet(path), train["label"].to_numpy(),
                                  len(info["labels"]))
        diff = d["pvi_finetune"] - d["pvi_prior"]
        both[task] = d
        rows.append({"task": task, "n": len(d), "mean_pvi_finetune": d["pvi_finetune"].mean(),
                     "mean_pvi_prior": d["pvi_prior"].mean(), "mean_diff": diff.mean(),
                     "mean_abs_diff": diff.abs().mean(), "max_abs_diff": diff.abs().max()})
    print(pd.DataFrame(rows).round(4).to_string(index=False))
    tests = []
    for a, b in itertools.combinations(sorted(both), 2):
        out = {"pair": f"{a}__{b}"}
        for kind in ("finetune", "prior"):
            r = pair_test(both[a][f"pvi_{kind}"].to_numpy(), both[b][f"pvi_{kind}"].to_numpy(),
                          names=(a, b), method=args.method)
            out[f"t_{kind}"], out[f"p_{kind}"] = r.statistic, r.pvalue
            out[f"grouped_{kind}"] = bool(r.pvalue > args.alpha)
        tests.append(out)
    t = pd.DataFrame(tests)
    print()
    print(t.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    same = int((t["grouped_finetune"] == t["grouped_prior"]).sum())
    print(f"\nsame decision at alpha={args.alpha}: {same} of {len(t)} pairs;"
          f" largest |mean difference| {np.max(np.abs([r['mean_diff'] for r in rows])):.4f} bits")


if __name__ == "__main__":
    main()
