"""A study run: every cell of a study file, each an independent job that writes one result file, resumable.

A *cell* (``plan.Cell``) runs one fold through ``pipeline.run_fold`` and writes
``OUT/results/<dataset>-<protocol>-fold<k>__<codec>__<model>__<recipe>__seed<n>.json``. A rerun skips cells whose
file says ``status: ok``; a failed cell records its error and the study goes on. Cells run one after another or as
Ray tasks or submitit jobs (``engines``). Every name and key of the study file is checked before anything runs
(``plan``).
"""

from __future__ import annotations

import time
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Callable

from .. import data
from ..config import EMBEDDED_MODEL
from ..core import io, ui
from ..core.errors import CodecBenchError
from ..core.parallel import build_lock
from ..formats import RESULTS_FORMAT_VERSION, CellResult, FormatVersionError
from ..formats.results import git_revision, runtime_versions
from ..llm.tracking import check_tracker
from ..loading import check_reference
from .engines import ENGINES
from .grid import write_grids
from .inputs import check_recipe
from .plan import Cell, StudyConfig, cell_config, cell_name, load_study, result_path, run_cell_name, study_cells


def run_cell(study: StudyConfig, cell: Cell) -> list[dict]:
    """Run one cell through the pipeline (manifest, tokens, prompts, training, evaluation); returns its records. Its
    settings take the defaults of the corpus's task as read; where the cell's name was given by other defaults (a
    corpus whose task only its labels tell), the name's wins, so the result file names what ran."""
    config = cell_config(study, cell)
    from . import pipeline  # heavy (torch, transformers): only where a cell runs

    manifest = pipeline.manifests_for(config)[0]
    by_task = cell_config(study, cell, manifest.task)
    if run_cell_name(by_task, cell) == run_cell_name(config, cell):
        config = by_task
    pipeline.save_manifest(config, manifest)
    return pipeline.run_fold(config, manifest)


def is_finished(path: Path) -> bool:
    """True when ``path`` is a readable result of this format with status ok; anything else is rerun."""
    if not path.is_file():
        return False
    try:
        return CellResult.from_file(path).status == "ok"
    except FormatVersionError as err:
        ui.warn(f"{path.name}: format_version {err.version!r}, not {RESULTS_FORMAT_VERSION}; rerunning")
        return False
    except (ValueError, OSError, AttributeError, TypeError) as err:
        ui.warn(f"{path.name}: unreadable result ({type(err).__name__}); rerunning the cell")
        return False


def execute_cell(study: StudyConfig, cell: Cell) -> dict:
    """Run one cell and write its result file, ok or failed; never raises for a failing cell. The cell is held under
    a file lock: a second study process on the same OUT waits for it, then reuses its result."""
    path = result_path(study, cell)
    with build_lock(path, "study cell"):
        if is_finished(path):
            return io.read_json(path)
        start = time.time()
        result = CellResult(describe(study, cell))
        try:
            result.records = run_cell(study, cell)
        except Exception as err:  # one cell's failure is recorded; the study goes on
            first_line = (str(err).strip().splitlines() or [""])[0]
            result.status, result.error = "failed", f"{type(err).__name__}: {first_line}"
        result.wall_seconds = round(time.time() - start, 2)
        result.versions, result.git_revision = runtime_versions(), git_revision()
        result.to_file(path)
    return result.to_json()


def describe(study: StudyConfig, cell: Cell) -> dict:
    """The cell as its result file names it, with its resolved settings."""
    entry, config = study.datasets[cell.dataset], cell_config(study, cell)
    codec = config.codec
    return {
        "name": cell_name(study, cell),
        "dataset": entry.name,
        "protocol": cell.protocol,
        "fold": cell.fold,
        "source": entry.source,
        "codec": codec.name,
        "codec_options": codec.options,
        "model": config.model.name,
        "recipe": {k: v for k, v in asdict(config.train).items() if k != "seed"},
        "seed": cell.seed,
    }


def dry_run(study: StudyConfig, config_path: str | Path) -> None:
    """``benchmark --dry-run``: every check a cell makes before a model is loaded (``check_study``), each problem on
    one warning line; raises, counting them, when there is any."""
    problems = check_study(study, config_path)
    for line in problems:
        ui.warn(line)
    if problems:
        raise CodecBenchError(f"{config_path}: --dry-run found {len(problems)} problem{'s' if len(problems) > 1 else ''} "
                              "(above, one per line); fix them before the study runs")
    ui.say(f"{config_path}: roots, layouts and settings checked; nothing to fix")


