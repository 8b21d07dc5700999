"""Engines: how a study's cells run. ``ENGINES`` maps a name to ``run(jobs, run_fn, options, out)``: ``jobs`` are
``(cell name, cell)`` pairs, ``options`` the study's ``engine_options``, ``out`` its output folder. Each job calls
``run_fn(cell)``, which writes the cell's own result file and returns it, so an engine only starts jobs and waits.

- ``serial``: one cell after another in this process.
- ``ray``: one Ray task per cell, on a local instance or a running cluster (``pip install -e ".[ray]"``).
- ``submitit``: one job per cell, on Slurm or as local processes (``pip install -e ".[slurm]"``).

Adding an engine: a function with that signature and a line in ``ENGINES``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable

from ..core import ui
from ..core.errors import CodecBenchError
from ..core.settings import did_you_mean

Job = tuple[str, Any]  # (cell name, cell): what ``run_fn`` takes is the cell
RunFn = Callable[[Any], dict]


def run_serial(jobs: list[Job], run_fn: RunFn, options: dict, out: Path) -> None:
    """One cell after another in this process, a progress line per cell."""
    for i, (name, cell) in enumerate(jobs, start=1):
        ui.say(f"[bold]cell {i}/{len(jobs)}[/] {name}")
        _report(name, run_fn(cell))


def run_ray(jobs: list[Job], run_fn: RunFn, options: dict, out: Path) -> None:
    """One Ray task per cell. ``engine_options``: ``gpus_per_cell`` (default 1 on a CUDA machine, else 0) and
    ``cpus_per_cell`` (default 1) size each task; the rest go to ``ray.init`` (``address: auto`` joins a running
    cluster; without it a local instance is started, e.g. ``num_cpus: 8``)."""
    ray = _import_engine("ray")
    options = dict(options)
    gpus, cpus = options.pop("gpus_per_cell", None), options.pop("cpus_per_cell", 1)
    if gpus is None:
        import torch

        gpus = 1 if torch.cuda.is_available() else 0
    options.setdefault("include_dashboard", False)
    options.setdefault("log_to_driver", False)  # one line per cell from the driver; a cell's errors are in its result file
    options.setdefault("logging_level", "warning")
    ray.init(**options)
    try:
        task = ray.remote(num_gpus=gpus, num_cpus=cpus)(_call)  # ray.remote takes a plain function, not a partial
        pending = {task.remote(run_fn, cell): name for name, cell in jobs}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            _report(pending.pop(done[0]), ray.get(done[0]))
    finally:
        ray.shutdown()


def _call(run_fn: RunFn, cell: Any) -> dict:
    ui.set_verbosity(quiet=True)  # the driver prints one line per cell; a cell's own lines would come back prefixed
    return run_fn(cell)


def run_submitit(jobs: list[Job], run_fn: RunFn, options: dict, out: Path) -> None:
    """One submitit job per cell (a job array); ``engine_options``: ``cluster`` (``slurm``, or ``local`` for jobs as
    processes on this machine; default: slurm when ``sbatch`` is found) goes to AutoExecutor, the rest (e.g.
    ``slurm_partition``, ``gpus_per_node``, ``cpus_per_task``, ``timeout_min``) to ``update_parameters``. Job logs go
    to ``OUT/submitit/``."""
    submitit = _import_engine("submitit")
    options = dict(options)
    executor = submitit.AutoExecutor(folder=Path(out) / "submitit", cluster=options.pop("cluster", None))
    executor.update_parameters(**options)
    submitted = executor.map_array(run_fn, [cell for _, cell in jobs])
    for job, (name, _) in zip(submitted, jobs):
        _report(name, job.result())


def _report(name: str, result: dict) -> None:
    colour = "green" if result["status"] == "ok" else "red"
    ui.say(f"[{colour}]{result['status']}[/] {name} ({result.get('wall_seconds', 0):.0f} s)"
           + (f": {result['error']}" if result.get("error") else ""), ui.QUIET if result["status"] != "ok" else ui.NORMAL)


ENGINE_EXTRAS = {"ray": "ray", "submitit": "slurm"}  # the optional extra that installs each engine


def _import_engine(name: str):
    try:
        return importlib.import_module(name)
    except ImportError:
        extra = ENGINE_EXTRAS.get(name, name)
        raise CodecBenchError(f"engine {name} needs `pip install 'codec-bench[{extra}]'` (or `pip install -e \".[{extra}]\"` "
                              "in a checkout; or use engine: serial)") from None


def accepted_options(engine: str) -> set[str] | None:
    """The ``engine_options`` an engine takes, read from the engine itself (None: takes none; an engine not installed
    raises its install hint): ray's ``ray.init`` keywords plus the cell sizes; submitit's AutoExecutor parameters,
    ``slurm_*`` / ``local_*`` ones and ``cluster``."""
    if engine == "serial":
        return set()
    module = _import_engine(engine)
    if engine == "ray":
        import inspect

        named = [p.name for p in inspect.signature(module.init).parameters.values() if p.kind != p.VAR_KEYWORD]
        return set(named) | {"gpus_per_cell", "cpus_per_cell"}
    from submitit.local.local import LocalExecutor
    from submitit.slurm.slurm import SlurmExecutor

    return ({"cluster"} | module.AutoExecutor._valid_parameters() | {f"slurm_{k}" for k in SlurmExecutor._valid_parameters()}
            | {f"local_{k}" for k in LocalExecutor._valid_parameters()})


def check_options(engine: str, options: dict, where: str) -> None:
    """One line for an ``engine_options`` key the engine does not take, with a "did you mean"."""
    accepted = accepted_options(engine)
    for key in options:
        if key not in accepted:
            if not accepted:
                raise CodecBenchError(f"{where}: engine {engine} takes no engine_options; drop {key!r}")
            raise CodecBenchError(f"{where}: engine {engine} does not take engine_options {key!r}; "
                                  f"{did_you_mean(key, sorted(accepted))}it takes "
                                  f"{', '.join(sorted(accepted))}")


ENGINES: dict[str, Callable[[list[Job], RunFn, dict, Path], None]] = {
    "serial": run_serial, "ray": run_ray, "submitit": run_submitit,
}


