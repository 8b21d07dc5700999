"""Reading results back: the finished records of run folders, ``results.json`` files and a study's per-cell
result files (``OUT/results/*.json``), as ``formats`` objects.

A file of another format version stops with one line naming it; a half-written or unreadable file is skipped,
counted and listed, never taken as a result (a damaged ``records.json`` with one line naming it and the command
that rebuilds it); failed cells are kept so the report can list them.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core import ui
from ..core.errors import CodecBenchError
from ..core.finished import check_done
from ..core.io import read_json
from ..formats import CellResult, OutFolder, Record, RecordsFile, RecordsFolder, read_results


@dataclass
class LoadedResults:
    """What ``load_results`` / ``collect_records`` read: result records, failed cells (``{"file", "cell",
    "error"}``, the error as one line), the files skipped because they are damaged and (``collect_records``) each
    dataset's classes and each records folder's settings and versions (``runs``: folder -> ``{"settings",
    "versions", "git_revision"}``)."""

    records: list[Record] = field(default_factory=list)
    failed_cells: list[dict] = field(default_factory=list)
    skipped_files: list[Path] = field(default_factory=list)
    classes: dict[str, list[str]] = field(default_factory=dict)
    runs: dict[Path, dict] = field(default_factory=dict)


def collect_records(out: str | Path) -> LoadedResults:
    """All finished result records under a run or study folder ``out`` (runs, baselines, probe and zero-shot
    rows: those with a done-marker) and each dataset's classes (from its manifests). A damaged ``records.json``
    is skipped and listed, with one line naming it and the command that rebuilds it."""
    folder = OutFolder(Path(out))
    loaded = LoadedResults()
    for records in folder.records_folders():
        try:
            found = RecordsFile.from_file(records.records)
            loaded.records += found.records
            loaded.runs[records.path] = {"settings": found.settings, "versions": found.versions,
                                         "git_revision": found.git_revision}
        except (ValueError, UnicodeDecodeError, TypeError) as err:
            ui.warn(damaged_records_line(records, folder, err))
            loaded.skipped_files.append(records.records)
    loaded.classes = {read_json(p)["dataset"]: read_json(p)["classes"] for p in folder.manifest_infos()}
    return loaded


def damaged_records_line(records: RecordsFolder, out: OutFolder, err: Exception) -> str:
    """One line: which records file is damaged, how (its done-marker says, else the parse error), and that
    the command which wrote it rebuilds it (its stages check their done-markers and redo what is broken)."""
    problem = check_done(records.done) or f"not readable: {err}"
    return (f"{records.records}: damaged ({problem}); left out of the report. Rerun the same `codec-bench run ... "
            f"--out {out.path}` (or `codec-bench benchmark`) that wrote it: it rebuilds the damaged files, then "
            f"`codec-bench report {out.path}` again")


def load_results(paths: str | Path | list[str | Path]) -> LoadedResults:
    """Read results.json files (``write_report``) and a study's per-cell files ``OUT/results/*.json``.

    A path is a file, or a folder: its ``results/*.json`` cell files when there are any, else its
    ``results.json``, else its own ``*.json`` (a cell folder given directly). Every file is a JSON object with
    ``format_version`` 1 and ``records``; a cell file adds ``status`` ("ok" or "failed"), ``cell`` and
    ``error``. Another format_version raises; a file that is not valid JSON (half-written, truncated) is
    skipped with a warning and listed in ``skipped_files``, as is a cell with an unknown status.
    """
    loaded = LoadedResults()
    for file in _result_files(paths):
        try:
            content = read_results(file)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            _skip(loaded, file, f"not valid JSON, half-written? ({err})")
            continue
        if not isinstance(content, CellResult):  # a report's results.json keeps its failed cells
            loaded.records += content.records
            loaded.failed_cells += content.failed_cells
        elif content.status == "failed":
            loaded.failed_cells.append({"file": str(file), "cell": content.cell, "error": _error_line(content.error)})
        elif content.status == "ok":
            loaded.records += content.records
        else:
            _skip(loaded, file, f"unknown cell status {content.status!r}")
    return loaded


def _result_files(paths: str | Path | list[str | Path]) -> list[Path]:
    files: list[Path] = []
    for path in map(Path, [paths] if isinstance(paths, (str, Path)) else paths):
        cells = sorted((path / "results").glob("*.json")) if path.is_dir() else []
        if path.is_file():
            files.append(path)
        elif cells:
            files += cells
        elif (path / "results.json").is_file():
            files.append(path / "results.json")
        elif path.is_dir():
            files += sorted(path.glob("*.json"))
        else:
            raise CodecBenchError(f"{path}: no such results file or folder")
    return files


def _skip(loaded: LoadedResults, file: Path, why: str) -> None:
    warnings.warn(f"{file}: {why}; skipped", stacklevel=3)
    loaded.skipped_files.append(file)


def _error_line(error: Any) -> str:
    """A cell's error as one line: the exception line of a traceback, else the first line."""
    if isinstance(error, dict):
        error = error.get("message") or json.dumps(error)
    lines = [line.strip() for line in str(error or "").splitlines() if line.strip()]
    if not lines:
        return "(no error recorded)"
    return lines[-1] if lines[0].startswith("Traceback") else lines[0]