def check_study(study: StudyConfig, config_path: str | Path) -> list[str]:
    """What can be checked without a model, one line per problem (each once): the model and codec model folders, the
    tracker, and per dataset fold its root, layout and metadata (read into a manifest as a cell reads it) and the
    recipes' rules that depend on its task. A hub mirror is not fetched nor a generated corpus generated, so neither
    is checked."""
    problems: list[str] = []

    def note(line: str) -> None:
        if line not in problems:
            problems.append(line)

    checks = [partial(check_reference, m.name, f"{config_path}: model") for m in study.models if m.name != EMBEDDED_MODEL]
    checks += [partial(check_reference, c.model, f"{config_path}: codec {c.name} model") for c in study.codecs if c.model]
    for check in checks + [partial(check_tracker, study.report_to)]:
        try:
            check()
        except CodecBenchError as err:
            note(str(err))
    tasks: dict[tuple, str | None] = {}
    for cell in study_cells(study):
        entry = study.datasets[cell.dataset]
        if entry.source != "local" or not data.DATASETS[entry.name].needs_root:
            continue
        if (cell.dataset, cell.fold) not in tasks:
            tasks[cell.dataset, cell.fold] = _fold_task(study, cell, config_path, note)
        task = tasks[cell.dataset, cell.fold]
        try:
            if task is not None:
                check_recipe(cell_config(study, cell), task)
        except CodecBenchError as err:
            note(f"{config_path}: recipe {study.recipes[cell.recipe].name} on {entry.name}: {err}")
    return problems


def _fold_task(study: StudyConfig, cell: Cell, config_path: str | Path, note: Callable[[str], None]) -> str | None:
    """The task of a cell's dataset fold, read as the cell reads it; None (and a noted problem) when it does not read."""
    entry = study.datasets[cell.dataset]
    where = f"{config_path}: dataset {entry.name}"
    if entry.root is None or not Path(entry.root).is_dir():
        note(f"{where}: root {entry.root} is not a folder; set its `root` to the unpacked corpus (`codec-bench datasets` "
             "shows each corpus's layout)")
        return None
    try:
        manifest = data.load_manifests(entry.name, entry.root, cell.protocol, [cell.fold], "local", dict(entry.options))[0]
    except (CodecBenchError, OSError) as err:
        first = (str(err).strip().splitlines() or [""])[0].removesuffix(" Expected:")
        note(f"{where}{f' fold {cell.fold}' if cell.fold is not None else ''}: {first} (`codec-bench datasets` shows "
             "the expected layout)")
        return None
    return manifest.task


def run_study(config_path: str | Path, out: str | Path | None = None, seeds: list[int] | None = None,
              engine: str | None = None, overrides: dict | None = None) -> Path:
    """Run every unfinished cell of the study, then write the report over OUT; returns OUT. ``overrides``: the
    command line's top-level settings (``plan.load_study``)."""
    study = load_study(config_path, out, seeds, engine, overrides)
    for model in study.models:  # a model folder that does not exist fails now, not in every cell
        if model.name != EMBEDDED_MODEL:
            check_reference(model.name, f"{config_path}: model")
    check_tracker(study.report_to)
    cells = study_cells(study)
    todo = [c for c in cells if not is_finished(result_path(study, c))]
    ui.say(f"[bold]{study.name}[/]: {len(cells)} cells, {len(cells) - len(todo)} finished, {len(todo)} to run ({study.engine})")
    if todo:
        jobs = [(cell_name(study, cell), cell) for cell in todo]
        ENGINES[study.engine](jobs, partial(execute_cell, study), study.engine_options, Path(study.out))
    failed = [cell_name(study, c) for c in cells if not is_finished(result_path(study, c))]
    if failed:
        ui.warn(f"{len(failed)} of {len(cells)} cells failed (errors in {Path(study.out) / 'results'}), e.g. {failed[0]}")
    if len(failed) == len(cells):
        raise CodecBenchError(f"{config_path}: every cell failed; see the error in {result_path(study, cells[0])}")
    from ..report.write import report_folders

    write_grids(study.out, {name: [r for r in study.recipes if r.name in names] for name, names in study.grids.items()},
                study.select)
    report_folders([study.out])
    return Path(study.out)
