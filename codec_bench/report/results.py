"""Reading results back: ``results.json`` files and a study's per-cell result files (``OUT/results/*.json``).

A file of another format version stops with one line naming it; a half-written or unreadable file is skipped,
counted and listed, never taken as a result; failed cells are kept so the report can list them.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import CodecBenchError
from ..core.io import read_json

RESULTS_FORMAT_VERSION = 1  # of results.json and of a study's per-cell files OUT/results/*.json


@dataclass
class LoadedResults:
    """What ``load_results`` read: result records, failed cells (``{"file", "cell", "error"}``, the error as
    one line) and the files skipped because they are not valid JSON."""

    records: list[dict] = field(default_factory=list)
    failed_cells: list[dict] = field(default_factory=list)
    skipped_files: list[Path] = field(default_factory=list)


RECORD_FILES = ("*/*/eval/records.json", "*/baseline/records.json", "*/probes__*/records.json", "*/zero_shot__*/records.json")
def collect_records(out: str | Path) -> tuple[list[dict], dict[str, list[str]]]:
    """All finished result records under a run or study folder ``out`` (runs, baselines, probe and zero-shot
    rows: those with a done-marker) and each dataset's classes (from its manifests)."""
    out = Path(out)
    paths = [p for pattern in RECORD_FILES for p in sorted(out.glob(pattern)) if (p.parent / "done.json").is_file()]
    records = [r for path in paths for r in read_json(path)]
    classes = {read_json(p)["dataset"]: read_json(p)["classes"] for p in sorted(out.glob("*/manifest/info.json"))}
    return records, classes
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
            content = read_json(file)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            _skip(loaded, file, f"not valid JSON, half-written? ({err})")
            continue
        version = content.get("format_version") if isinstance(content, dict) else None
        if version != RESULTS_FORMAT_VERSION:
            raise CodecBenchError(f"{file}: results format_version {version!r}; this codec-bench reads "
                                  f"format_version {RESULTS_FORMAT_VERSION} (upgrade codec-bench or rerun the cell)")
        status = content.get("status", "ok")
        if status == "failed":
            loaded.failed_cells.append({"file": str(file), "cell": content.get("cell") or {},
                                        "error": _error_line(content.get("error"))})
        elif status == "ok":
            if not isinstance(content.get("records"), list):
                raise CodecBenchError(f"{file}: has no list of \"records\"; not a codec-bench results file")
            loaded.records += content["records"]
            loaded.failed_cells += content.get("failed_cells", [])  # a report's results.json keeps them
        else:
            _skip(loaded, file, f"unknown cell status {status!r}")
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
