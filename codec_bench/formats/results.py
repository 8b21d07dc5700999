"""Result records and the files that hold them: a folder's ``records.json``, a report's ``results.json`` and a
study's per-cell result files ``OUT/results/<cell>.json``, with their format version.

A record is one evaluated run on one split of one fold, a JSON object with the same keys as :class:`Record`'s
fields. Every file is a JSON object with ``format_version`` (:data:`RESULTS_FORMAT_VERSION`) and ``records``:
``records.json`` adds the run's effective ``settings``, the library ``versions`` and the ``git_revision`` that
produced them; a report's ``results.json`` adds ``aggregated`` (one row per figure: split, metrics with mean, std
and 95 % interval, clips, folds and seeds), ``statistics``, ``failed_cells``, ``runs`` (each records folder's
settings and versions), the report writer's ``versions`` and ``git_revision`` (and ``selection`` when recipes were
chosen on validation); a cell's adds ``cell``, ``status`` ("ok" or "failed"), ``error``, ``wall_seconds``,
``versions`` and ``git_revision``. Each class writes its file with ``to_file`` and reads it with ``from_file``;
both check the content against the shipped JSON Schema (``schema``). Files of format_version 1 (``records.json``
then a bare list; no settings, versions or runs) still read; another version is refused in one line.
"""

from __future__ import annotations

import platform
import subprocess
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from .. import __version__
from ..core import io
from ..core.errors import CodecBenchError
from . import schema

RESULTS_FORMAT_VERSION = schema.SCHEMA_VERSION  # of records.json, results.json and a study's cell files
READABLE_VERSIONS = (1, RESULTS_FORMAT_VERSION)  # 1: before the schema (read with defaults, not validated)


