"""compute_pvi refuses PVI it cannot stand behind, naming the file or instance, and writes nothing.

A real g' (tiny random BERT, one epoch) read out on a real prepared task directory; the null
model is the empirical prior written by fit_empirical_prior.
"""

import numpy as np
import pandas as pd
import pytest
from safetensors.torch import load_file, save_file

from pvigroup.engine import EngineOptions, TaskData, TrainParams, train
from pvigroup.errors import PvigroupError
from pvigroup.io import read_json, write_json, write_parquet
from pvigroup.pvi import compute_pvi, fit_empirical_prior

LABELS = ["bad", "good", "meh"]
ENGINE = {"device": "cpu", "compile": "off", "buckets": [16], "threads": 1, "progress": False}
HPARAMS = {"epochs": 1, "batch_size": 8, "lr": 1e-3, "max_length": 16, "seed": 1}


def frame(split, labels):
    labels = np.asarray(labels, dtype=np.int64)
    return pd.DataFrame({"id": [f"t:{split}:{i}" for i in range(len(labels))],
                         "text": [f"it was {LABELS[y]} really" for y in labels],
                         "text_pair": pd.Series([None] * len(labels), dtype=object),
                         "label": labels, "label_name": [LABELS[y] for y in labels]})


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory, tiny_bert):
    """train has labels 0 and 1 only; dev has all three; g' trained on train."""
    d = tmp_path_factory.mktemp("pvi") / "data" / "t"
    train_df, dev_df = frame("train", [0, 1] * 12), frame("dev", [0, 1, 2, 0, 1, 0])
    write_parquet(train_df, d / "train.parquet", {"task": "t", "split": "train"})
    write_parquet(dev_df, d / "dev.parquet", {"task": "t", "split": "dev"})
    write_json({"task": "t", "labels": LABELS, "pair": False, "private": False}, d / "task.json")
    train(tiny_bert, [TaskData("t", LABELS, train_df)],
          TrainParams(**{k: v for k, v in HPARAMS.items()}), d.parent.parent / "gprime",
          options=EngineOptions(**{**ENGINE, "buckets": (16,)}))
    fit_empirical_prior(d, d.parent.parent / "prior.json")
    return d


def run(task_dir, tmp_path, gprime=None, null=None):
    root = task_dir.parent.parent
    return compute_pvi(task_dir, gprime or root / "gprime", null or root / "prior.json",
                       tmp_path / "t.parquet", tmp_path / "t.summary.json", split="dev",
                       model="tiny", model_spec={"pretrained": "tiny"}, hparams=HPARAMS,
                       engine=ENGINE, allow_collapsed=True)


def test_label_never_in_train_with_the_empirical_prior_is_refused(task_dir, tmp_path):
    prior = read_json(task_dir.parent.parent / "prior.json")
    assert prior["counts"] == [12, 12, 0] and prior["log_prior"][2] == float("-inf")
    with pytest.raises(PvigroupError) as err:
        run(task_dir, tmp_path)
    assert str(err.value) == (
        f"{task_dir / 'train.parquet'}: label(s) ['meh'] never occur in train, so the empirical "
        "prior gives them probability 0 and PVI is infinite; use pvi.null_model: finetune or add "
        "training rows of those labels")
    assert not (tmp_path / "t.parquet").exists() and not (tmp_path / "t.summary.json").exists()


def test_the_same_task_without_the_unseen_label_gives_finite_pvi(task_dir, tmp_path):
    # control: drop the dev row of the unseen label and the same files give PVI
    d = tmp_path / "data" / "t"
    d.mkdir(parents=True)
    for name in ("train.parquet", "task.json"):
        (d / name).write_bytes((task_dir / name).read_bytes())
    dev = pd.read_parquet(task_dir / "dev.parquet")
    write_parquet(dev[dev.label != 2].reset_index(drop=True), d / "dev.parquet",
                  {"task": "t", "split": "dev"})
    out = run(d, tmp_path, gprime=task_dir.parent.parent / "gprime",
              null=task_dir.parent.parent / "prior.json")
    assert len(out) == 5 and np.isfinite(out["pvi"]).all()
    # log2 p_null is the train frequency of each gold label: 12/24 for both
    np.testing.assert_allclose(out["log2_p_null"], -1.0)


def test_non_finite_pvi_names_the_instance(task_dir, tmp_path):
    # a diverged g' (NaN in its head) gives NaN log-probabilities: refused, nothing written
    bad = tmp_path / "gprime"
    src = task_dir.parent.parent / "gprime"
    for f in src.rglob("*"):
        if f.is_file():
            (bad / f.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
            (bad / f.relative_to(src)).write_bytes(f.read_bytes())
    head = next((bad / "heads").glob("*.safetensors"))
    tensors = load_file(str(head))
    bias = next(k for k in tensors if k.endswith("bias") and tensors[k].numel() == len(LABELS))
    tensors[bias][:] = float("nan")
    save_file(tensors, str(head), metadata=_metadata(head))
    d = tmp_path / "data" / "t"
    d.mkdir(parents=True)
    for name in ("train.parquet", "task.json", "dev.parquet"):
        (d / name).write_bytes((task_dir / name).read_bytes())
    write_json({"task": "t", "labels": LABELS, "null_model": "empirical-prior",
                "log_prior": np.log([0.4, 0.4, 0.2]).tolist(), "counts": [2, 2, 1]},
               tmp_path / "prior.json")
    with pytest.raises(PvigroupError) as err:
        run(d, tmp_path, gprime=bad, null=tmp_path / "prior.json")
    assert str(err.value) == ("t: PVI is not finite for instance t:dev:0 (a probability "
                              "underflowed to 0); check the model outputs")
    assert not (tmp_path / "t.parquet").exists()


def _metadata(path):
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return f.metadata()
