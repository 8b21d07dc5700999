"""Statistics that make a comparison citable: bootstrap intervals over the units of a run (the paired tests and
Holm's correction are in ``paired_tests``, the calibration of label scoring in ``calibration``).

Everything works on *units*: one evaluated (fold, training seed) of a run, its per-clip arrays in a :class:`Unit`.
A run's figure is the mean of its units' metric, as in the report's mean over folds and seeds.

- :func:`bootstrap`: replicates of that mean. A replicate draws every fold's test clips with replacement
  (stratified by the true class for single-label tasks; whole clips for multi-label ones; for question answering
  the audio clips, each with all its questions, ``Unit.groups``), the same draw for every
  seed of the fold and for every run on it (so two runs' replicates are paired), recomputes each unit's metric on
  the drawn clips and averages over units. ``RESAMPLES`` replicates; the draws of a fold come from a generator
  seeded by ``SEED`` and the fold's name, so a report is reproducible to the last digit.
- :func:`interval`: the percentile interval of the replicates (95 %).
- :func:`align`: the units of several runs with every fold's clips in one order, so their replicates pair.

A drawn sample is represented by multiplicities: ``W: (replicates, n_clips)``, how often each clip was drawn, so
every metric of a batch of replicates is a few matrix products (mAP: a weighted cumulative sum over each class's
fixed score order). On ``W = 1`` the metric functions give the values ``metrics`` records (tested).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np

RESAMPLES = 1000
SEED = 0
LEVEL = 0.95
CHUNK = 100  # replicates drawn and evaluated at a time (memory: CHUNK x clips of a fold)


@dataclass
class Unit:
    """One (fold, seed) of a run on one split: per-clip arrays in the order of ``ids``.

    ``truth, predicted``: single-label ``(n,) int`` class indices (``predicted`` is ``n_classes`` for an answer
    outside the classes); multi-label ``(n, C) {0, 1}``. ``scores: (n, C)`` probabilities when the run scored
    labels, None for generation. Question answering: ``groups: (n,) int`` the audio clip each question is asked
    of (its questions are resampled together) and ``yes_no: (n,) bool`` the questions whose answer is yes or no."""

    fold: str | None
    seed: int
    ids: list[str]
    truth: np.ndarray
    predicted: np.ndarray
    n_classes: int
    scores: np.ndarray | None = None
    groups: np.ndarray | None = None
    yes_no: np.ndarray | None = None

    @property
    def multi_label(self) -> bool:
        return self.truth.ndim == 2

    @property
    def correct(self) -> np.ndarray:
        """``(n,) bool``: the clip's prediction is right (the whole label set, for multi-label)."""
        if self.multi_label:
            return np.all(self.truth == self.predicted, axis=1)
        return self.truth == self.predicted

    def one_hot(self) -> tuple[np.ndarray, np.ndarray]:
        """``(truth, predicted)`` as ``(n, C) bool`` (an answer outside the classes is an empty row)."""
        if self.multi_label:
            return self.truth.astype(bool), self.predicted.astype(bool)
        eye = np.eye(self.n_classes + 1, dtype=bool)[:, : self.n_classes]
        return eye[self.truth], eye[self.predicted]


# --- metrics of weighted samples: W (r, n) multiplicities -> (r,) values ------------------------------------------

def accuracy(unit: Unit, weights: np.ndarray) -> np.ndarray:
    """Share of correct clips (exact match of the label set for multi-label)."""
    return weights @ unit.correct.astype(float) / weights.sum(1)


def _subset_accuracy(unit: Unit, weights: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Accuracy on the clips where ``keep: (n,) bool``; nan in a replicate that drew none of them."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return weights @ (unit.correct & keep).astype(float) / (weights @ keep.astype(float))


def yes_no_accuracy(unit: Unit, weights: np.ndarray) -> np.ndarray:
    """Question answering: accuracy on the questions whose answer is yes or no (``metrics.aqa_metrics``)."""
    return _subset_accuracy(unit, weights, unit.yes_no)


def open_accuracy(unit: Unit, weights: np.ndarray) -> np.ndarray:
    """Question answering: accuracy on the other (open, one-word) questions."""
    return _subset_accuracy(unit, weights, ~unit.yes_no)


def macro_f1(unit: Unit, weights: np.ndarray) -> np.ndarray:
    """Mean F1 over the classes that occur (in truth or prediction) in the sample, as ``metrics``."""
    truth, predicted = unit.one_hot()
    tp, fp, fn = (weights @ m.astype(float) for m in (truth & predicted, ~truth & predicted, truth & ~predicted))
    present = weights @ (truth | predicted).astype(float) > 0
    f1 = 2 * tp / np.maximum(2 * tp + fp + fn, 1e-12)
    with np.errstate(invalid="ignore"):
        return (f1 * present).sum(1) / present.sum(1)  # nan where no class occurs


def micro_f1(unit: Unit, weights: np.ndarray) -> np.ndarray:
    truth, predicted = unit.one_hot()
    tp, fp, fn = (weights @ m.sum(1).astype(float) for m in (truth & predicted, ~truth & predicted, truth & ~predicted))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan)