def runtime_versions() -> dict[str, str | None]:
    """The versions results depend on: Python, torch, transformers, codec-bench (None for one not installed)."""
    found = {}
    for name in ("torch", "transformers"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return {"python": platform.python_version(), **found, "codec_bench": __version__}


@lru_cache(maxsize=1)
def git_revision() -> str | None:
    """``git rev-parse HEAD`` of the folder holding the codec_bench package, or None outside a checkout."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return (done.stdout.strip() or None) if done.returncode == 0 else None


def json_settings(value: Any) -> Any:
    """Settings (dataclasses, paths, tuples) as plain JSON values: ``asdict`` of a dataclass, paths as strings."""
    if hasattr(value, "__dataclass_fields__"):
        value = asdict(value)
    if isinstance(value, dict):
        return {str(k): json_settings(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_settings(v) for v in value]
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)


@dataclass
class Record:
    """One evaluated run on one split of one fold."""

    dataset: str
    task: str
    domain: str
    protocol: str
    fold: str | None
    seed: int
    codec: str
    model: str
    method: str
    split: str
    n_clips: int
    metrics: dict[str, float]
    headline: str
    predictions: str  # the predictions file, relative to the output folder
    # what was chosen on validation: "scoring" (multi-label method), "decision_rule", "best_epoch", "epochs",
    # "selected_by", "stopped_early", "validation_loss" (the kept epoch's); "recipe" and "grid" when chosen from a
    # recipe grid; empty for rows that choose nothing
    choices: dict = field(default_factory=dict)
    # what the run cost (fine-tuned LLM rows only; empty for others and for records written before it):
    # "bitrate_bps" (None for continuous features), "positions_per_second" (LLM audio positions per second of audio,
    # after patching), "mean_audio_positions" (per prompt, on the evaluated splits), "patch", "train_seconds_per_epoch"
    # (validation passes included; None after a resume) and "scoring_seconds_per_clip" (label scoring, all candidates)
    costs: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """Its JSON object; ``costs`` only when there are some (a record without keeps the bytes it had before)."""
        row = asdict(self)
        return row if self.costs else {k: v for k, v in row.items() if k != "costs"}

    @classmethod
    def from_json(cls, row: dict) -> Record:
        """A record from its JSON object (``seed``, ``choices`` and ``costs`` default for records written before
        them)."""
        missing = {"seed": 0, "choices": {}, "costs": {}}
        return cls(**{f.name: row.get(f.name, missing.get(f.name)) for f in fields(cls)})


@dataclass
class RecordsFile:
    """``records.json``: the records of one folder (a run's ``eval/``, the baseline's, the probe rows'), the
    effective settings of the run that wrote them (empty for rows without one), the library versions and the git
    revision."""

    records: list[Record]
    settings: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    git_revision: str | None = None

    def to_json(self) -> dict:
        return {"format_version": RESULTS_FORMAT_VERSION, "records": [r.to_json() for r in self.records],
                "settings": self.settings, "versions": self.versions or runtime_versions(), "git_revision": self.git_revision}

    def to_file(self, path: str | Path) -> None:
        content = self.to_json()
        schema.check("records", content, path)
        io.write_json(path, content)

    @classmethod
    def from_file(cls, path: str | Path) -> RecordsFile:
        """Raises ``ValueError`` (``json.JSONDecodeError`` among them) for a damaged file, :class:`FormatVersionError`
        for another format version and ``schema.SchemaError`` for a file that breaks its schema."""
        content = io.read_json(path)
        if isinstance(content, list):  # format_version 1: a bare list of records
            if not all(isinstance(r, dict) for r in content):
                raise ValueError("not a list of records")
            return cls([Record.from_json(r) for r in content])
        if not isinstance(content, dict) or "format_version" not in content:
            raise ValueError("neither a list of records nor an object with a format_version")
        _check_version(Path(path), content, "records")
        return cls([Record.from_json(r) for r in content["records"]], content["settings"], content["versions"],
                   content["git_revision"])


class FormatVersionError(CodecBenchError):
    """A results file of another format version (``version``: what it says, None when it says nothing)."""

    def __init__(self, path: Path, version: Any):
        super().__init__(f"{path}: results format_version {version!r}; this codec-bench reads format_version "
                         f"{' and '.join(map(str, READABLE_VERSIONS))} (upgrade codec-bench or rerun the cell)")
        self.version = version


def _check_version(path: Path, content: Any, kind: str = "results") -> dict:
    """``content`` of a readable version; the current version's checked against its schema."""
    if not isinstance(content, dict):
        raise FormatVersionError(path, None)
    version = content.get("format_version")
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        raise FormatVersionError(path, version)
    if version == RESULTS_FORMAT_VERSION:
        schema.check(kind, content, path)
    return content


@dataclass
class ResultsFile:
    """A report's ``results.json``: its records, the aggregated rows, the statistics, the failed cells listed, each
    records folder's settings and versions (``runs``: folder relative to the report -> ``{"settings", "versions",
    "git_revision"}``) and the versions of the process that wrote it."""

    records: list[Record]
    aggregated: list[dict] = field(default_factory=list)
    statistics: dict = field(default_factory=dict)
    failed_cells: list[dict] = field(default_factory=list)
    selection: list[dict] = field(default_factory=list)  # the recipes chosen on validation (``report.selection``)
    runs: dict[str, dict] = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    git_revision: str | None = None

    def to_json(self) -> dict:
        return {"format_version": RESULTS_FORMAT_VERSION, "versions": self.versions or runtime_versions(),
                "git_revision": self.git_revision, "records": [r.to_json() for r in self.records],
                "aggregated": self.aggregated, "statistics": self.statistics, "failed_cells": list(self.failed_cells),
                "runs": self.runs} | ({"selection": list(self.selection)} if self.selection else {})

    def to_file(self, path: str | Path) -> None:
        content = self.to_json()
        schema.check("results", content, path)
        io.write_json(path, content)

    @classmethod
    def from_json(cls, content: dict) -> ResultsFile:
        return cls([Record.from_json(r) for r in content["records"]], content.get("aggregated", []),
                   content.get("statistics", {}), content.get("failed_cells", []), content.get("selection", []),
                   content.get("runs", {}), content.get("versions", {}), content.get("git_revision"))

    @classmethod
    def from_file(cls, path: str | Path) -> ResultsFile:
        return cls.from_json(_check_version(Path(path), io.read_json(path)))


@dataclass
class CellResult:
    """A study cell's result file ``OUT/results/<cell>.json``: ok with its records, or failed with its error."""

    cell: dict
    status: str = "ok"
    records: list[Record] = field(default_factory=list)
    error: str | None = None
    wall_seconds: float | None = None
    versions: dict = field(default_factory=dict)
    git_revision: str | None = None

    def to_json(self) -> dict:
        return {"format_version": RESULTS_FORMAT_VERSION, "cell": self.cell, "status": self.status,
                "records": [r.to_json() for r in self.records], "error": self.error, "wall_seconds": self.wall_seconds,
                "versions": self.versions, "git_revision": self.git_revision}

    def to_file(self, path: str | Path) -> None:
        content = self.to_json()
        schema.check("results", content, path)
        io.write_json(path, content)

    @classmethod
    def from_json(cls, content: dict) -> CellResult:
        return cls(content.get("cell") or {}, content.get("status", "ok"),
                   [Record.from_json(r) for r in content.get("records") or []], content.get("error"),
                   content.get("wall_seconds"), content.get("versions") or {}, content.get("git_revision"))

    @classmethod
    def from_file(cls, path: str | Path) -> CellResult:
        return cls.from_json(_check_version(Path(path), io.read_json(path)))


def read_results(path: str | Path) -> ResultsFile | CellResult:
    """A results file of either kind (a cell's has a ``status``). Another format version raises; a file that is
    not JSON raises ``ValueError``; one without a list of records (status ok) raises :class:`CodecBenchError`."""
    path = Path(path)
    content = _check_version(path, io.read_json(path))
    if content.get("status", "ok") == "ok" and not isinstance(content.get("records"), list):
        raise CodecBenchError(f"{path}: has no list of \"records\"; not a codec-bench results file")
    return CellResult.from_json(content) if "status" in content else ResultsFile.from_json(content)
