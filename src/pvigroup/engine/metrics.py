"""Classification metrics of the read-out: accuracy, macro-F1 and per-class F1."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pvigroup.metrics import macro_f1, per_class_f1


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
    Per-class F1 and macro-F1 come from :mod:`pvigroup.metrics`, the one implementation of the
    workflow: a class with neither gold nor predicted instances has an undefined F1; it is reported
    as 0.0 in ``per_class_f1`` and left out of the macro average (scikit-learn's convention,
    ``f1_score(average="macro")`` over the labels present in ``y_true`` or ``y_pred``). A class
    with gold or predicted instances but no true positive has F1 0.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in shape")
    n = len(y_true)
    f1, _ = per_class_f1(y_true, y_pred, len(labels))
    return {
        "accuracy": float(np.mean(y_true == y_pred)) if n else float("nan"),
        "macro_f1": macro_f1(y_true, y_pred, len(labels)),
        "per_class_f1": {str(name): float(f1[i]) for i, name in enumerate(labels)},
        "n": n,
    }
