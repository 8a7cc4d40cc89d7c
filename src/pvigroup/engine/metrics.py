"""Classification metrics of the read-out: accuracy, macro-F1 and per-class F1."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]) -> dict:
    """Accuracy, macro-F1 and per-class F1 of integer predictions.

    Parameters
    ----------
    y_true, y_pred : numpy.ndarray
        Label ids (indices into ``labels``).
    labels : sequence of str
        Ordered label names.

    Returns
    -------
    dict
        ``accuracy``, ``macro_f1``, ``per_class_f1`` ({label name: F1}) and ``n``.

    Notes
    -----
    The F1 of a class with neither gold nor predicted instances is undefined; it is reported as
    0.0 in ``per_class_f1`` and left out of the macro average, the convention of
    ``sklearn.metrics.f1_score(average="macro")`` (which averages over the labels present in
    ``y_true`` or ``y_pred``). A class with gold or predicted instances but no true positive has F1 0.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in shape")
    n = len(y_true)
    per_class: dict[str, float] = {}
    present: list[float] = []
    for i, name in enumerate(labels):
        tp = int(np.sum((y_true == i) & (y_pred == i)))
        n_true = int(np.sum(y_true == i))
        n_pred = int(np.sum(y_pred == i))
        f1 = 2 * tp / (n_true + n_pred) if n_true + n_pred else 0.0
        per_class[str(name)] = float(f1)
        if n_true + n_pred:
            present.append(f1)
    return {
        "accuracy": float(np.mean(y_true == y_pred)) if n else float("nan"),
        "macro_f1": float(np.mean(present)) if present else float("nan"),
        "per_class_f1": per_class,
        "n": n,
    }
