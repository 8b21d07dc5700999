"""``<run>/model/train_done.json``: the done-marker of a trained model, with what training did and chose.

A done-marker (``core.finished.mark_done``) lists the model's files with sizes and checksums; this one also
records the recipe (``config``), the whole-run training loss, the steps, the time, the parameter and example
counts, the step it resumed from, and the epoch selection: ``selected_by`` ("loss" or "metric"), ``patience``,
``stopped_early``, the best epoch with its validation loss and metric, and every epoch's figures
(``validation``). Markers written before a field existed read with its default.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Iterable

from ..core import io
from ..core.finished import mark_done


@dataclass
class TrainDone:
    """What ``train_done.json`` records besides its file list (``files``: name -> size and checksum)."""

    config: dict = field(default_factory=dict)
    train_loss: float | None = None
    steps: int | None = None
    seconds: float | None = None
    trainable_parameters: int | None = None
    parameters: int | None = None
    train_examples: int | None = None
    validation_examples: int | None = None
    resumed_from_step: int | None = None
    selected_by: str = "loss"
    patience: int | None = None
    stopped_early: bool = False
    best_epoch: int | None = None
    best_validation_loss: float | None = None
    best_validation_metric: float | None = None
    validation: list[dict] = field(default_factory=list)
    files: dict[str, dict] = field(default_factory=dict)

    def to_file(self, path: str | Path, files: Iterable[str | Path]) -> None:
        """Write the marker over ``files`` (their sizes and checksums are taken now)."""
        mark_done(path, files, **{k: v for k, v in asdict(self).items() if k != "files"})

    @classmethod
    def from_file(cls, path: str | Path) -> TrainDone:
        content = io.read_json(path)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in content.items() if k in known})

    def seconds_per_epoch(self) -> float | None:
        """Training time per epoch (each epoch's validation pass included): the seconds over the epochs run (one
        validation entry each, else the recipe's ``epochs``); None when unknown or when training resumed (its
        seconds cover only the resumed part)."""
        epochs = len(self.validation) if self.validation else self.config.get("epochs")
        if self.seconds is None or not epochs or self.resumed_from_step is not None:
            return None
        return self.seconds / float(epochs)

    def choices(self) -> dict:
        """What training chose on validation, as records keep it: the kept epoch, the epochs evaluated, by what, and
        the kept epoch's validation loss (a recipe grid's tie-break, ``report.selection``)."""
        return {"best_epoch": self.best_epoch, "epochs": len(self.validation or []), "selected_by": self.selected_by,
                "stopped_early": self.stopped_early, "validation_loss": self.best_validation_loss}
