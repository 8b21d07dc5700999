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

from .audio import load_audio
from .data.manifest import Clip
from .errors import AudioError
from .features import log_mel

METHOD = "baseline_logmel_logreg"


def clip_features(clip: Clip, max_seconds: float | None = None) -> np.ndarray | None:
    """``(2 * n_mels,)``: mean and std over time of the clip's log-mel frames; None if the audio is unusable."""
    try:
        frames = log_mel(load_audio(clip.path, max_seconds=max_seconds)).numpy()
    except AudioError:
        return None
    return np.concatenate([frames.mean(0), frames.std(0)])


def fit_predict(task: str, classes: Sequence[str], train: dict[str, np.ndarray], train_labels: dict[str, Sequence[str]],
                evaluate: dict[str, np.ndarray], seed: int = 0) -> np.ndarray:
    """Fit on ``train`` (id -> features) and return ``(len(evaluate), n_classes)`` probabilities in
    ``evaluate``'s order and ``classes``' order."""
    index = {c: i for i, c in enumerate(classes)}
    x_train = np.stack(list(train.values()))
    x_eval = np.stack(list(evaluate.values()))
    regression = LogisticRegression(max_iter=3000, C=1.0, random_state=seed)
    if task == "multi_label":
        y = np.zeros((len(train), len(classes)), dtype=int)
        for row, clip_id in enumerate(train):
            y[row, [index[l] for l in train_labels[clip_id]]] = 1
        model = make_pipeline(StandardScaler(), OneVsRestClassifier(regression)).fit(x_train, y)
        return model.predict_proba(x_eval)
    y = np.array([index[train_labels[i][0]] for i in train])
    model = make_pipeline(StandardScaler(), regression).fit(x_train, y)
    probabilities = np.zeros((len(x_eval), len(classes)))
    probabilities[:, model.classes_] = model.predict_proba(x_eval)
    return probabilities
