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
from .plan import Cell, StudyConfig, cell_config, cell_name, load_study, result_path, study_cells


def run_cell(study: StudyConfig, cell: Cell) -> list[dict]:
    """Run one cell through the pipeline (manifest, tokens, prompts, training, evaluation); returns its records."""
    config = cell_config(study, cell)
    from . import pipeline  # heavy (torch, transformers): only where a cell runs

    manifest = pipeline.manifests_for(config)[0]
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
    """The cell as its result file names it."""
    entry, codec = study.datasets[cell.dataset], study.codecs[cell.codec]
    return {
        "name": cell_name(study, cell),
        "dataset": entry.name,
        "protocol": cell.protocol,
        "fold": cell.fold,
        "source": entry.source,
        "codec": codec.name,
        "codec_options": codec.options,
        "model": study.models[cell.model].name,
        "recipe": {k: v for k, v in asdict(study.recipes[cell.recipe]).items() if k != "seed"},
        "seed": cell.seed,
    }


def run_study(config_path: str | Path, out: str | Path | None = None, seeds: list[int] | None = None,
              engine: str | None = None) -> Path:
    """Run every unfinished cell of the study, then write the report over OUT; returns OUT."""
    study = load_study(config_path, out, seeds, engine)
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
