"""``<run>/unit-merges.json``: the acoustic-BPE merges a run learned on its training split (``llm.unit_bpe``).

    {"version": 1, "units": 256, "requested": 64, "merges": [[left, right, merged], ...], "clips": 600,
     "trained_on": "<sha256 of the training clip ids>"}

``units``: the codec's units (codebooks x codebook size); ``requested``: the run's ``--bpe``; ``merges``: in the
order learned, ids below ``units`` are units and ``units + k`` the k-th merged unit (token ``<|bpe_k|>``);
``clips`` and ``trained_on``: the training clips they were learned on. Written once, atomically, on one line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..core import io
from ..core.errors import CodecBenchError

VERSION = 1


@dataclass
class UnitMerges:
    units: int
    requested: int
    merges: list[tuple[int, int, int]]
    clips: int
    trained_on: str

    def to_file(self, path: str | Path) -> None:
        row = {"version": VERSION, "units": self.units, "requested": self.requested,
               "merges": [list(m) for m in self.merges], "clips": self.clips, "trained_on": self.trained_on}
        io.write_text(path, json.dumps(row, separators=(",", ":")) + "\n")

    @classmethod
    def from_file(cls, path: str | Path) -> UnitMerges:
        row = io.read_json(path)
        if row.get("version") != VERSION:
            raise CodecBenchError(f"{path}: unit merges of format {row.get('version')}, this codec-bench reads "
                                  f"{VERSION}; delete the run folder to learn them again")
        return cls(int(row["units"]), int(row["requested"]), [tuple(m) for m in row["merges"]], int(row["clips"]),
                   row["trained_on"])
