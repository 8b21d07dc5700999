"""What a multi-label evaluation chose on its validation split, written beside its records for ``predict``:

- ``multi_label_scoring.json`` (:class:`ScoringChoice`): the scoring method kept, each method's best
  cross-fitted validation micro-F1 and every rule's figure per method;
- ``thresholds.json`` (:class:`Thresholds`): ``{label: threshold}``, the labels at or above it are predicted;
- ``calibration.json`` (:class:`Calibration`): ``{label: [a, b]}``, the Platt scaling applied before the
  thresholds (only when the chosen rule calibrates);
- ``<method>_decision.json`` (:class:`DecisionFile`): the rule and every rule's cross-fitted micro-F1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..core import io


@dataclass
class ScoringChoice:
    """``multi_label_scoring.json``: ``method`` kept, ``validation_micro_f1: {method: F1}``, ``rules: {method:
    {rule: F1}}`` (both empty when there was nothing to choose between)."""

    method: str
    validation_micro_f1: dict[str, float] = field(default_factory=dict)
    rules: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"validation_micro_f1": self.validation_micro_f1, "rules": self.rules, "method": self.method}

    def to_file(self, path: str | Path) -> None:
        io.write_json(path, self.to_json())

    @classmethod
    def from_json(cls, content: dict) -> ScoringChoice:
        return cls(content.get("method", "item_path"), content.get("validation_micro_f1") or {}, content.get("rules") or {})

    @classmethod
    def from_file(cls, path: str | Path) -> ScoringChoice:
        return cls.from_json(io.read_json(path))


@dataclass
class Thresholds:
    """``thresholds.json``: one threshold per label."""

    by_label: dict[str, float]

    @classmethod
    def of(cls, classes: Sequence[str], thresholds: Sequence[float]) -> Thresholds:
        return cls({c: float(t) for c, t in zip(classes, thresholds)})

    def to_file(self, path: str | Path) -> None:
        io.write_json(path, self.by_label)

    @classmethod
    def from_file(cls, path: str | Path) -> Thresholds:
        return cls({label: float(t) for label, t in io.read_json(path).items()})


@dataclass
class Calibration:
    """``calibration.json``: Platt parameters ``[a, b]`` per label."""

    by_label: dict[str, list[float]]

    @classmethod
    def of(cls, classes: Sequence[str], parameters: np.ndarray) -> Calibration:
        """``parameters: (n_classes, 2)``."""
        return cls({c: [float(v) for v in ab] for c, ab in zip(classes, parameters)})

    def matrix(self, classes: Sequence[str]) -> np.ndarray:
        """``(n_classes, 2)`` parameters in the order of ``classes``."""
        return np.array([self.by_label[c] for c in classes])

    def to_file(self, path: str | Path) -> None:
        io.write_json(path, self.by_label)

    @classmethod
    def from_file(cls, path: str | Path) -> Calibration:
        return cls({label: [float(v) for v in ab] for label, ab in io.read_json(path).items()})


@dataclass
class DecisionFile:
    """``<method>_decision.json``: the decision rule chosen and every rule's cross-fitted micro-F1."""

    rule: str
    cross_fitted_micro_f1: dict[str, float]

    def to_file(self, path: str | Path) -> None:
        io.write_json(path, {"rule": self.rule, "cross_fitted_micro_f1": self.cross_fitted_micro_f1})

    @classmethod
    def from_file(cls, path: str | Path) -> DecisionFile:
        content = io.read_json(path)
        return cls(content["rule"], content["cross_fitted_micro_f1"])
