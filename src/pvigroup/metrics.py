"""Macro-F1, the one implementation every score of the workflow uses.

The read-out of g′ (``results/pvi``), the STL and MTL runs (``pvigroup.engine``), the surrogate and
TAG baselines and the LLM baselines (``pvigroup.llm``) all score with :func:`macro_f1`, so the
paper's Tables 3–6 (STL/MTL) and Tables 7–8 (LLMs) average F1 over the same classes.

Convention (scikit-learn's): a class with no gold and no predicted instance has an undefined F1
and is left out of the average; every other class counts, with F1 0 when it has no true positive.
This equals ``sklearn.metrics.f1_score(y_true, y_pred, average="macro", labels=L)`` with ``L`` the
class ids that occur in ``y_true`` or ``y_pred``. The reason: a class that a test split does not
contain and that no model predicts says nothing about the model; scoring it 0 would lower the
macro-F1 of every model by the same factor ``present / n_labels``, a factor that depends on the
split (a subsampled LLM test set misses rare classes more often than the full test set the
STL/MTL models are scored on), so the numbers would no longer be comparable across tables.

Only numpy is imported here, so the module is safe to import from anywhere in the package.
"""

from __future__ import annotations

import numpy as np

#: The prediction of "no class" (an LLM answer that could not be parsed): a false negative of its
#: gold class and a false positive of none.
NO_CLASS = -1


def _ids(values: np.ndarray, name: str, n_labels: int, allow_no_class: bool) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one label id per row, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must hold integer label ids, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    low = NO_CLASS if allow_no_class else 0
    bad = np.flatnonzero((arr < low) | (arr >= n_labels))
    if bad.size:
        allowed = f"{low}..{n_labels - 1}" + (" (-1: no class)" if allow_no_class else "")
        raise ValueError(
            f"{name} row {int(bad[0])} has label id {int(arr[bad[0]])}, outside {allowed} "
            f"({bad.size} such rows)"
        )
    return arr


def per_class_f1(
    y_true: np.ndarray, y_pred: np.ndarray, n_labels: int
) -> tuple[np.ndarray, np.ndarray]:
    """F1 of each class and whether the class occurs in ``y_true`` or ``y_pred``.

    Parameters
    ----------
    y_true : numpy.ndarray
        Gold label ids in ``0 .. n_labels - 1``.
    y_pred : numpy.ndarray
        Predicted label ids, same length; ``-1`` (:data:`NO_CLASS`) is a prediction of no class.
    n_labels : int
        Number of classes of the task.

    Returns
    -------
    f1, present : numpy.ndarray
        ``f1[c] = 2·tp / (|gold c| + |predicted c|)`` (float, 0.0 where the class is absent from
        both) and ``present[c]`` (bool): the class has a gold or a predicted instance.

    Raises
    ------
    ValueError
        Arrays of different length, non-integer ids, or an id outside the range (the row is named).
    """
    if n_labels < 1:
        raise ValueError(f"n_labels must be at least 1, got {n_labels}")
    y_true = _ids(y_true, "y_true", n_labels, allow_no_class=False)
    y_pred = _ids(y_pred, "y_pred", n_labels, allow_no_class=True)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true ({len(y_true)} rows) and y_pred ({len(y_pred)} rows) differ")
    n_true = np.bincount(y_true, minlength=n_labels)
    n_pred = np.bincount(y_pred[y_pred != NO_CLASS], minlength=n_labels)
    tp = np.bincount(y_true[y_true == y_pred], minlength=n_labels)
    denom = n_true + n_pred
    present = denom > 0
    f1 = np.zeros(n_labels, dtype=np.float64)
    f1[present] = 2.0 * tp[present] / denom[present]
    return f1, present


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_labels: int) -> float:
    """Unweighted mean of per-class F1 over the classes present in ``y_true`` or ``y_pred``.

    A class with no gold and no predicted instance is left out of the average (scikit-learn's
    convention: equal to ``f1_score(..., average="macro", labels=present)``); a class predicted but
    never gold, or gold but never predicted, counts with F1 0. ``-1`` in ``y_pred`` (an
    unparseable LLM answer) is a false negative of its gold class. Why this convention: see the
    module docstring. No rows at all: NaN (undefined, like the accuracy of no rows).

    >>> macro_f1([0, 0, 1], [0, 1, 1], 3)  # class 2 never occurs: the mean of two classes
    0.6666666666666666
    """
    f1, present = per_class_f1(y_true, y_pred, n_labels)
    return float(np.mean(f1[present])) if present.any() else float("nan")


__all__ = ["NO_CLASS", "macro_f1", "per_class_f1"]
