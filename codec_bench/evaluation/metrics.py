"""Metrics as pure functions over arrays: single-label, multi-label, threshold tuning, fold mean ± std.

Every function takes numpy arrays and returns plain floats, so ``records`` and the report can call them
on predictions read back from disk. A metric that is undefined on the given arrays (no class with a positive)
is ``nan``, never a made-up 0 or 1.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from sklearn.metrics import average_precision_score, f1_score, precision_recall_curve
from sklearn.preprocessing import MultiLabelBinarizer


def single_label_metrics(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> dict[str, float]:
    """Accuracy and macro-F1 of one label per clip.

    ``y_true, y_pred: (n,) int`` class indices in ``[0, num_classes)``. Macro-F1 averages over the classes that
    occur in ``y_true`` or ``y_pred``: a class absent from both has no defined F1 and would only pull the mean
    towards 0 (or 1) depending on convention.
    """
    y_true, y_pred = _as_1d_int(y_true, "y_true"), _as_1d_int(y_pred, "y_pred")
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} must be equal and non-empty")
    present = [c for c in range(num_classes) if np.any(y_true == c) or np.any(y_pred == c)]
    macro_f1 = f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)
    return {"accuracy": float(np.mean(y_true == y_pred)), "macro_f1": float(macro_f1)}


def multi_label_metrics(y_true: np.ndarray, y_score: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Micro-F1, macro-F1 and mAP of several labels per clip.

    ``y_true, y_pred: (n, C) {0,1}``, ``y_score: (n, C) float`` (higher = more likely). ``map`` is the mean over
    classes with at least one positive in ``y_true`` of sklearn's per-class average precision (AP is undefined
    without a positive). ``macro_f1`` averages over classes with a positive in ``y_true`` or ``y_pred``.
    """
    y_true, y_pred = np.asarray(y_true).astype(int), np.asarray(y_pred).astype(int)
    y_score = np.asarray(y_score, dtype=float)
    if y_true.ndim != 2 or y_true.shape != y_score.shape or y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape}, y_score {y_score.shape}, y_pred {y_pred.shape} must be equal (n, C)")
    has_true = y_true.any(axis=0)
    f1_classes = has_true | y_pred.any(axis=0)
    micro_f1 = f1_score(y_true, y_pred, average="micro", zero_division=0) if f1_classes.any() else math.nan
    macro_f1 = (
        f1_score(y_true[:, f1_classes], y_pred[:, f1_classes], average="macro", zero_division=0)
        if f1_classes.any()
        else math.nan
    )
    aps = [average_precision_score(y_true[:, c], y_score[:, c]) for c in np.flatnonzero(has_true)]
    return {"micro_f1": float(micro_f1), "macro_f1": float(macro_f1), "map": float(np.mean(aps)) if aps else math.nan}


def tune_thresholds(y_true: np.ndarray, y_score: np.ndarray) -> np.ndarray:
    """Per-class decision thresholds that maximise F1 on validation arrays; apply with ``y_score >= threshold``.

    ``y_true: (n, C) {0,1}``, ``y_score: (n, C) float`` -> ``(C,) float``. The threshold is the midpoint between
    the lowest score kept positive and the next lower score, so it does not sit exactly on a validation score
    (test scores near it are not decided by float ties). A class with no positive gets 0.5. Ties in F1 go to
    the lowest threshold (higher recall).
    """
    y_true, y_score = np.asarray(y_true).astype(int), np.asarray(y_score, dtype=float)
    if y_true.ndim != 2 or y_true.shape != y_score.shape:
        raise ValueError(f"y_true {y_true.shape} and y_score {y_score.shape} must be equal (n, C)")
    return np.array([_best_threshold(y_true[:, c], y_score[:, c]) for c in range(y_true.shape[1])], dtype=float)


def _best_threshold(truth: np.ndarray, score: np.ndarray) -> float:
    """``truth, score: (n,)`` -> the F1-maximising threshold for one class (0.5 without a positive)."""
    if not truth.any():
        return 0.5
    precision, recall, thresholds = precision_recall_curve(truth, score)
    f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
    best = thresholds[int(np.argmax(f1))]
    below = score[score < best]
    return float((best + below.max()) / 2) if below.size else float(best)


def apply_thresholds(y_score: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """``y_score: (n, C) float``, ``thresholds: (C,)`` -> ``(n, C) int`` predictions, the ``>=`` rule of tuning."""
    return (np.asarray(y_score) >= np.asarray(thresholds)[None, :]).astype(int)


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and *sample* standard deviation (ddof=1) over folds; std is 0.0 for a single value.

    The sample std is the usual choice when reporting a spread over a few CV folds (5 folds of 0.8, 0.9, 1.0
    style). Empty input raises ``ValueError``.
    """
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        raise ValueError("mean_std needs at least one value")
    std = float(np.std(array, ddof=1)) if array.size > 1 else 0.0
    return float(np.mean(array)), std


def label_matrix(label_sets: Sequence[Sequence[str]], classes: Sequence[str]) -> np.ndarray:
    """``(n, C) int`` 0/1 matrix of ``label_sets`` over ``classes`` (in that order); labels outside ``classes`` are
    left out."""
    known = set(classes)
    binarizer = MultiLabelBinarizer(classes=list(classes))
    return binarizer.fit_transform([[label for label in labels if label in known] for labels in label_sets]).astype(int)


def _as_1d_int(array: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 1:
        raise ValueError(f"{name} must be (n,), got {array.shape}")
    return array.astype(int)


# The one number per task that tables and the radar plot show; higher is better for all of them.
HEADLINE: dict[str, str] = {"single_label": "accuracy", "multi_label": "map", "aqa": "accuracy"}
YES_NO = ("yes", "no")  # a question answering question whose majority answer is one of these is a yes/no question


def aqa_metrics(truth: list[str], predicted: list[str], annotators: list[list[str]]) -> dict[str, float]:
    """Audio question answering: accuracy against the majority answer on the yes/no questions and on the open
    (one-word) questions, and the share of predictions that match any annotator's answer.

    ``truth``: majority answers; ``predicted``: one answer per question; ``annotators``: every annotator's
    answer per question. A question is yes/no when its majority answer is "yes" or "no". A subset without
    questions is left out rather than reported as 0.
    """
    out: dict[str, float] = {}
    yes_no = [t in YES_NO for t in truth]
    for name, keep in (("yes_no_accuracy", True), ("open_accuracy", False)):
        pairs = [(t, p) for t, p, y in zip(truth, predicted, yes_no) if y == keep]
        if pairs:
            out[name] = float(np.mean([t == p for t, p in pairs]))
    if truth:
        out["any_annotator_accuracy"] = float(np.mean([p in set(a) for p, a in zip(predicted, annotators)]))
    return out

