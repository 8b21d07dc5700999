"""Paired tests of two runs on the same clips, and Holm's correction over several of them.

- :func:`mcnemar_exact`: the exact (binomial) McNemar test of two classifiers' correctness on the same clips.
- :func:`paired_bootstrap_p`: a two-sided paired bootstrap test of the difference of the mean metric
  (the bootstrap distribution of the difference, centred on zero, against the observed difference).
- :func:`paired_test`: exact McNemar for accuracy when each run has one seed per fold (clips pooled over
  folds, which hold different clips) and the clips are independent, the paired bootstrap
  (``statistics.bootstrap``) otherwise (several seeds, other metrics, and question answering, whose questions of
  one audio clip are drawn together: McNemar would take them for independent).
- :func:`holm`: Holm-Bonferroni adjusted p-values.

::

    >>> mcnemar_exact([1, 1, 1, 0], [1, 0, 0, 0])  # only A right on 2 clips, only B on none: 2 P(X <= 0), X ~ B(2, 1/2)
    0.5
    >>> holm([0.01, 0.04, 0.03])  # x3, x1, x2, then non-decreasing
    [0.03, 0.06, 0.06]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .statistics import RESAMPLES, SEED, Unit, align, bootstrap, by_fold, interval, supported, value


def mcnemar_exact(correct_a: np.ndarray, correct_b: np.ndarray) -> float:
    """Two-sided exact McNemar p-value: ``b`` clips only A gets right, ``c`` only B; under the null each of the
    ``b + c`` discordant clips goes either way with probability 1/2: ``p = min(1, 2 P(X <= min(b, c)))``,
    ``X ~ Binomial(b + c, 1/2)``; 1.0 without discordant clips."""
    correct_a, correct_b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    b, c = int(np.sum(correct_a & ~correct_b)), int(np.sum(~correct_a & correct_b))
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(b, c) + 1)) / 2 ** n
    return float(min(1.0, 2 * tail))


def paired_bootstrap_p(replicates_a: np.ndarray, replicates_b: np.ndarray, observed: float) -> float:
    """Two-sided p-value of the observed difference B - A from paired replicates: the share of replicate
    differences, centred on zero, at least as far from zero as the observed one (+1 correction)."""
    differences = replicates_b - replicates_a
    differences = differences[~np.isnan(differences)]
    if not differences.size or math.isnan(observed):
        return math.nan
    reached = np.sum(np.abs(differences - differences.mean()) >= abs(observed) - 1e-12)
    return float((reached + 1) / (differences.size + 1))


@dataclass
class Comparison:
    """A paired test of run B against run A on one dataset: the difference of the mean metric (B - A), its 95 %
    interval, the p-value and the test's name; ``p`` is None and ``why`` says why when the runs cannot be paired."""

    difference: float
    low: float = math.nan
    high: float = math.nan
    p: float | None = None
    test: str = ""
    n_clips: int = 0
    why: str = ""


def paired_test(metric: str, units_a: Sequence[Unit], units_b: Sequence[Unit], resamples: int = RESAMPLES,
                seed: int = SEED, key: str = "") -> Comparison:
    """Compare two runs on the same clips: exact McNemar for accuracy when each run has one seed per fold (the
    folds' clips pooled) and the clips are not grouped, the paired bootstrap for every other metric, for several
    seeds and for grouped clips (question answering: the audio clips drawn whole)."""
    if not supported(metric, [*units_a, *units_b]):
        return Comparison(math.nan, why=f"{metric} is not recomputed from these predictions")
    aligned = align([units_a, units_b])
    observed = value(metric, units_b) - value(metric, units_a)
    if aligned is None:
        return Comparison(observed, why="different test clips")
    units_a, units_b = aligned
    n_clips = sum(len(members[0].ids) for members in by_fold(units_a).values())
    replicates = bootstrap(metric, [units_a, units_b], resamples, seed, key)
    low, high = interval(replicates[1] - replicates[0])
    one_seed = all(len(m) == 1 for units in (units_a, units_b) for m in by_fold(units).values())
    grouped = any(u.groups is not None for u in [*units_a, *units_b])
    if metric in ("accuracy", "exact_match") and one_seed and not grouped:
        correct = [np.concatenate([u.correct for u in units]) for units in (units_a, units_b)]
        return Comparison(observed, low, high, mcnemar_exact(*correct), "exact McNemar", n_clips)
    return Comparison(observed, low, high, paired_bootstrap_p(*replicates, observed), "paired bootstrap", n_clips)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order: the k-th smallest of m is multiplied by (m - k + 1),
    then made non-decreasing and capped at 1."""
    order = np.argsort(p_values, kind="stable")
    adjusted = np.empty(len(p_values))
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted.tolist()