def mean_average_precision(unit: Unit, weights: np.ndarray) -> np.ndarray:
    """Mean over classes with a positive in the sample of sklearn's average precision (tied scores grouped; a clip
    drawn k times counts k times, as the same clip k times in the sample would).

    AP only changes at the scores of positives: with a class's distinct positive scores t_1 > t_2 > ... as
    thresholds, AP = sum_k (TP_k - TP_(k-1)) / P * TP_k / N_k, where TP_k and N_k are the drawn positives and the
    drawn clips scoring at least t_k. Each clip falls in the band of the first threshold it reaches, so TP_k and N_k
    are cumulative sums of per-band weight totals, and the band totals of every class and replicate are two products
    of ``weights`` with sparse band-membership matrices (``_bands``)."""
    bands, starts = _bands(unit)
    drawn = np.asarray(weights, dtype=float)
    positives = (bands[1] @ drawn.T).T  # (r, bands): drawn positives per band
    everything = (bands[0] @ drawn.T).T  # (r, bands): drawn clips per band
    tp = _cumsum_within(positives, starts)
    seen = _cumsum_within(everything, starts)
    totals = tp[:, np.r_[starts[1:], tp.shape[1]] - 1] if tp.shape[1] else np.zeros((len(drawn), 0))  # (r, classes)
    gained = positives  # TP_k - TP_(k-1) is the band's own positives
    with np.errstate(invalid="ignore", divide="ignore"):
        terms = np.where(seen > 0, gained * tp / seen, 0.0)
        per_class = np.add.reduceat(terms, starts, axis=1) / totals if tp.shape[1] else totals
    with np.errstate(invalid="ignore"):
        return np.nanmean(np.where(totals > 0, per_class, np.nan), axis=1) if per_class.shape[1] else np.full(len(drawn), np.nan)


def _bands(unit: Unit):
    """Sparse ``(bands, clips)`` membership of every class's threshold bands (all clips, and positives only) and
    each class's first band; cached on the unit."""
    cached = getattr(unit, "_band_cache", None)
    if cached is not None:
        return cached
    from scipy.sparse import csr_matrix

    truth, scores = unit.truth.astype(bool), np.asarray(unit.scores, dtype=float)
    rows_all, cols_all, rows_pos, cols_pos, starts = [], [], [], [], []
    offset = 0
    for c in range(truth.shape[1]):
        levels = np.unique(scores[truth[:, c], c])  # ascending distinct positive scores
        if not levels.size:
            continue
        band = levels.size - np.searchsorted(levels, scores[:, c], side="right")  # 0: reaches the top threshold
        kept = band < levels.size  # below the lowest positive score: never counted
        starts.append(offset)
        clips = np.flatnonzero(kept)
        rows_all.append(offset + band[clips])
        cols_all.append(clips)
        positive = np.flatnonzero(truth[:, c])
        rows_pos.append(offset + band[positive])
        cols_pos.append(positive)
        offset += levels.size
    n = len(unit.ids)

    def membership(rows, cols):
        rows = np.concatenate(rows) if rows else np.zeros(0, int)
        cols = np.concatenate(cols) if cols else np.zeros(0, int)
        return csr_matrix((np.ones(rows.size), (rows, cols)), shape=(offset, n))

    unit._band_cache = ((membership(rows_all, cols_all), membership(rows_pos, cols_pos)), np.array(starts, dtype=int))
    return unit._band_cache


