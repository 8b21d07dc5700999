"""``codec-bench demo``: the whole pipeline on generated data with the embedded codec and tiny LM, offline.

Two tasks (``instruments``, single-label, 10 classes; ``mixtures``, multi-label, 6 classes) are synthesized,
tokenized with the mel k-means codec, and a tiny Llama is trained from scratch on each; the held-out test split
is scored and compared with the log-mel logistic-regression reference row. The recipes (epochs, learning rate)
and the tiny LM's width were chosen per task on the validation split, among settings that keep the whole demo
short on two CPU cores (the candidates and the demo's measured time: docs/performance.md).

With two cores or more the tasks train side by side, one process each with its share of the cores (the second
task's process is quiet; this one shows its progress): a tiny LM's small matrices keep one core busy, and two
threads on one of them gain little (docs/speed.md has the measurements).
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ..config import RunConfig, TrainConfig
from ..core import ui
from ..core.parallel import available_cores
from ..report.write import report_folders
from .pipeline import run

DEMO_TASKS = ("instruments", "mixtures")
DEMO_SIZES = {"train": 600, "validation": 120, "test": 200}
DEMO_TRAIN = {  # chosen on validation (accuracy; micro-F1 and mAP), docs/performance.md
    "instruments": TrainConfig(method="full", epochs=10, learning_rate=1.5e-3, batch_size=16),
    "mixtures": TrainConfig(method="full", epochs=15, learning_rate=1e-3, batch_size=16),
}


def run_demo(out: str | Path, sizes: dict[str, int] | None = None, train: TrainConfig | None = None,
             processes: int | None = None) -> dict[str, Path]:
    """Run both generated tasks into ``out`` and write the report; returns the report's paths. ``processes``: how
    many tasks run at once (default: one per core, at most one per task; 1: one after the other, here). The other
    processes are spawned, so a script that calls this needs the usual ``if __name__ == "__main__":`` guard."""
    out = Path(out)
    start = time.time()
    configs = [RunConfig(dataset=task, out=out, root=out / "data" / task, train=train or DEMO_TRAIN[task],
                         dataset_options={"sizes": sizes or DEMO_SIZES}) for task in DEMO_TASKS]
    cores = available_cores()
    processes = min(len(configs), cores) if processes is None else max(1, min(processes, len(configs)))
    if processes == 1:
        for config in configs:
            run(config)
    else:
        _side_by_side(configs, max(1, cores // processes))
    paths = report_folders([out])
    paths["seconds"] = time.time() - start  # type: ignore[assignment]
    return paths


def _side_by_side(configs: list[RunConfig], threads: int) -> None:
    """The last task here, the others at the same time in quiet child processes (spawned: no forked torch state),
    each on ``threads`` torch threads; a child's error is raised here once this task is done."""
    import torch

    *others, here = configs
    ui.say(f"{', '.join(c.dataset for c in others)}: trained at the same time in another process ({threads} torch "
           f"thread{'s' * (threads > 1)} each), shown when done")
    before = torch.get_num_threads()
    with ProcessPoolExecutor(len(others), mp_context=multiprocessing.get_context("spawn")) as pool:
        pending = [pool.submit(_run_quietly, config, threads) for config in others]
        torch.set_num_threads(threads)
        try:
            run(here)
        finally:
            torch.set_num_threads(before)
        for config, job in zip(others, pending):
            ui.say(f"{config.dataset}: done in the other process ({job.result():.0f} s)")


def _run_quietly(config: RunConfig, threads: int) -> float:
    """One task in a child process: warnings only; returns its seconds."""
    import datasets
    import torch
    import transformers

    start = time.time()
    torch.set_num_threads(threads)
    ui.set_verbosity(quiet=True)
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    datasets.disable_progress_bars()
    run(config)
    return time.time() - start
