"""Statistics on hand-made arrays whose answers are known: McNemar from its textbook formula, interval coverage and
test size in simulations, Holm by hand, ECE by hand, and the resampled metrics against sklearn on the full sample."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from codec_bench.evaluation import calibration, paired_tests
from codec_bench.evaluation import statistics as stats
from codec_bench.evaluation.metrics import apply_thresholds, multi_label_metrics, single_label_metrics
from codec_bench.evaluation.statistics import Unit


def single(truth, predicted, n_classes, fold="1", seed=0, scores=None) -> Unit:
    return Unit(fold, seed, [f"c{i}" for i in range(len(truth))], np.asarray(truth), np.asarray(predicted), n_classes, scores)


def test_mcnemar_matches_the_textbook_binomial_formula():
    # 10 clips only A gets right, 2 only B: p = 2 * sum_{k<=2} C(12, k) / 2^12 = 2 * (1 + 12 + 66) / 4096
    correct_a = np.array([True] * 10 + [False] * 2 + [True] * 30 + [False] * 5)
    correct_b = np.array([False] * 10 + [True] * 2 + [True] * 30 + [False] * 5)
    assert paired_tests.mcnemar_exact(correct_a, correct_b) == pytest.approx(158 / 4096)
    assert paired_tests.mcnemar_exact(correct_b, correct_a) == pytest.approx(158 / 4096)  # two-sided
    assert paired_tests.mcnemar_exact(correct_a, correct_a) == 1.0  # no discordant clip
    assert paired_tests.mcnemar_exact([True, False], [False, True]) == 1.0  # b = c: capped at 1
    # 6 discordant clips all one way: 2 / 2^6
    assert paired_tests.mcnemar_exact([True] * 6, [False] * 6) == pytest.approx(2 / 64)


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 -> x3, x2, x1 = 0.03, 0.06, 0.04 -> made non-decreasing: 0.03, 0.06, 0.06
    assert paired_tests.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert paired_tests.holm([0.5, 0.01]) == pytest.approx([0.5, 0.02])
    assert paired_tests.holm([0.9, 0.8]) == [1.0, 1.0]  # 0.8 x 2 capped at 1; then 0.9 x 1 raised to the running max
    assert paired_tests.holm([0.7]) == [0.7]


def test_expected_calibration_error_by_hand():
    # 10 clips at confidence 0.9 with 8 right (gap 0.1), 10 at 0.6 with 6 right (gap 0): ECE = (10 * 0.1 + 0) / 20
    probabilities = np.array([[0.9, 0.1]] * 10 + [[0.6, 0.4]] * 10)
    truth = np.array([0] * 8 + [1] * 2 + [0] * 6 + [1] * 4)
    assert calibration.expected_calibration_error(probabilities, truth) == pytest.approx(0.05)
    bins = calibration.reliability(probabilities, truth)
    assert [(b["count"], b["confidence"], b["accuracy"]) for b in bins] == [
        (10, pytest.approx(0.6), pytest.approx(0.6)), (10, pytest.approx(0.9), pytest.approx(0.8))]
    # a perfectly calibrated one-bin case
    assert calibration.expected_calibration_error(np.array([[1.0, 0.0]] * 4), np.zeros(4, int)) == pytest.approx(0.0)


def test_metrics_on_the_full_sample_equal_the_recorded_ones():
    rng = np.random.default_rng(3)
    n, classes = 300, 7
    truth = rng.integers(0, classes, n)
    predicted = np.where(rng.random(n) < 0.6, truth, rng.integers(0, classes + 1, n))  # some answers outside
    unit = single(truth, predicted, classes)
    recorded = single_label_metrics(truth, predicted, classes)
    assert stats.value("accuracy", [unit]) == pytest.approx(recorded["accuracy"])
    assert stats.value("macro_f1", [unit]) == pytest.approx(recorded["macro_f1"])
    labels = (rng.random((n, classes)) < 0.25).astype(int)
    scores = np.round(np.clip(0.4 * labels + rng.random((n, classes)) * 0.7, 0, 1), 1)  # rounded: many ties
    chosen = apply_thresholds(scores, np.full(classes, 0.5))
    multi = Unit("1", 0, [str(i) for i in range(n)], labels, chosen, classes, scores)
    recorded = multi_label_metrics(labels, scores, chosen)
    for name in ("micro_f1", "macro_f1", "map"):
        assert stats.value(name, [multi]) == pytest.approx(recorded[name]), name


def test_weighted_average_precision_equals_sklearn_on_the_drawn_sample():
    rng = np.random.default_rng(4)
    n = 60
    labels = (rng.random((n, 3)) < 0.3).astype(int)
    scores = np.round(rng.random((n, 3)), 1)
    unit = Unit("1", 0, [str(i) for i in range(n)], labels, labels, 3, scores)
    drawn = rng.integers(0, n, n)
    weights = np.bincount(drawn, minlength=n)[None, :].astype(float)
    expected = np.mean([average_precision_score(labels[drawn, c], scores[drawn, c]) for c in range(3)
                        if labels[drawn, c].any()])
    assert stats.mean_average_precision(unit, weights)[0] == pytest.approx(expected)
    # a draw without any positive of class 0: that class drops out of the mean, as in the recorded mAP
    without = weights.copy()
    without[0, labels[:, 0] == 1] = 0
    kept = without[0] > 0
    expected = np.mean([average_precision_score(np.repeat(labels[kept, c], without[0, kept].astype(int)),
                                                np.repeat(scores[kept, c], without[0, kept].astype(int))) for c in (1, 2)])
    assert stats.mean_average_precision(unit, without)[0] == pytest.approx(expected)


def test_stratified_draws_keep_every_class_count():
    truth = np.array([0] * 5 + [1] * 3 + [2] * 12)
    unit = single(truth, truth, 3)
    for weights in stats._draws(unit, 200, 0, "x"):
        per_class = np.stack([weights[:, truth == c].sum(1) for c in range(3)], axis=1)
        assert (per_class == [5, 3, 12]).all()


def test_interval_covers_the_true_accuracy_at_about_the_stated_rate():
    # a population with two classes where the classifier is right 80 % and 60 % of the time: true accuracy 0.7 on
    # a test set of 100 clips per class (the stratified design); 400 simulated test sets
    rng = np.random.default_rng(0)
    truth = np.repeat([0, 1], 100)
    covered = 0
    for _ in range(400):
        right = rng.random(200) < np.where(truth == 0, 0.8, 0.6)
        predicted = np.where(right, truth, 1 - truth)
        low, high = stats.interval(stats.bootstrap("accuracy", [[single(truth, predicted, 2)]], resamples=500)[0])
        covered += low <= 0.7 <= high
    assert 0.91 <= covered / 400 <= 0.98


def test_interval_over_folds_covers_the_mean_of_the_folds():
    # two folds of 60 multi-label clips, each clip's label set right with probability 0.6 in fold 1, 0.8 in fold 2:
    # the mean over folds of exact match is 0.7
    rng = np.random.default_rng(1)
    covered = 0
    for _ in range(300):
        units = []
        for fold, rate in (("1", 0.6), ("2", 0.8)):
            labels = (rng.random((60, 4)) < 0.5).astype(int)
            wrong = rng.random(60) >= rate
            predicted = labels.copy()
            predicted[wrong, 0] = 1 - predicted[wrong, 0]
            units.append(Unit(fold, 0, [f"{fold}-{i}" for i in range(60)], labels, predicted, 4))
        low, high = stats.interval(stats.bootstrap("exact_match", [units], resamples=500)[0])
        covered += low <= 0.7 <= high
    assert 0.90 <= covered / 300 <= 0.98


def test_paired_bootstrap_rejects_at_about_the_stated_rate_under_the_null():
    # two classifiers with the same error rate, errors independent: p < 0.05 in about 5 % of 300 test sets
    rng = np.random.default_rng(2)
    truth = np.repeat(np.arange(4), 40)
    rejected = 0
    for _ in range(300):
        a, b = (np.where(rng.random(160) < 0.7, truth, (truth + 1) % 4) for _ in range(2))
        comparison = paired_tests.paired_test("macro_f1", [single(truth, a, 4)], [single(truth, b, 4)], resamples=400)
        rejected += comparison.p < 0.05
    assert 0.02 <= rejected / 300 <= 0.09


def test_paired_test_finds_a_real_gap_and_uses_mcnemar_for_one_seed_accuracy():
    truth = np.repeat(np.arange(2), 50)
    better = truth.copy()
    worse = truth.copy()
    worse[:30] = 1 - worse[:30]  # 30 clips only the better run gets right
    result = paired_tests.paired_test("accuracy", [single(truth, worse, 2)], [single(truth, better, 2)])
    assert result.test == "exact McNemar" and result.p == pytest.approx(2 / 2 ** 30)
    assert result.difference == pytest.approx(0.3) and result.low > 0 and result.n_clips == 100
    same = paired_tests.paired_test("accuracy", [single(truth, worse, 2)], [single(truth, worse, 2)])
    assert same.p == 1.0 and same.difference == 0
    seeds = paired_tests.paired_test("accuracy", [single(truth, worse, 2, seed=s) for s in (0, 1)],
                              [single(truth, better, 2, seed=s) for s in (0, 1)])
    assert seeds.test == "paired bootstrap" and seeds.p < 0.01  # several seeds: clips are not independent trials


def test_paired_test_aligns_clip_order_and_refuses_other_clips():
    truth = np.array([0, 1, 0, 1])
    a = single(truth, truth, 2)
    shuffled = Unit("1", 0, ["c3", "c2", "c1", "c0"], truth[::-1], truth[::-1], 2)
    assert paired_tests.paired_test("accuracy", [a], [shuffled]).p == 1.0
    other = Unit("1", 0, ["x0", "x1", "x2", "x3"], truth, truth, 2)
    result = paired_tests.paired_test("accuracy", [a], [other])
    assert result.p is None and result.why == "different test clips"


def test_bootstrap_is_reproducible_and_undefined_metrics_stay_nan():
    truth = np.repeat([0, 1, 2], 10)
    unit = single(truth, np.roll(truth, 1), 3)
    first, second = (stats.bootstrap("macro_f1", [[unit]], resamples=300) for _ in range(2))
    assert np.array_equal(first, second)
    assert math.isnan(stats.interval(np.full(10, np.nan))[0])
