"""Medley-solos-DB: ~21,600 three-second solo excerpts of 8 instruments, cross-collection split.

- Source: V. Lostanlen, C.-E. Cella, "Deep convolutional networks on the pitch spiral for musical instrument
  recognition" (ISMIR 2016); zenodo.org/record/3464194 (``Medley-solos-DB.tar.gz`` and
  ``Medley-solos-DB_metadata.csv``; ARCH also cites record 2582103 for the CSV).
- License: CC BY 4.0.
- Layout: the tarball is flat; ARCH and mirdata extract it into ``audio/``, which is what this loader expects
  (audio straight under ROOT is accepted too). File name
  ``Medley-solos-DB_{subset}-{instrument_id}_{uuid4}.wav``; CSV columns
  ``subset, instrument, instrument_id, song_id, uuid4``.
- Label: the CSV's ``instrument`` name (clarinet, distorted electric guitar, female singer, flute, piano,
  tenor saxophone, trumpet, violin), made readable. Single-label, 8 classes. ``song_id`` is kept as the
  clip's group (``speaker``) since excerpts of one song never cross subsets.
- Protocol ``official`` (= ARCH's): the ``subset`` column, ``training`` / ``validation`` / ``test``
  (training and validation come from MedleyDB, test from solosDB). Nothing is drawn at random; the corpus's
  subsets keep each ``song_id`` on one side [assumed from its paper, not re-checked].
"""

from __future__ import annotations

from pathlib import Path

from ..core.errors import CodecBenchError
from .common import keep_existing, read_table, readable, require
from .manifest import Clip, DatasetSpec, Manifest, finalize

NAME = "medley_solos_db"
METADATA = "Medley-solos-DB_metadata.csv"
INSTRUCTION = "Which instrument is playing? Answer with its name."
SUBSETS = {"training": "train", "validation": "validation", "test": "test"}
LAYOUT = """ROOT/
  Medley-solos-DB_metadata.csv     subset,instrument,instrument_id,song_id,uuid4
  audio/
    Medley-solos-DB_training-0_0a6f7d3c-....wav    Medley-solos-DB_{subset}-{instrument_id}_{uuid4}.wav"""


def load(root: Path, protocol: str = "official", fold: str | None = None) -> Manifest:
    """Read Medley-solos-DB with its official subsets (one protocol, no folds)."""
    root = Path(root).resolve()
    require(root, NAME, LAYOUT, METADATA)
    audio = root / "audio" if (root / "audio").is_dir() else root
    rows = read_table(root / METADATA, ["subset", "instrument", "instrument_id", "song_id", "uuid4"])
    clips = [_clip(root, audio, row) for row in rows]
    skipped: list[dict] = []
    clips = keep_existing(clips, skipped, str(root / METADATA))
    return finalize(Manifest(NAME, "single_label", "music", INSTRUCTION, [], clips, protocol, None, skipped))


def _clip(root: Path, audio: Path, row: dict) -> Clip:
    if row["subset"] not in SUBSETS:
        raise CodecBenchError(f"{root / METADATA}: subset {row['subset']!r} of clip {row['uuid4']} is not one of "
                              f"{', '.join(SUBSETS)}; use the original metadata CSV")
    path = audio / f"Medley-solos-DB_{row['subset']}-{row['instrument_id']}_{row['uuid4']}.wav"
    return Clip(id=path.relative_to(root).as_posix(), path=str(path), labels=(readable(row["instrument"]),),
                split=SUBSETS[row["subset"]], speaker=row["song_id"] or None)


SPEC = DatasetSpec(
    name=NAME, domain="music", task="single_label", instruction=INSTRUCTION, protocols=("official",),
    layout=LAYOUT, load=load, num_classes=8,
    protocol_notes={"official": "official Medley-solos-DB_metadata.csv `subset` (Lostanlen & Cella 2016; = ARCH)"},
)
