"""The reference rows' own settings chosen on the validation split, as the LLM's recipe is: the logistic
regression's ``C`` (the log-mel baseline and the linear probes) and the kNN probe's ``k``.

The rule, fixed before any run: fit on the training split with every value of the setting's grid, score the
validation split by the task's headline (accuracy; mAP for multi-label, which needs no threshold), keep the value
with the best figure; a tie goes to the earlier value in the grid, which lists the simpler model first (the
stronger regularisation, the wider vote). The row's predictions are those of the model fitted on the training split
with that value (no refit on training + validation), so the test split is read once, by the chosen model, and
never enters the choice. Without a validation split (or without a class whose mAP is defined) the default is kept,
and the choice says so. The choice and every value's validation figure go into the rows' ``choices``.

>>> choice = choose("k", (3, 1), 1, lambda k: np.eye(2)[[0, 1] if k == 1 else [0, 0]], [("a",), ("b",)],
...                 "single_label", ["a", "b"])
>>> choice.value, choice.choices()["k_validation"]
(1, {'3': 0.5, '1': 1.0})
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .metrics import HEADLINE, label_matrix, multi_label_metrics

C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)  # logistic regression's inverse regularisation, strongest first
K_GRID = (20, 10, 5, 3, 1)  # kNN neighbours, the widest vote first


@dataclass(frozen=True)
class GridChoice:
    """A reference row's setting chosen on validation: ``setting`` ("C" or "k"), the ``value`` kept, ``validation``
    (each grid value, as text, -> its validation figure, None where undefined; empty when the default was kept) and
    the ``metric``."""

    setting: str
    value: float | int
    validation: dict[str, float]
    metric: str

    def choices(self) -> dict:
        """What a record's ``choices`` holds: ``{"C": 1.0, "C_validation": {"0.01": 0.62, ...}, "C_chosen_by":
        "validation accuracy"}`` (``"default: no validation split"`` when nothing was compared)."""
        reason = f"validation {self.metric}" if self.validation else "default: no validation split"
        return {self.setting: self.value, f"{self.setting}_validation": dict(self.validation),
                f"{self.setting}_chosen_by": reason}


def validation_figure(task: str, classes: Sequence[str], labels: Sequence[Sequence[str]], probabilities: np.ndarray) -> float:
    """The task's headline on validation: accuracy of the most probable class (a label outside ``classes`` counts
    wrong), or mAP for multi-label (nan when no class has a positive). ``probabilities: (n, n_classes)``."""
    if task == "multi_label":
        truth = label_matrix(labels, classes)
        return multi_label_metrics(truth, probabilities, (probabilities >= 0.5).astype(int))["map"]
    index = {c: i for i, c in enumerate(classes)}
    truth = np.array([index.get(l[0], -1) if l else -1 for l in labels])
    return float(np.mean(np.asarray(probabilities).argmax(1) == truth))


def choose(setting: str, grid: Sequence, default, predict: Callable[[object], np.ndarray], labels: Sequence[Sequence[str]],
           task: str, classes: Sequence[str]) -> GridChoice:
    """The value of ``grid`` whose ``predict(value) -> (n_validation, n_classes)`` probabilities score best against the
    validation ``labels`` (the module's rule); ``default`` when ``labels`` is empty or no figure is defined."""
    metric = HEADLINE.get(task, "accuracy")
    if not labels:
        return GridChoice(setting, default, {}, metric)
    figures = {value: validation_figure(task, classes, labels, predict(value)) for value in grid}
    defined = {value: figure for value, figure in figures.items() if not math.isnan(figure)}
    if not defined:
        return GridChoice(setting, default, {}, metric)
    best = max(defined.values())
    chosen = next(value for value in grid if defined.get(value) == best)  # ties: the earlier, simpler value
    return GridChoice(setting, chosen, {f"{value:g}": None if math.isnan(figure) else round(float(figure), 6)
                                           for value, figure in figures.items()}, metric)