def _cumsum_within(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Cumulative sums along axis 1 restarting at every index in ``starts``."""
    total = np.cumsum(values, axis=1)
    if not starts.size:
        return total
    offsets = np.where(starts > 0, total[:, np.maximum(starts - 1, 0)], 0.0)  # (r, classes): the sum before each class
    lengths = np.diff(np.r_[starts, values.shape[1]])
    before = np.repeat(offsets, lengths, axis=1)
    return total - before


METRIC_FUNCTIONS: dict[str, Callable[[Unit, np.ndarray], np.ndarray]] = {
    "accuracy": accuracy, "exact_match": accuracy, "macro_f1": macro_f1, "micro_f1": micro_f1,
    "map": mean_average_precision, "yes_no_accuracy": yes_no_accuracy, "open_accuracy": open_accuracy,
}


def supported(metric: str, units: Sequence[Unit]) -> bool:
    """Whether ``metric`` can be recomputed from the units' arrays (mAP needs multi-label scores)."""
    if metric not in METRIC_FUNCTIONS or not units:
        return False
    if metric in ("yes_no_accuracy", "open_accuracy"):
        return all(u.yes_no is not None for u in units)
    return metric != "map" or all(u.scores is not None and u.multi_label for u in units)


def value(metric: str, units: Sequence[Unit]) -> float:
    """The mean over ``units`` of ``metric`` on all their clips (what the report's mean shows)."""
    values = [METRIC_FUNCTIONS[metric](u, np.ones((1, len(u.ids))))[0] for u in units]
    return float(np.nanmean(values)) if not np.all(np.isnan(values)) else math.nan


# --- resampling ----------------------------------------------------------------------------------------------------

def _draws(unit: Unit, resamples: int, seed: int, key: str) -> Iterator[np.ndarray]:
    """Multiplicity matrices ``(CHUNK or fewer, n)`` of ``resamples`` draws of ``unit``'s clips, chunk by chunk
    (grouped clips: each group drawn whole, its clips weighted by how often it was drawn)."""
    rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
    if unit.groups is not None:
        yield from _group_draws(unit.groups, resamples, rng)
        return
    n = len(unit.ids)
    strata = [np.arange(n)] if unit.multi_label else [np.flatnonzero(unit.truth == c) for c in np.unique(unit.truth)]
    for start in range(0, resamples, CHUNK):
        size = min(CHUNK, resamples - start)
        drawn = np.concatenate([members[rng.integers(0, members.size, (size, members.size))] for members in strata], axis=1)
        flat = (np.arange(size)[:, None] * n + drawn).ravel()
        yield np.bincount(flat, minlength=size * n).reshape(size, n).astype(float)


def _group_draws(groups: np.ndarray, resamples: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """``groups: (n,) int`` in ``[0, G)`` -> multiplicities of the clips when the G groups are drawn with
    replacement (a cluster bootstrap: the clips of one group rise and fall together)."""
    count = int(groups.max()) + 1 if groups.size else 0
    for start in range(0, resamples, CHUNK):
        size = min(CHUNK, resamples - start)
        drawn = rng.integers(0, count, (size, count))
        flat = (np.arange(size)[:, None] * count + drawn).ravel()
        yield np.bincount(flat, minlength=size * count).reshape(size, count)[:, groups].astype(float)


def group_codes(names: Sequence[str]) -> np.ndarray:
    """``(n,) int``: each name's group as an integer, in order of first appearance."""
    index: dict[str, int] = {}
    return np.array([index.setdefault(name, len(index)) for name in names], dtype=int)


def by_fold(units: Sequence[Unit]) -> dict[str | None, list[Unit]]:
    folds: dict[str | None, list[Unit]] = {}
    for unit in units:
        folds.setdefault(unit.fold, []).append(unit)
    return folds


def bootstrap(metric: str, runs: Sequence[Sequence[Unit]], resamples: int = RESAMPLES, seed: int = SEED,
              key: str = "") -> np.ndarray:
    """``(len(runs), resamples)`` replicates of each run's mean ``metric`` over its units, every run on the same
    draws of each fold's clips (the units of one fold must hold the same clips in the same order: see
    ``align``). ``key`` (the dataset) and the fold name seed each fold's draws."""
    folds = by_fold([u for units in runs for u in units])
    sums = np.zeros((len(runs), resamples))
    counts = np.zeros((len(runs), resamples))
    function = METRIC_FUNCTIONS[metric]
    for fold, members in folds.items():
        start = 0
        for weights in _draws(members[0], resamples, seed, f"{key}/{fold}"):
            rows = slice(start, start + len(weights))
            for r, units in enumerate(runs):
                for unit in (u for u in units if u.fold == fold):
                    values = function(unit, weights)
                    sums[r, rows] += np.nan_to_num(values)
                    counts[r, rows] += ~np.isnan(values)
            start += len(weights)
    with np.errstate(invalid="ignore"):
        return sums / counts


def interval(replicates: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """Percentile interval of bootstrap replicates (replicates where the metric is undefined left out)."""
    replicates = replicates[~np.isnan(replicates)]
    if not replicates.size:
        return math.nan, math.nan
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(replicates, [tail, 100 - tail])
    return float(low), float(high)


def align(runs: Sequence[Sequence[Unit]]) -> list[list[Unit]] | None:
    """The runs' units with every fold's clips in one order (the first unit's), or None when two units of a fold
    hold different clips (then the runs cannot be paired)."""
    order: dict[str | None, list[str]] = {}
    for units in runs:
        for unit in units:
            order.setdefault(unit.fold, unit.ids)
            if set(unit.ids) != set(order[unit.fold]) or len(unit.ids) != len(order[unit.fold]):
                return None
    return [[_reordered(u, order[u.fold]) for u in units] for units in runs]


def _reordered(unit: Unit, ids: list[str]) -> Unit:
    if unit.ids == ids:
        return unit
    position = {clip: i for i, clip in enumerate(unit.ids)}
    index = np.array([position[clip] for clip in ids])
    return Unit(unit.fold, unit.seed, list(ids), unit.truth[index], unit.predicted[index], unit.n_classes,
                None if unit.scores is None else unit.scores[index], None if unit.groups is None else unit.groups[index],
                None if unit.yes_no is None else unit.yes_no[index])
