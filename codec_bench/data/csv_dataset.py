"""Your own data: a folder with ``metadata.csv`` (no code needed).

Layout::

    ROOT/
      metadata.csv          columns: path, label | labels, [split], [speaker]
      instruction.txt       optional: the instruction sentence for the prompt
      any/sub/folders/clip.wav

- ``path`` is relative to ROOT and must stay inside it.
- ``label`` (single-label) or ``labels`` (multi-label, ``;``-separated) holds the label text as it should
  appear in the answer.
- ``split`` is ``train``, ``validation`` or ``test``; without the column, a stratified 80/10/10 split with seed
  0 is made (by label, or by the first label of a multi-label clip), keeping all clips of one ``speaker``
  (any source id: speaker, recording, artist) on one side when that column is filled.
- A row whose audio file is missing is skipped and counted; every other problem stops with one line naming
  the row and the fix.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ..core import ui
from ..core.errors import CodecBenchError
from .common import keep_existing, stratified_split
from .manifest import SPLITS, Clip, DatasetSpec, Manifest, finalize

LAYOUT = """ROOT/
  metadata.csv      path,label[,split]   or   path,labels[,split]  (labels ';'-separated)
  instruction.txt   (optional)
  <audio files, paths relative to ROOT>"""

DEFAULT_INSTRUCTION = "Classify this audio clip. Answer with the label."


def load(root: Path, protocol: str = "official", fold: str | None = None, *, name: str = "csv",
         domain: str = "sound", instruction: str | None = None) -> Manifest:
    """Read ``root/metadata.csv`` into a Manifest (see the module docstring for the format)."""
    root = Path(root).resolve()
    meta = root / "metadata.csv"
    if not meta.is_file():
        raise CodecBenchError(f"{meta}: metadata.csv not found; create it with columns path,label[,split]. Expected:\n{LAYOUT}")
    rows, columns = _read_rows(meta)
    label_column = _label_column(meta, columns)
    task = "single_label" if label_column == "label" else "multi_label"
    clips = [_clip(meta, root, i, row, label_column) for i, row in enumerate(rows, start=2)]
    if not clips:
        raise CodecBenchError(f"{meta}: no rows; add one row per audio file")
    if "split" not in columns:
        groups = [c.speaker or c.id for c in clips]
        assignment = stratified_split([c.id for c in clips], [c.labels[0] for c in clips], seed=0, groups=groups)
        clips = [Clip(c.id, c.path, c.labels, assignment[c.id], c.speaker) for c in clips]
    skipped: list[dict] = []
    clips = keep_existing(clips, skipped, str(meta))
    if instruction is None:
        custom = root / "instruction.txt"
        instruction = custom.read_text(encoding="utf-8").strip() if custom.is_file() else DEFAULT_INSTRUCTION
    manifest = Manifest(name, task, domain, instruction, [], clips, protocol, fold, skipped)
    return finalize(manifest)


DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}


def _read_rows(meta: Path) -> tuple[list[dict], list[str]]:
    """Rows and column names; the delimiter (comma, semicolon or tab) is read off the header line and named."""
    try:
        with open(meta, newline="", encoding="utf-8-sig") as f:
            delimiter = _delimiter(f.readline())
            f.seek(0)
            reader = csv.DictReader(f, delimiter=delimiter)
            rows = list(reader)
            columns = [c.strip() for c in (reader.fieldnames or [])]
    except (UnicodeDecodeError, csv.Error) as err:
        raise CodecBenchError(f"{meta}: not a readable UTF-8 CSV ({err}); save it as UTF-8 comma-separated") from err
    if delimiter != ",":
        ui.say(f"{meta}: read as {DELIMITERS[delimiter]}-separated")
    rows = [{(k or "").strip(): (v or "").strip() if isinstance(v, str) else v for k, v in r.items()} for r in rows]
    return rows, columns


def _delimiter(header: str) -> str:
    """The delimiter of a header line: the one of comma, semicolon and tab that splits it into the most columns
    (a comma when none splits it)."""
    return max(DELIMITERS, key=lambda d: (header.count(d), d == ","))


def _label_column(meta: Path, columns: list[str]) -> str:
    if "path" not in columns:
        raise CodecBenchError(
            f"{meta}: missing column 'path' (found: {', '.join(columns) or 'none'}); add a header row path,label[,split]"
        )
    has = [c for c in ("label", "labels") if c in columns]
    if len(has) != 1:
        raise CodecBenchError(
            f"{meta}: need exactly one of the columns 'label' (single-label) or 'labels' (multi-label, ';'-separated); "
            f"found {', '.join(columns)}"
        )
    return has[0]


def _clip(meta: Path, root: Path, line: int, row: dict, label_column: str) -> Clip:
    where = f"{meta}, line {line}"
    rel = row.get("path") or ""
    if not rel:
        raise CodecBenchError(f"{where}: empty path; fill in the audio file's path relative to {root}")
    path = (root / rel).resolve()
    if not path.is_relative_to(root):
        raise CodecBenchError(f"{where}: path {rel!r} points outside {root}; use a path inside the dataset folder")
    raw = row.get(label_column) or ""
    labels = (
        tuple(sorted({l.strip() for l in raw.split(";") if l.strip()})) if label_column == "labels" else ((raw,) if raw else ())
    )
    if not labels:
        raise CodecBenchError(f"{where}: empty {label_column}; every row needs a label")
    split = row.get("split")
    if split is not None and split not in SPLITS:
        raise CodecBenchError(f"{where}: split {split!r} is not one of {', '.join(SPLITS)}")
    return Clip(id=rel, path=str(path), labels=labels, split=split or "train", speaker=row.get("speaker") or None)


SPEC = DatasetSpec(
    name="csv",
    domain="sound",
    task="single_label or multi_label (from the label column)",
    instruction=DEFAULT_INSTRUCTION,
    protocols=("official",),
    layout=LAYOUT,
    load=load,
    protocol_notes={"official": "your `split` column, else stratified 80/10/10 by label, seed 0, by `speaker`"},
)
