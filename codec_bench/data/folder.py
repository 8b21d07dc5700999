"""Your own data as one folder per label (no metadata file, no code needed).

Layout (either)::

    ROOT/<label>/<audio files>                               split made here
    ROOT/{train,validation,test}/<label>/<audio files>       split given by the folders

- The label is the folder name made readable (``dog_bark`` -> ``dog bark``); files may sit in sub-folders of
  the label folder. Single-label. Audio = any suffix in ``common.AUDIO_SUFFIXES``; other files are ignored.
- Without split folders: a stratified 80/10/10 split by label with seed 0.
- With split folders: ``train`` and ``test`` are required; without ``validation``, about 10 % of each label's
  training files (at least one, for labels with 3+ files; stratified, seed 0) become the validation split.
- ``instruction.txt`` at ROOT (optional) holds the instruction sentence for the prompt.
"""

from __future__ import annotations

from pathlib import Path

from ..core.errors import CodecBenchError
from .common import audio_files, readable, require, stratified_split
from .manifest import Clip, DatasetSpec, Manifest, finalize

DEFAULT_INSTRUCTION = "Classify this audio clip. Answer with the label."
SPLIT_FOLDERS = {"train", "validation", "test"}
LAYOUT = """ROOT/
  <label>/<audio files>                           (split made here: stratified 80/10/10, seed 0)
or
  train/<label>/<audio files>
  validation/<label>/<audio files>                (optional: else 10 % of train)
  test/<label>/<audio files>
  instruction.txt                                 (optional)"""


def load(root: Path, protocol: str = "official", fold: str | None = None, *, name: str = "folder",
         domain: str = "sound", instruction: str | None = None) -> Manifest:
    """Read a folder-per-label tree (see the module docstring) into a single-label Manifest."""
    root = Path(root).resolve()
    require(root, name, LAYOUT)
    folders = {p.name for p in root.iterdir() if p.is_dir()}
    clips = _split_layout(root, folders, name) if folders & SPLIT_FOLDERS else _flat_layout(root)
    if not clips:
        raise CodecBenchError(f"{name}: no audio files in label folders under {root}. Expected:\n{LAYOUT}")
    if instruction is None:
        custom = root / "instruction.txt"
        instruction = custom.read_text(encoding="utf-8").strip() if custom.is_file() else DEFAULT_INSTRUCTION
    return finalize(Manifest(name, "single_label", domain, instruction, [], clips, protocol, None))


def _labelled(root: Path, folder: Path, split: str) -> list[Clip]:
    """Clips under ``folder/<label>/...``, labelled by the first folder below ``folder``."""
    return [Clip(id=p.relative_to(root).as_posix(), path=str(p), labels=(readable(p.relative_to(folder).parts[0]),),
                 split=split) for p in audio_files(folder) if len(p.relative_to(folder).parts) > 1]


def _flat_layout(root: Path) -> list[Clip]:
    clips = _labelled(root, root, "train")
    split_of = stratified_split([c.id for c in clips], [c.labels[0] for c in clips], (0.8, 0.1, 0.1), seed=0)
    return [Clip(c.id, c.path, c.labels, split_of[c.id]) for c in clips]


def _split_layout(root: Path, folders: set[str], name: str) -> list[Clip]:
    missing = {"train", "test"} - folders
    if missing:
        raise CodecBenchError(f"{name}: {root} has split folders but no {', '.join(sorted(missing))}/. "
                              f"Expected:\n{LAYOUT}")
    clips = [c for split in sorted(SPLIT_FOLDERS & folders) for c in _labelled(root, root / split, split)]
    if "validation" in folders:
        return clips
    train = [c for c in clips if c.split == "train"]
    held_out = stratified_split([c.id for c in train], [c.labels[0] for c in train], (0.9, 0.05, 0.05), seed=0)
    # stratified_split always fills all three parts; both held-out parts become validation here
    return [Clip(c.id, c.path, c.labels, "validation") if c.split == "train" and held_out[c.id] != "train" else c
            for c in clips]


SPEC = DatasetSpec(
    name="folder", domain="sound", task="single_label", instruction=DEFAULT_INSTRUCTION, protocols=("official",),
    layout=LAYOUT, load=load,
    protocol_notes={"official": "your split folders, else stratified 80/10/10 by label, seed 0"},
)
