"""Multi-label decisions: per-label probabilities -> a label set, by a rule fitted on the validation split.

- ``per_label``: a threshold per label that maximises that label's validation F1 (``metrics.tune_thresholds``).
- ``calibrated_global``: each label's scores calibrated by Platt scaling (a logistic regression on the score's
  logit, fitted on validation), then ONE threshold for all labels that maximises the pooled validation micro-F1.
  Two parameters per label and one threshold instead of a threshold per label tuned on a handful of positives.

Which rule (and, for the LLM, which scoring method) a run uses is chosen by *cross-fitted* validation micro-F1
(:func:`cross_fitted_micro_f1`): the rule is fitted on four fifths of the validation clips and applied to the
fifth left out, five times; choosing by the F1 on the very clips a rule was fitted to would favour the rule with
the most parameters. The chosen rule is then fitted on the whole validation split and applied to the test split.
The same procedure serves every row of a report (the LLM, its probes and the log-mel reference row).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from .metrics import _best_threshold, apply_thresholds, tune_thresholds

RULES = ("per_label", "calibrated_global")
FOLDS = 5
EPSILON = 1e-6


@dataclass
class Decision:
    """A fitted rule: ``calibration`` ``(C, 2)`` Platt slope and intercept per label on the score's logit (None:
    scores used as they are) and the thresholds ``(C,)`` applied to the (calibrated) scores with ``>=``."""

    rule: str
    thresholds: np.ndarray
    calibration: np.ndarray | None = None
    cross_fitted_f1: dict[str, float] = field(default_factory=dict)

    def calibrate(self, scores: np.ndarray) -> np.ndarray:
        return scores if self.calibration is None else platt_apply(scores, self.calibration)

    def predict(self, scores: np.ndarray) -> np.ndarray:
        """``(n, C) int`` label decisions for raw ``scores``."""
        return apply_thresholds(self.calibrate(scores), self.thresholds)


def logit(scores: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(scores, dtype=float), EPSILON, 1 - EPSILON)
    return np.log(p / (1 - p))


def platt_fit(truth: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """``(C, 2)``: per label, the slope and intercept of a logistic regression of the truth on the score's logit
    (L2, C=1); a label without both classes among the clips keeps its scores (slope 1, intercept 0)."""
    params = np.tile([1.0, 0.0], (truth.shape[1], 1))
    x = logit(scores)
    for c in range(truth.shape[1]):
        if 0 < truth[:, c].sum() < len(truth):
            model = LogisticRegression(C=1.0).fit(x[:, c:c + 1], truth[:, c])
            params[c] = model.coef_[0, 0], model.intercept_[0]
    return params


def platt_apply(scores: np.ndarray, params: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(logit(scores) * params[:, 0] + params[:, 1])))


def fit(rule: str, truth: np.ndarray, scores: np.ndarray) -> Decision:
    """Fit ``rule`` on validation ``truth: (n, C) {0, 1}`` and ``scores: (n, C)``."""
    if rule == "per_label":
        return Decision(rule, tune_thresholds(truth, scores))
    if rule == "calibrated_global":
        params = platt_fit(truth, scores)
        calibrated = platt_apply(scores, params)
        return Decision(rule, np.full(truth.shape[1], _best_threshold(truth.ravel(), calibrated.ravel())), params)
    raise ValueError(f"unknown decision rule {rule!r}; one of {', '.join(RULES)}")


def cross_fitted_micro_f1(rule: str, truth: np.ndarray, scores: np.ndarray, folds: int = FOLDS) -> float:
    """Micro-F1 of ``rule`` on clips it was not fitted to: fitted on all validation folds but one, applied to that
    one, for every fold (clips dealt to folds in order, so the result is deterministic)."""
    if len(truth) < 2 * folds:
        folds = max(2, len(truth) // 2)
    assignment = np.arange(len(truth)) % folds
    predicted = np.zeros_like(truth)
    for k in range(folds):
        held = assignment == k
        predicted[held] = fit(rule, truth[~held], scores[~held]).predict(scores[held])
    return float(f1_score(truth, predicted, average="micro", zero_division=0))


def choose(truth: np.ndarray, scores: np.ndarray, rules: tuple[str, ...] = RULES) -> Decision:
    """The rule with the best cross-fitted validation micro-F1 (ties: the first in ``rules``), fitted on all of
    validation; ``cross_fitted_f1`` holds every rule's figure."""
    figures = {rule: cross_fitted_micro_f1(rule, truth, scores) for rule in rules}
    best = max(rules, key=lambda rule: (figures[rule], -rules.index(rule)))
    decision = fit(best, truth, scores)
    decision.cross_fitted_f1 = figures
    return decision
