"""MTG-Jamendo: 55,000+ full-length Creative Commons tracks with genre, instrument and mood/theme tags.

- Source: D. Bogdanov et al., "The MTG-Jamendo Dataset for Automatic Music Tagging" (ICML 2019 ML4MD workshop);
  metadata github.com/MTG/mtg-jamendo-dataset (``data/``), audio via its ``scripts/download/download.py``.
- License: metadata CC BY-NC-SA 4.0; each track under its own CC license (``audio_licenses.txt``).
- Layout: the repository's ``data/splits/split-0/autotagging_{subset}-{train,validation,test}.tsv`` under ROOT
  and the unpacked audio under ``ROOT/audio/{NN}/{track}.mp3`` (the TSV's ``PATH``; the ``audio-low`` download
  names the same files ``{track}.low.mp3``, also accepted).
- TSV: ``TRACK_ID, ARTIST_ID, ALBUM_ID, PATH, DURATION, TAGS``, where the tags spill over further tab-separated
  columns. Label: each tag without its category prefix (``genre---rock`` -> ``rock``,
  ``mood/theme---happy`` -> ``happy``). Multi-label; full tracks (> 30 s, ``audio.py`` may truncate).
- Design: the three tag categories are three tasks with their own classes and instructions, so they are
  three registered datasets (``mtg_jamendo_genre``, ``mtg_jamendo_instrument``, ``mtg_jamendo_moodtheme``)
  sharing this loader; ``ARTIST_ID`` is kept as the clip's group (``speaker``).
- Protocol ``official``: split-0 (the standard one of the 5 official splits, which keep each artist on one
  side; MediaEval uses split-0 mood/theme). Nothing is drawn at random. Checked against the real split-0 TSVs
  (counts per split, tag spill-over columns).
"""

from __future__ import annotations

import csv
from functools import partial
from pathlib import Path

from ..core.errors import CodecBenchError
from .common import keep_existing, readable, require
from .manifest import Clip, DatasetSpec, Manifest, finalize

SPLIT_DIR = "data/splits/split-0"
SPLITS = {"train": "train", "validation": "validation", "test": "test"}
COLUMNS = ["TRACK_ID", "ARTIST_ID", "ALBUM_ID", "PATH", "DURATION", "TAGS"]
SUBSETS = {  # subset -> (instruction, number of tags in the split-0 files)
    "genre": ("Which genres describe this music? Answer with the genres.", 87),
    "instrument": ("Which instruments are playing in this music? Answer with their names.", 40),
    "moodtheme": ("Which moods or themes describe this music? Answer with them.", 56),
}
LAYOUT = """ROOT/
  data/splits/split-0/
    autotagging_{subset}-train.tsv        TRACK_ID ARTIST_ID ALBUM_ID PATH DURATION TAGS [more tags...]
    autotagging_{subset}-validation.tsv   (subset: genre | instrument | moodtheme)
    autotagging_{subset}-test.tsv
  audio/
    00/ ... 99/
      948.mp3                             PATH column (or 948.low.mp3)"""


def load(root: Path, protocol: str = "official", fold: str | None = None, *, subset: str = "genre") -> Manifest:
    """Read one MTG-Jamendo tag category (``subset``) under the split-0 protocol (no folds)."""
    if subset not in SUBSETS:
        raise CodecBenchError(f"mtg_jamendo: unknown subset {subset!r}; choose one of {', '.join(SUBSETS)}")
    root = Path(root).resolve()
    files = {split: f"{SPLIT_DIR}/autotagging_{subset}-{split}.tsv" for split in SPLITS}
    require(root, f"mtg_jamendo_{subset}", LAYOUT.replace("{subset}", subset), *files.values(), "audio")
    clips = [c for split, rel in files.items() for c in _read_split(root, root / rel, SPLITS[split])]
    skipped: list[dict] = []
    clips = keep_existing(clips, skipped, str(root / SPLIT_DIR))
    instruction = SUBSETS[subset][0]
    return finalize(Manifest(f"mtg_jamendo_{subset}", "multi_label", "music", instruction, [], clips, protocol,
                             None, skipped))


def _read_split(root: Path, tsv: Path, split: str) -> list[Clip]:
    with open(tsv, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    if not rows or rows[0][: len(COLUMNS)] != COLUMNS:
        raise CodecBenchError(f"{tsv}: header is not {' '.join(COLUMNS)}; use the file from MTG/mtg-jamendo-dataset")
    return [_clip(root, row, split) for row in rows[1:] if row]


def _clip(root: Path, row: list[str], split: str) -> Clip:
    track_id, artist_id, _, relpath = row[:4]
    path = root / "audio" / relpath
    low = path.with_suffix(".low.mp3")
    if not path.is_file() and low.is_file():
        path = low
    labels = tuple(sorted({readable(tag.split("---", 1)[-1]) for tag in row[5:] if tag.strip()}))
    return Clip(id=track_id, path=str(path), labels=labels, split=split, speaker=artist_id)


def _spec(subset: str) -> DatasetSpec:
    instruction, num_tags = SUBSETS[subset]
    return DatasetSpec(
        name=f"mtg_jamendo_{subset}", domain="music", task="multi_label", instruction=instruction,
        protocols=("official",), layout=LAYOUT.replace("{subset}", subset), load=partial(load, subset=subset),
        num_classes=num_tags,
        protocol_notes={"official": f"official artist-aware split-0 (data/splits/split-0/autotagging_{subset}-*.tsv, "
                                    "Bogdanov et al. 2019)"},
    )


GENRE, INSTRUMENT, MOODTHEME = _spec("genre"), _spec("instrument"), _spec("moodtheme")
