"""``codec-bench demo``: the whole pipeline on generated data with the embedded codec and tiny LM, offline.

Two tasks (``instruments``, single-label, 10 classes; ``mixtures``, multi-label, 6 classes) are synthesized,
tokenized with the mel k-means codec, and a tiny Llama is trained from scratch on each; the held-out test split
is scored and compared with the log-mel logistic-regression reference row. The recipes (epochs, learning rate)
and the tiny LM's width were chosen per task on the validation split, among settings that keep the whole demo
short on two CPU cores (the candidates and the demo's measured time: docs/performance.md).
"""

from __future__ import annotations

import time
from pathlib import Path

from ..config import RunConfig, TrainConfig
from ..report.write import report_folders
from .pipeline import run

DEMO_TASKS = ("instruments", "mixtures")
DEMO_SIZES = {"train": 600, "validation": 120, "test": 200}
DEMO_TRAIN = {  # chosen on validation (accuracy; micro-F1 and mAP), docs/performance.md
    "instruments": TrainConfig(method="full", epochs=10, learning_rate=1.5e-3, batch_size=16),
    "mixtures": TrainConfig(method="full", epochs=15, learning_rate=1e-3, batch_size=16),
}


def run_demo(out: str | Path, sizes: dict[str, int] | None = None, train: TrainConfig | None = None) -> dict[str, Path]:
    """Run both generated tasks into ``out`` and write the report; returns the report's paths."""
    out = Path(out)
    start = time.time()
    for task in DEMO_TASKS:
        config = RunConfig(dataset=task, out=out, root=out / "data" / task, train=train or DEMO_TRAIN[task],
                           dataset_options={"sizes": sizes or DEMO_SIZES})
        run(config)
    paths = report_folders([out])
    paths["seconds"] = time.time() - start  # type: ignore[assignment]
    return paths
