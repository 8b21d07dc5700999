"""``OUT/grids.json``: a folder's recipe grids and whether its report selects within them on validation.

Written by a study (``select`` from its file, every grid it expanded) and by ``run --tune`` (merged with the grids
already there); read by the report (``report.selection``). ``grids``: grid name -> its recipes in order, each
``{"name", "settings"}`` (the recipe's settings, no seed)::

    {"select": "validation", "grids": {"full": [{"name": "full-lr0.001-ep4", "settings": {"epochs": 4, ...}}, ...]}}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..core import io

SELECTIONS = ("none", "validation")


@dataclass
class GridsFile:
    """What ``grids.json`` holds."""

    select: str = "none"
    grids: dict[str, list[dict]] = field(default_factory=dict)

    def to_file(self, path: str | Path, merge: bool = False) -> None:
        """Write the grids (``merge``: with those already in the file, ours replacing one of the same name); no grid
        at all removes the file, so an earlier study's grids cannot select in a later one's report."""
        grids = (GridsFile.from_file(path).grids if merge else {}) | self.grids
        if not grids:
            Path(path).unlink(missing_ok=True)
            return
        io.write_json(path, {"select": self.select, "grids": grids})

    @classmethod
    def from_file(cls, path: str | Path) -> GridsFile:
        """The file's grids; an absent file is no grid."""
        if not Path(path).is_file():
            return cls()
        content = io.read_json(path)
        return cls(content.get("select", "none"), content.get("grids") or {})

    def selected(self) -> dict[str, list[dict]]:
        """The grids a report selects within: all of them with ``select: validation``, else none."""
        return self.grids if self.select == "validation" else {}
