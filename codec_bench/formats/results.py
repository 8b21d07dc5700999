"""Result records and the files that hold them: a folder's ``records.json``, a report's ``results.json`` and a
study's per-cell result files ``OUT/results/<cell>.json``, with their format version.

A record is one evaluated run on one split of one fold, a JSON object with the same keys as :class:`Record`'s
fields. ``records.json`` is a list of them; ``results.json`` and a cell file are JSON objects with
``format_version`` (:data:`RESULTS_FORMAT_VERSION`) and ``records``: a report's adds ``aggregated``, ``statistics``
and ``failed_cells`` (and ``selection`` when recipes were chosen on validation); a cell's adds ``cell``, ``status``
("ok" or "failed"), ``error``, ``wall_seconds``, ``versions`` and ``git_revision``. Each class writes its file with
``to_file`` and reads it with ``from_file``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..core import io
from ..core.errors import CodecBenchError

RESULTS_FORMAT_VERSION = 1  # of results.json and of a study's per-cell files OUT/results/*.json


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
    """``records.json``: the records of one folder (a run's ``eval/``, the baseline's, the probe rows')."""

    records: list[Record]

    def to_file(self, path: str | Path) -> None:
        io.write_json(path, [r.to_json() for r in self.records])

    @classmethod
    def from_file(cls, path: str | Path) -> RecordsFile:
        """Raises ``ValueError`` (``json.JSONDecodeError`` among them) for a damaged file."""
        rows = io.read_json(path)
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ValueError("not a list of records")
        return cls([Record.from_json(r) for r in rows])


class FormatVersionError(CodecBenchError):
    """A results file of another format version (``version``: what it says, None when it says nothing)."""

    def __init__(self, path: Path, version: Any):
        super().__init__(f"{path}: results format_version {version!r}; this codec-bench reads "
                         f"format_version {RESULTS_FORMAT_VERSION} (upgrade codec-bench or rerun the cell)")
        self.version = version


def _check_version(path: Path, content: Any) -> dict:
    if not isinstance(content, dict):
        raise FormatVersionError(path, None)
    if content.get("format_version") != RESULTS_FORMAT_VERSION:
        raise FormatVersionError(path, content.get("format_version"))
    return content


@dataclass
class ResultsFile:
    """A report's ``results.json``: its records, the aggregated rows, the statistics and the failed cells listed."""

    records: list[Record]
    aggregated: list[dict] = field(default_factory=list)
    statistics: dict = field(default_factory=dict)
    failed_cells: list[dict] = field(default_factory=list)
    selection: list[dict] = field(default_factory=list)  # the recipes chosen on validation (``report.selection``)

    def to_json(self) -> dict:
        return {"format_version": RESULTS_FORMAT_VERSION, "records": [r.to_json() for r in self.records],
                "aggregated": self.aggregated, "statistics": self.statistics, "failed_cells": list(self.failed_cells)} | (
                {"selection": list(self.selection)} if self.selection else {})

    def to_file(self, path: str | Path) -> None:
        io.write_json(path, self.to_json())

    @classmethod
    def from_json(cls, content: dict) -> ResultsFile:
        return cls([Record.from_json(r) for r in content["records"]], content.get("aggregated", []),
                   content.get("statistics", {}), content.get("failed_cells", []), content.get("selection", []))

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
        io.write_json(path, self.to_json())

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
