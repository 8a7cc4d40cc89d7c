"""PVI math against hand-computed cases."""

import math

import numpy as np
import pandas as pd
import pytest

from pvigroup.errors import PvigroupError
from pvigroup.pvi import (
    empirical_prior,
    gold_log2,
    macro_f1,
    majority_accuracy,
    null_model_difference,
    pvi,
)


def test_pvi_hand_computed():
    # two instances, three labels; probabilities chosen so log2 values are exact
    gprime = np.log(np.array([[0.5, 0.25, 0.25], [0.125, 0.125, 0.75]]))
    null = np.log(np.array([[0.25, 0.5, 0.25], [0.25, 0.5, 0.25]]))
    labels = np.array([0, 1])
    # instance 0: log2(0.5) - log2(0.25) = -1 + 2 = 1 bit
    # instance 1: log2(0.125) - log2(0.5) = -3 + 1 = -2 bits (g' worse than the prior)
    np.testing.assert_allclose(pvi(gprime, null, labels), [1.0, -2.0], atol=1e-12)


def test_gold_log2_indexes_by_label_id_not_position():
    logp = np.log(np.array([[0.1, 0.9], [0.9, 0.1]]))
    np.testing.assert_allclose(gold_log2(logp, np.array([1, 0])), [math.log2(0.9)] * 2)


def test_gold_log2_rejects_out_of_range_labels():
    with pytest.raises(ValueError, match="label ids"):
        gold_log2(np.zeros((1, 2)), np.array([2]))


def test_empirical_prior_is_label_frequency():
    logp = empirical_prior(np.array([0, 0, 0, 1]), 3)
    np.testing.assert_allclose(np.exp(logp), [0.75, 0.25, 0.0])


def test_mean_pvi_of_perfect_model_equals_label_entropy():
    # g' certain and right; g = empirical prior: mean PVI = H(Y) in bits (here 1 bit)
    labels = np.array([0, 1, 0, 1])
    gprime = np.log(np.where(np.eye(2)[labels] > 0, 1 - 1e-12, 1e-12))
    null = np.tile(empirical_prior(labels, 2), (4, 1))
    assert pvi(gprime, null, labels).mean() == pytest.approx(1.0, abs=1e-9)


def test_majority_and_macro_f1():
    assert majority_accuracy(np.array([1, 1, 0]), np.array([1, 0, 0, 0])) == 0.25
    gold = np.array([0, 0, 1, 1])
    pred = np.array([0, 1, 1, 1])
    # class 0: tp1 fp0 fn1 -> 2/3; class 1: tp2 fp1 fn0 -> 4/5
    assert macro_f1(gold, pred, 2) == pytest.approx((2 / 3 + 4 / 5) / 2)


def test_null_model_difference_by_hand():
    # train labels 0,0,0,1: prior 3/4 and 1/4; g gave log2 p = -0.5 (label 0) and -1.9 (label 1)
    df = pd.DataFrame({"id": ["x", "y"], "label": [0, 1], "log2_p_gprime": [-0.1, -1.0],
                       "log2_p_null": [-0.5, -1.9], "pvi": [0.4, 0.9]})
    d = null_model_difference(df, np.array([0, 0, 0, 1]), 2)
    assert list(d["id"]) == ["x", "y"]
    assert d["log2_p_prior"].tolist() == pytest.approx([math.log2(0.75), -2.0])
    assert d["pvi_prior"].tolist() == pytest.approx([-0.1 - math.log2(0.75), -1.0 + 2.0])
    assert (d["pvi_finetune"] - d["pvi_prior"]).tolist() == pytest.approx(
        (d["log2_p_prior"] - d["log2_p_null"]).tolist())
    with pytest.raises(PvigroupError, match="lacks columns"):
        null_model_difference(df.drop(columns="log2_p_null"), np.array([0, 1]), 2)
