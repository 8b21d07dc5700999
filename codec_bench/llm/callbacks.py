"""Trainer callbacks: the training log and progress line (:class:`TrainLog`), model selection and early stopping
(:class:`Selection`), and the whole run's mean training loss from the Trainer's log history.

Every evaluation becomes one row of :meth:`Selection.epochs`, and the best one is picked on the validation loss or
on a task metric (ties broken by the lower loss)::

    >>> history = [{"step": 2, "epoch": 1.0, "eval_loss": 0.9}, {"step": 2, "epoch": 1.0, "eval_task_metric": 0.5},
    ...            {"step": 4, "epoch": 2.0, "eval_loss": 0.7}, {"step": 4, "epoch": 2.0, "eval_task_metric": 0.5}]
    >>> selection = Selection("metric", patience=2, task_metric=None, log=None)
    >>> selection.epochs(history)[1]
    {'epoch': 2.0, 'step': 4, 'loss': 0.7, 'metric': 0.5}
    >>> selection.best_index(selection.epochs(history))  # equal metrics: the lower validation loss
    1
    >>> whole_run_loss([{"loss": 1.0}, {"loss": 0.5}, {"eval_loss": 0.7}])
    0.75
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from transformers import TrainerCallback

from ..core import ui


def whole_run_loss(log_history: list[dict]) -> float | None:
    """Mean training loss over every step of the run, resumed sessions included (the Trainer's own figure covers
    the last session only). Steps are logged one by one and the log is restored with each checkpoint."""
    losses = [entry["loss"] for entry in log_history if "loss" in entry]
    return float(np.mean(losses)) if losses else None


class TrainLog(TrainerCallback):
    """Training progress on the console (a bar over the steps with the loss and the validation loss) and every log
    record appended to ``train_log.jsonl`` (shown on the console only with ``--verbose``)."""

    def __init__(self, path: Path, bar: ui.StageBar):
        self.path, self.bar, self.latest = Path(path), bar, {}

    def on_train_begin(self, args, state, control, **kwargs):
        self.bar.total(state.max_steps)
        self.bar.advance(state.global_step)  # a resumed run starts part of the way

    def on_step_end(self, args, state, control, **kwargs):
        self.bar.advance()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs:
            self.write(state, logs)

    def write(self, state, logs: dict) -> None:
        """Append one record (rank 0) and update the progress line."""
        if not state.is_world_process_zero:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"step": state.global_step, **logs}) + "\n")
        names = (("loss", "loss"), ("eval_loss", "val"), ("eval_task_metric", "val metric"))
        self.latest |= {name: f"{logs[key]:.3f}" for key, name in names if key in logs}
        self.bar.show(**self.latest)
        ui.say(json.dumps({"step": state.global_step, **logs}), ui.VERBOSE)


SELECTED = {"loss": "loss", "metric": "selection"}  # TrainConfig.select_by -> the Trainer's metric name
TIE_BREAK = 1e-6  # eval_selection = metric - TIE_BREAK * loss: equal metrics go to the lower validation loss


class Selection(TrainerCallback):
    """Model selection and early stopping on the validation loss or a task metric.

    After every evaluation: with ``task_metric``, its value on the model (in eval mode) goes into the Trainer's
    metrics as ``eval_task_metric`` and into the log, and ``eval_selection`` (the metric, ties broken by the lower
    validation loss: with ~100 validation clips equal accuracies are common) is what ``metric_for_best_model``
    names; the epochs since the best are counted, and training stops after ``patience`` of them. Every epoch's
    figures live in the Trainer's log history, so a resumed run keeps counting where it was."""

    def __init__(self, select_by: str, patience: int | None, task_metric: Callable | None, log: TrainLog):
        self.select_by, self.patience, self.task_metric, self.log = select_by, patience, task_metric, log
        self.stopped_early = False

    def on_evaluate(self, args, state, control, metrics=None, model=None, **kwargs):
        if self.task_metric is not None and metrics is not None:
            was_training = model.training
            model.eval()
            with torch.inference_mode():
                value = float(self.task_metric(model))
            model.train(was_training)
            metrics["eval_task_metric"] = value
            metrics["eval_selection"] = value - TIE_BREAK * metrics.get("eval_loss", 0.0)
            entry = {"epoch": state.epoch, "step": state.global_step, "eval_task_metric": value}
            state.log_history.append(entry)  # saved with every checkpoint: a resumed run knows its history
            self.log.write(state, entry)
        epochs = self.epochs(state.log_history)
        best = self.best_index(epochs)
        if self.patience is not None and best is not None and len(epochs) - 1 - best >= self.patience:
            control.should_training_stop = self.stopped_early = True
            ui.say(f"stopping early: no better validation {self.select_by} for {self.patience} epochs (best: epoch "
                   f"{epochs[best]['epoch']:.0f})", ui.VERBOSE)
        return control

    def epochs(self, history: list[dict]) -> list[dict]:
        """One ``{"epoch", "step", "loss", "metric"}`` per evaluation, in order (metric None when not computed)."""
        rows: dict[int, dict] = {}
        for entry in history:
            if "eval_loss" in entry or "eval_task_metric" in entry:
                empty = {"epoch": entry.get("epoch"), "step": entry["step"], "loss": None, "metric": None}
                row = rows.setdefault(entry["step"], empty)
                row["loss"] = entry.get("eval_loss", row["loss"])
                row["metric"] = entry.get("eval_task_metric", row["metric"])
        return list(rows.values())

    def best_index(self, epochs: list[dict]) -> int | None:
        key = "metric" if self.select_by == "metric" else "loss"
        values = [(e[key], i) for i, e in enumerate(epochs) if e[key] is not None]
        if not values:
            return None
        if key == "loss":
            return min(values)[1]  # ties: the earlier epoch
        loss = {i: epochs[i]["loss"] if epochs[i]["loss"] is not None else float("inf") for _, i in values}
        return max(values, key=lambda v: (v[0], -loss[v[1]], -v[1]))[1]  # ties: the lower loss, then the earlier epoch

    def summary(self, state) -> dict:
        """What train_done.json records about selection."""
        epochs = self.epochs(state.log_history)
        best = self.best_index(epochs)
        return {"selected_by": self.select_by, "patience": self.patience, "stopped_early": self.stopped_early,
                "best_epoch": epochs[best]["epoch"] if best is not None else None,
                "best_validation_loss": epochs[best]["loss"] if best is not None else None,
                "best_validation_metric": epochs[best]["metric"] if best is not None else None,
                "validation": epochs}
