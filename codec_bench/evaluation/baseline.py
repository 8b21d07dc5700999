"""The reference row: logistic regression on per-clip mean and standard deviation of log-mel frames.

Trained on the same training split as the LLM and evaluated on the same held-out clips. An LLM pipeline that
loses to this row has not learned more than the clip's average spectrum; the report says so where it happens.
Multi-label: one logistic regression per label, thresholds tuned on the validation split. Its ``C`` is chosen on
the validation split (``tuning``), recorded in the rows' ``choices``.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ..codecs.base import ClipEncoder
from ..codecs.features import log_mel
from . import tuning
from .metrics import label_matrix
from .tuning import GridChoice

METHOD = "baseline_logmel_logreg"


class LogMelStats(ClipEncoder):
    """The baseline's per-clip features, cached like a codec's output (not a codec: nothing reads them but this
    row): ``(2 * n_mels, 1) float32``, the mean and std over time of the clip's log-mel frames. Stored in the token
    cache (``CACHE/<dataset>/logmel-stats-*``), so every fold, codec and recipe of a dataset decodes the audio for
    the baseline once."""

    name = "logmel-stats"
    sample_rate_hz = 16_000
    frame_rate_hz = 0.0  # one vector per clip

    def __init__(self, n_mels: int = 64):
        self.n_mels = n_mels

    @property
    def rows(self) -> int:
        return 2 * self.n_mels

    def preprocess(self, wave: np.ndarray) -> np.ndarray:
        frames = log_mel(np.asarray(wave, dtype=np.float32), self.sample_rate_hz, self.n_mels).numpy()
        return np.concatenate([frames.mean(0), frames.std(0)]).astype(np.float32)[:, None]

    def encode_preprocessed(self, items: Sequence[np.ndarray]) -> list[np.ndarray]:
        return list(items)

    def identity(self) -> dict:
        return {"codec": self.name, "version": 1, "n_mels": self.n_mels, "hop": 320, "sample_rate_hz": self.sample_rate_hz}


def fit_predict(task: str, classes: Sequence[str], train: dict[str, np.ndarray], train_labels: dict[str, Sequence[str]],
                evaluate: dict[str, np.ndarray], seed: int = 0, C: float = 1.0) -> np.ndarray:
    """Fit on ``train`` (id -> features) and return ``(len(evaluate), n_classes)`` probabilities in
    ``evaluate``'s order and ``classes``' order."""
    return fit(task, classes, train, train_labels, seed, C)(np.stack(list(evaluate.values())))


def fit(task: str, classes: Sequence[str], train: dict[str, np.ndarray], train_labels: dict[str, Sequence[str]],
        seed: int = 0, C: float = 1.0) -> Callable[[np.ndarray], np.ndarray]:
    """Standardised logistic regression (one per label for multi-label) with inverse regularisation ``C``, fitted on
    ``train`` (id -> features); returns ``x: (n, dim) -> (n, n_classes)`` probabilities in ``classes``' order."""
    index = {c: i for i, c in enumerate(classes)}
    x_train = np.stack(list(train.values()))
    regression = LogisticRegression(max_iter=3000, C=C, random_state=seed)
    if task == "multi_label":
        y = label_matrix([train_labels[clip_id] for clip_id in train], classes)
        model = make_pipeline(StandardScaler(), OneVsRestClassifier(regression)).fit(x_train, y)
        return model.predict_proba
    y = np.array([index[train_labels[i][0]] for i in train])
    model = make_pipeline(StandardScaler(), regression).fit(x_train, y)

    def predict(x: np.ndarray) -> np.ndarray:
        probabilities = np.zeros((len(x), len(classes)))
        probabilities[:, model.classes_] = model.predict_proba(x)
        return probabilities
    return predict


def fit_on_validation(task: str, classes: Sequence[str], train: dict[str, np.ndarray],
                      train_labels: dict[str, Sequence[str]], validation: dict[str, np.ndarray],
                      validation_labels: Sequence[Sequence[str]], seed: int = 0) -> tuple[Callable, GridChoice]:
    """The regression with its ``C`` chosen on the validation split (``tuning.choose`` over ``tuning.C_GRID``,
    default 1.0 without validation clips), fitted on ``train``: ``(predict, choice)``. ``validation``: id -> features,
    in the order of ``validation_labels``."""
    fitted: dict[float, Callable] = {}

    def on_validation(C: float) -> np.ndarray:
        fitted[C] = fit(task, classes, train, train_labels, seed, C)
        return fitted[C](np.stack(list(validation.values())))
    choice = tuning.choose("C", tuning.C_GRID, 1.0, on_validation, list(validation_labels) if validation else [], task, classes)
    return fitted.get(choice.value) or fit(task, classes, train, train_labels, seed, choice.value), choice
