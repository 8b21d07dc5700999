"""Experiment tracking (``--report-to``): the Trainer's losses and the evaluation metrics, named by the run folder.

``tensorboard`` writes event files under ``<run>/tensorboard/`` (``tensorboard --logdir OUT`` shows every run by its
folder); ``wandb`` and ``mlflow`` take their project, server and credentials from their own environment variables
(``WANDB_PROJECT``, ``MLFLOW_TRACKING_URI``, ...). Only the main process logs. The packages are optional: a tracker
that is not installed stops the run before any work, in one line naming what to install.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ..core.errors import CodecBenchError

PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow"}


def check_tracker(report_to: str) -> None:
    """Fail at once when the tracker's package is missing."""
    package = PACKAGES.get(report_to)
    if package and importlib.util.find_spec(package) is None:
        extra = " (or pip install 'codec-bench[tensorboard]')" if report_to == "tensorboard" else ""
        raise CodecBenchError(f"--report-to {report_to}: the {package} package is not installed; pip install {package}{extra}, "
                              "or use --report-to none")


def trainer_settings(report_to: str, log_dir: Path) -> tuple[list[str], list]:
    """``(report_to for TrainingArguments, extra callbacks)``: TensorBoard gets a callback writing into
    ``log_dir`` (the Trainer's own default is a dated folder under the checkpoints); wandb and mlflow use the
    Trainer's integrations."""
    if report_to == "tensorboard":
        from torch.utils.tensorboard import SummaryWriter
        from transformers.integrations import TensorBoardCallback

        return [], [TensorBoardCallback(SummaryWriter(log_dir=str(log_dir)))]
    return ([] if report_to == "none" else [report_to]), []


def log_metrics(report_to: str, log_dir: Path, run_name: str, metrics: dict[str, float], step: int = 0) -> None:
    """Log ``metrics`` (``"eval/<split>/<method>/<metric>"`` -> value) to the tracker."""
    if report_to == "tensorboard":
        from torch.utils.tensorboard import SummaryWriter

        with SummaryWriter(log_dir=str(log_dir)) as writer:
            for name, value in metrics.items():
                writer.add_scalar(name, value, step)
    elif report_to == "wandb":
        import wandb

        run = wandb.run or wandb.init(name=run_name)
        run.log(metrics)
        wandb.finish()
    elif report_to == "mlflow":
        import mlflow

        started = mlflow.active_run() is None
        if started:
            mlflow.start_run(run_name=run_name)
        mlflow.log_metrics(metrics, step=step)
        if started:
            mlflow.end_run()
