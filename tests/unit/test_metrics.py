"""The one macro-F1 (pvigroup.metrics): hand-computed cases, scikit-learn, every caller."""

import math

import numpy as np
import pytest

from pvigroup.metrics import macro_f1, per_class_f1


def sk_macro_f1(y_true, y_pred, n_labels):
    """scikit-learn's macro-F1 over the classes that occur in gold or predictions."""
    from sklearn.metrics import f1_score

    present = sorted({int(c) for c in np.concatenate([y_true, y_pred]) if 0 <= c < n_labels})
    return f1_score(y_true, y_pred, average="macro", labels=present, zero_division=0)


def test_class_absent_from_gold_and_predictions_is_left_out():
    y = np.array([0, 0, 1, 1])
    p = np.array([0, 1, 1, 1])
    # class 0: tp 1, |gold| 2, |pred| 1 -> 2/3; class 1: tp 2, 2, 3 -> 4/5; class 2: absent
    f1, present = per_class_f1(y, p, 3)
    assert f1 == pytest.approx([2 / 3, 4 / 5, 0.0]) and present.tolist() == [True, True, False]
    assert macro_f1(y, p, 3) == pytest.approx((2 / 3 + 4 / 5) / 2)
    assert macro_f1(y, p, 3) == macro_f1(y, p, 2) == pytest.approx(sk_macro_f1(y, p, 3))


def test_class_predicted_but_never_gold_counts_zero():
    y = np.array([0, 0, 1, 1])
    p = np.array([0, 2, 1, 1])
    # class 0: tp 1, 2, 1 -> 2/3; class 1: tp 2, 2, 2 -> 1; class 2: tp 0, 0, 1 -> 0 (counted)
    assert macro_f1(y, p, 3) == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert macro_f1(y, p, 3) == pytest.approx(sk_macro_f1(y, p, 3))


def test_all_wrong_is_zero_and_all_right_is_one():
    y = np.array([0, 1, 2, 0])
    assert macro_f1(y, np.array([1, 2, 0, 2]), 4) == 0.0
    assert sk_macro_f1(y, np.array([1, 2, 0, 2]), 4) == 0.0
    assert macro_f1(y, y, 4) == 1.0  # class 3 absent: not averaged in as 0


def test_unparseable_prediction_is_a_false_negative_of_its_gold_class():
    y = np.array([0, 0, 1, 1, 2])
    p = np.array([0, 1, 1, -1, 2])
    # class 0: tp 1, 2, 1 -> 2/3; class 1: tp 1, 2, 2 -> 1/2; class 2: 1
    assert macro_f1(y, p, 3) == pytest.approx((2 / 3 + 0.5 + 1) / 3)
    assert macro_f1(y, p, 3) == pytest.approx(sk_macro_f1(y, p, 3))
    # a class only the unparseable row would have hit: gold, never predicted -> 0, counted
    assert macro_f1(np.array([0, 1]), np.array([0, -1]), 3) == pytest.approx((1 + 0) / 2)


@pytest.mark.parametrize("seed", range(40))
def test_agrees_with_scikit_learn_on_random_labels(seed):
    rng = np.random.default_rng(seed)
    n_labels = int(rng.integers(2, 7))
    n = int(rng.integers(1, 30))
    # draw from a subset of classes so that some are absent from gold, predictions or both
    y = rng.choice(rng.choice(n_labels, size=max(1, n_labels - 2), replace=False), size=n)
    p = rng.integers(-1, n_labels, size=n)  # -1: unparseable
    assert macro_f1(y, p, n_labels) == pytest.approx(sk_macro_f1(y, p, n_labels), abs=1e-12)


def test_no_rows_is_nan_and_bad_ids_name_the_row():
    assert math.isnan(macro_f1(np.array([], dtype=np.int64), np.array([], dtype=np.int64), 2))
    with pytest.raises(ValueError, match=r"y_true row 2 has label id 3, outside 0\.\.2"):
        macro_f1(np.array([0, 1, 3]), np.array([0, 1, 2]), 3)
    with pytest.raises(ValueError, match=r"y_pred row 0 has label id -2"):
        macro_f1(np.array([0]), np.array([-2]), 3)
    with pytest.raises(ValueError, match=r"y_true \(2 rows\) and y_pred \(3 rows\) differ"):
        macro_f1(np.array([0, 1]), np.array([0, 1, 1]), 2)
    with pytest.raises(ValueError, match="integer label ids"):
        macro_f1(np.array([0.0, 1.0]), np.array([0, 1]), 2)


def test_every_caller_uses_the_one_function():
    from pvigroup import metrics, pvi
    from pvigroup.engine.metrics import classification_metrics
    from pvigroup.llm import run

    assert pvi.macro_f1 is metrics.macro_f1 and run.macro_f1 is metrics.macro_f1
    # the case on which the two former conventions differ: class "c" absent from both
    y = np.array([0, 0, 1, 1])
    p = np.array([0, 1, 1, 1])
    engine = classification_metrics(y, p, ["a", "b", "c"])
    assert engine["macro_f1"] == run.macro_f1(y, p, 3) == pytest.approx((2 / 3 + 4 / 5) / 2)
    assert engine["per_class_f1"] == pytest.approx({"a": 2 / 3, "b": 4 / 5, "c": 0.0})


def test_baselines_score_with_the_one_function(monkeypatch):
    from pvigroup import metrics
    from pvigroup.baselines.surrogate import _dev_scores

    calls = []
    real = metrics.macro_f1

    def spy(y_true, y_pred, n_labels):
        calls.append(n_labels)
        return real(y_true, y_pred, n_labels)

    monkeypatch.setattr(metrics, "macro_f1", spy)
    logp = np.log(np.array([[0.9, 0.05, 0.05], [0.2, 0.7, 0.1]]))
    scores = _dev_scores(logp, np.array([0, 0]), 3)
    assert calls == [3]
    assert scores["macro_f1"] == pytest.approx(real(np.array([0, 0]), np.array([0, 1]), 3))
