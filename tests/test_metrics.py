"""Metric values pinned on hand-made arrays; every expected number is worked out in the comments."""

from __future__ import annotations

import math

import numpy as np
import pytest

from codec_bench.evaluation.metrics import (
    apply_thresholds,
    label_matrix,
    mean_std,
    multi_label_metrics,
    single_label_metrics,
    tune_thresholds,
)


def test_single_label_accuracy_and_macro_f1_skip_absent_class():
    # 3 of 4 right -> accuracy 0.75.
    # class 0: TP 1                 -> F1 1
    # class 1: TP 1, FN 1 (P 1, R 1/2)   -> F1 2/3
    # class 2: TP 1, FP 1 (P 1/2, R 1)   -> F1 2/3
    # class 3: in neither array -> excluded, macro = (1 + 2/3 + 2/3) / 3 = 7/9 (not 7/12)
    result = single_label_metrics(np.array([0, 1, 2, 1]), np.array([0, 1, 2, 2]), num_classes=4)
    assert result["accuracy"] == pytest.approx(0.75)
    assert result["macro_f1"] == pytest.approx(7 / 9)


def test_single_label_counts_class_only_predicted():
    # class 0: TP 1, FN 1 -> 2/3; class 1: TP 2 -> 1; class 2: only a false positive -> 0 (kept: it was predicted)
    # macro = (2/3 + 1 + 0) / 3 = 5/9
    result = single_label_metrics(np.array([0, 0, 1, 1]), np.array([0, 2, 1, 1]), num_classes=3)
    assert result == {"accuracy": pytest.approx(0.75), "macro_f1": pytest.approx(5 / 9)}


def test_single_label_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        single_label_metrics(np.array([0, 1]), np.array([0]), num_classes=2)


def test_multi_label_map_over_classes_with_a_positive():
    # class 0: truth 1,0,1,0 by score 0.9,0.8,0.7,0.1: hits at rank 1 (P 1) and rank 3 (P 2/3), each adds R 1/2
    #          AP = 1/2 * 1 + 1/2 * 2/3 = 5/6
    # class 1: the only positive has the top score -> AP 1
    # class 2: no positive in y_true -> excluded; mAP = (5/6 + 1) / 2 = 11/12
    y_true = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 0]])
    y_score = np.array([[0.9, 0.2, 0.9], [0.8, 0.6, 0.1], [0.7, 0.3, 0.5], [0.1, 0.4, 0.2]])
    y_pred = (y_score >= 0.5).astype(int) * np.array([1, 1, 0])  # class 2 never predicted
    result = multi_label_metrics(y_true, y_score, y_pred)
    assert result["map"] == pytest.approx(11 / 12)
    # macro-F1 over classes 0 and 1 only: class 0 preds 1,1,1,0 -> TP 2, FP 1 -> 4/5; class 1 preds 0,1,0,0 -> 1
    assert result["macro_f1"] == pytest.approx((4 / 5 + 1) / 2)


def test_multi_label_micro_and_macro_f1():
    # cells: (0,0) TP, (0,1) FP, (1,1) TP, (2,0) FN, (2,1) TP -> TP 3, FP 1, FN 1 -> micro F1 = 6 / 8 = 0.75
    # class 0: TP 1, FN 1 -> 2/3; class 1: TP 2, FP 1 -> 4/5; macro = (2/3 + 4/5) / 2 = 11/15
    y_true = np.array([[1, 0], [0, 1], [1, 1]])
    y_pred = np.array([[1, 1], [0, 1], [0, 1]])
    result = multi_label_metrics(y_true, y_pred.astype(float), y_pred)
    assert result["micro_f1"] == pytest.approx(0.75)
    assert result["macro_f1"] == pytest.approx(11 / 15)


def test_multi_label_without_any_positive_is_nan_not_a_number_made_up():
    zeros = np.zeros((3, 2), dtype=int)
    result = multi_label_metrics(zeros, np.full((3, 2), 0.3), zeros)
    assert all(math.isnan(v) for v in result.values())


def test_tune_thresholds_recovers_separable_case():
    # class 0: positives score 0.3 and 0.9, negatives 0.1 and 0.2 -> midpoint of 0.3 and 0.2 = 0.25
    # class 1: positives 0.95 and 0.9, negatives 0.1 and 0.3 -> midpoint of 0.9 and 0.3 = 0.6
    # class 2: no positive -> 0.5
    y_true = np.array([[0, 1, 0], [0, 1, 0], [1, 0, 0], [1, 0, 0]])
    y_score = np.array([[0.1, 0.95, 0.7], [0.2, 0.9, 0.2], [0.3, 0.1, 0.4], [0.9, 0.3, 0.1]])
    thresholds = tune_thresholds(y_true, y_score)
    np.testing.assert_allclose(thresholds, [0.25, 0.6, 0.5])
    np.testing.assert_array_equal(apply_thresholds(y_score, thresholds)[:, :2], y_true[:, :2])


def test_tune_thresholds_picks_best_f1_when_not_separable():
    # truth 1,0,1 at scores 0.9,0.8,0.3: ">= 0.3" gives P 2/3, R 1, F1 0.8 (best; ">= 0.9" gives 2/3,
    # ">= 0.8" gives 1/2). No score lies below 0.3, so the threshold is 0.3 itself.
    assert tune_thresholds(np.array([[1], [0], [1]]), np.array([[0.9], [0.8], [0.3]]))[0] == pytest.approx(0.3)


def test_mean_std_is_sample_std():
    mean, std = mean_std([0.8, 0.9, 1.0])  # deviations -0.1, 0, 0.1 -> var = 0.02 / (3 - 1) = 0.01
    assert (mean, std) == (pytest.approx(0.9), pytest.approx(0.1))
    assert mean_std([0.7]) == (pytest.approx(0.7), 0.0)
    with pytest.raises(ValueError):
        mean_std([])


def test_label_matrix_keeps_the_class_order_and_leaves_unknown_labels_out():
    matrix = label_matrix([("b",), ("a", "c"), ("z",), ()], ["c", "b", "a"])
    assert matrix.tolist() == [[0, 1, 0], [1, 0, 1], [0, 0, 0], [0, 0, 0]]


def test_aqa_metrics_split_yes_no_and_open_questions():
    from codec_bench.evaluation.metrics import aqa_metrics

    truth = ["yes", "no", "car", "bird"]
    predicted = ["yes", "yes", "car", "dog"]
    annotators = [["yes", "yes", "no"], ["no", "yes", "no"], ["car", "truck", "car"], ["bird", "dog", "bird"]]
    # yes/no: 1 of 2 right; open: 1 of 2 right; any annotator: yes, yes (2nd annotator), car, dog -> 4 of 4
    assert aqa_metrics(truth, predicted, annotators) == {
        "yes_no_accuracy": 0.5,
        "open_accuracy": 0.5,
        "any_annotator_accuracy": 1.0,
    }
    assert "open_accuracy" not in aqa_metrics(["yes"], ["no"], [["yes"]])
