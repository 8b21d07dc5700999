"""The reference row: logistic regression on per-clip mean and standard deviation of log-mel frames.

Trained on the same training split as the LLM and evaluated on the same held-out clips. An LLM pipeline that
loses to this row has not learned more than the clip's average spectrum; the report says so where it happens.
Multi-label: one logistic regression per label, thresholds tuned on the validation split.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ..codecs.base import ClipEncoder
from ..codecs.features import log_mel
from .metrics import label_matrix

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
                evaluate: dict[str, np.ndarray], seed: int = 0) -> np.ndarray:
    """Fit on ``train`` (id -> features) and return ``(len(evaluate), n_classes)`` probabilities in
    ``evaluate``'s order and ``classes``' order."""
    index = {c: i for i, c in enumerate(classes)}
    x_train = np.stack(list(train.values()))
    x_eval = np.stack(list(evaluate.values()))
    regression = LogisticRegression(max_iter=3000, C=1.0, random_state=seed)
    if task == "multi_label":
        y = label_matrix([train_labels[clip_id] for clip_id in train], classes)
        model = make_pipeline(StandardScaler(), OneVsRestClassifier(regression)).fit(x_train, y)
        return model.predict_proba(x_eval)
    y = np.array([index[train_labels[i][0]] for i in train])
    model = make_pipeline(StandardScaler(), regression).fit(x_train, y)
    probabilities = np.zeros((len(x_eval), len(classes)))
    probabilities[:, model.classes_] = model.predict_proba(x_eval)
    return probabilities
