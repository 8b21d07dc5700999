"""``OUT/<name>/fidelity__<codec>/``: how close one codec's decoded audio is to its input, on a sample of a dataset
fold's test clips (the fidelity stage writes it, the report reads it).

    fidelity.json    :class:`FidelitySummary`: the codec, its bitrate, whether it decodes (else why not, one line),
                     the metrics' means with 95 % intervals, the clips, decode time and audio seconds
    clips.jsonl      one :class:`FidelityClip` row per scored clip: id, seconds, decode seconds, every metric
    clips.partial.jsonl   rows of the batches done so far (a stopped stage resumes from them; gone when finished)
    done.json        the done-marker over both finished files

A metric a clip could not get (PESQ finding no utterance) is ``null``, never a number.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Iterable

from ..core import io
from .layout import DONE

FIDELITY_PREFIX = "fidelity__"
SUMMARY = "fidelity.json"
CLIPS = "clips.jsonl"
PARTIAL = "clips.partial.jsonl"


@dataclass
class FidelityClip:
    """One scored clip: ``metrics`` by name (None where the metric could not score it)."""

    id: str
    seconds: float
    decode_seconds: float
    metrics: dict[str, float | None] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"id": self.id, "seconds": self.seconds, "decode_seconds": self.decode_seconds,
                "metrics": {k: None if v is None or math.isnan(v) else v for k, v in self.metrics.items()}}

    @classmethod
    def from_json(cls, row: dict) -> FidelityClip:
        return cls(row["id"], float(row["seconds"]), float(row["decode_seconds"]),
                   {k: math.nan if v is None else float(v) for k, v in row.get("metrics", {}).items()})


@dataclass
class FidelitySummary:
    """What ``fidelity.json`` holds. ``codec``: the codec as results name it (``config.codec_label``);
    ``metrics``: name -> ``{"mean", "low", "high", "n"}`` (``evaluation.fidelity.summarise``, NaN written as null);
    ``decode_seconds`` / ``audio_seconds``: the decoder's time over the clips' audio."""

    dataset: str
    fold: str | None
    domain: str
    codec: str
    codec_name: str
    codec_key: str
    sample_rate_hz: int
    bitrate_bps: float | None
    decodable: bool
    note: str = ""
    metrics: dict[str, dict] = field(default_factory=dict)
    clips: int = 0
    decode_seconds: float = 0.0
    audio_seconds: float = 0.0
    device: str = "cpu"

    def to_file(self, path: str | Path) -> None:
        io.write_json(path, _without_nan(asdict(self)))

    @classmethod
    def from_file(cls, path: str | Path) -> FidelitySummary:
        content = io.read_json(path)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in content.items() if k in known})


@dataclass(frozen=True)
class FidelityFolder:
    """``OUT/<name>/fidelity__<codec>/``."""

    path: Path

    @classmethod
    def of(cls, out: str | Path, name: str, codec: str) -> FidelityFolder:
        """The folder of dataset fold ``name`` (a manifest's name) and codec ``codec`` (its label in results)."""
        return cls(Path(out) / name / f"{FIDELITY_PREFIX}{codec}")

    @property
    def summary(self) -> Path:
        return self.path / SUMMARY

    @property
    def clips(self) -> Path:
        return self.path / CLIPS

    @property
    def partial(self) -> Path:
        return self.path / PARTIAL

    @property
    def done(self) -> Path:
        return self.path / DONE

    def read_clips(self) -> list[FidelityClip]:
        return [FidelityClip.from_json(row) for row in io.read_jsonl(self.clips)]

    def read_partial(self) -> list[FidelityClip]:
        """The rows of the batches finished so far; a line cut short by a stop is dropped."""
        rows = []
        if self.partial.is_file():
            for line in self.partial.read_text(encoding="utf-8").splitlines():
                try:
                    rows.append(FidelityClip.from_json(json.loads(line)))
                except (ValueError, KeyError):
                    break
        return rows

    def append_partial(self, rows: Iterable[FidelityClip]) -> None:
        """Append a finished batch's rows and flush them to disk."""
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.partial, "a", encoding="utf-8") as f:
            f.writelines(json.dumps(row.to_json()) + "\n" for row in rows)
            f.flush()
            os.fsync(f.fileno())


def _without_nan(value):
    """``value`` with every NaN float (a metric no clip got) as None: JSON has no NaN."""
    if isinstance(value, dict):
        return {k: _without_nan(v) for k, v in value.items()}
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def fidelity_folders(out: str | Path) -> list[FidelityFolder]:
    """Every finished fidelity folder under an output folder (a done-marker beside its summary)."""
    return [FidelityFolder(p.parent) for p in sorted(Path(out).glob(f"*/{FIDELITY_PREFIX}*/{SUMMARY}"))
            if (p.parent / DONE).is_file()]
