"""The top-label calibration of label-scoring probabilities: a reliability table over ``BINS`` equal-width
confidence bins and the expected calibration error (ECE)::

    >>> probabilities = np.array([[0.75, 0.25], [0.75, 0.25], [0.25, 0.75], [0.25, 0.75]])
    >>> truth = np.array([0, 1, 1, 0])  # the top label is right on half the clips, at confidence 0.75
    >>> [(row["count"], row["confidence"], row["accuracy"]) for row in reliability(probabilities, truth, bins=2)]
    [(4, 0.75, 0.5)]
    >>> expected_calibration_error(probabilities, truth, bins=2)
    0.25
"""

from __future__ import annotations

import math

import numpy as np

BINS = 15


def reliability(probabilities: np.ndarray, truth: np.ndarray, bins: int = BINS) -> list[dict]:
    """Per confidence bin (equal width over [0, 1], right-closed) of the top label: ``{"low", "high", "count",
    "confidence", "accuracy"}``, empty bins left out. ``probabilities: (n, C)``, ``truth: (n,) int``."""
    probabilities, truth = np.asarray(probabilities, float), np.asarray(truth)
    confidence, correct = probabilities.max(1), probabilities.argmax(1) == truth
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    rows = []
    for b in range(bins):
        members = which == b
        if members.any():
            rows.append({"low": float(edges[b]), "high": float(edges[b + 1]), "count": int(members.sum()),
                         "confidence": float(confidence[members].mean()), "accuracy": float(correct[members].mean())})
    return rows


def expected_calibration_error(probabilities: np.ndarray, truth: np.ndarray, bins: int = BINS) -> float:
    """ECE: the clip-weighted mean over confidence bins of |accuracy - mean confidence| of the top label."""
    rows = reliability(probabilities, truth, bins)
    n = sum(r["count"] for r in rows)
    return float(sum(r["count"] * abs(r["accuracy"] - r["confidence"]) for r in rows) / n) if n else math.nan
