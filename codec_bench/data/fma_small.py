"""FMA-small: 8,000 thirty-second MP3 clips of Free Music Archive tracks, 8 balanced top-level genres.

- Source: M. Defferrard et al., "FMA: A Dataset for Music Analysis" (ISMIR 2017); github.com/mdeff/fma,
  ``fma_small.zip`` (7.2 GiB) and ``fma_metadata.zip`` (342 MiB) from os.unil.cloud.switch.ch/fma/.
- License: metadata CC BY 4.0; each track under its artist's Creative Commons license.
- Layout: ``fma_small/{000..155}/{track_id:06d}.mp3`` (subfolder = first 3 digits of the 6-digit id) and
  ``fma_metadata/tracks.csv``, which has two header rows (column group, column) plus a ``track_id`` row.
  A flattened ``fma_small/{track_id:06d}.mp3`` folder (what ARCH expects) is read too.
- Label: ``('track', 'genre_top')``: Electronic, Experimental, Folk, Hip-Hop, Instrumental, International,
  Pop, Rock (single-label). Only rows with ``('set', 'subset') == 'small'`` are read.
- Protocols: ``official`` = ``('set', 'split')`` training / validation / test (80/10/10; the FMA paper makes it
  artist-aware); ``arch`` = ARCH's random 80/10/10 (seed 42, not stratified) over the tracks whose file exists,
  drawn by whole artists (``('artist', 'id')``) so no artist straddles two splits (ARCH draws single tracks).
  Same fractions and seed as ARCH, not the same permutation (ARCH uses scikit-learn's shuffle).
- Errata: tracks 099134, 108925, 133297 hold no audio and a few are shorter than 30 s (mdeff/fma issues 8, 41,
  44); they load here and fail at decoding, where ``audio.py`` reports them.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ..core.errors import CodecBenchError
from .common import keep_existing, random_validation, require
from .manifest import Clip, DatasetSpec, Manifest, finalize

NAME = "fma_small"
INSTRUCTION = "Which genre is this music? Answer with the genre."
OFFICIAL_SPLITS = {"training": "train", "validation": "validation", "test": "test"}
COLUMNS = {"subset": ("set", "subset"), "split": ("set", "split"), "genre": ("track", "genre_top"),
           "artist": ("artist", "id")}
LAYOUT = """ROOT/
  fma_small/
    000/000002.mp3           {first 3 digits}/{track_id:06d}.mp3   (or flat: fma_small/000002.mp3)
    ...
    155/
  fma_metadata/
    tracks.csv               2 header rows; uses (set, subset), (set, split), (track, genre_top), (artist, id)"""


def load(root: Path, protocol: str = "official", fold: str | None = None) -> Manifest:
    """Read FMA-small under ``official`` (the ``split`` column) or ``arch`` (random 80/10/10, seed 42)."""
    root = Path(root).resolve()
    require(root, NAME, LAYOUT, "fma_metadata/tracks.csv", "fma_small")
    if protocol not in ("official", "arch"):
        raise CodecBenchError(f"{NAME}: unknown protocol {protocol!r}; choose official or arch")
    tracks = _small_tracks(root / "fma_metadata" / "tracks.csv")
    nested = any(p.is_dir() for p in (root / "fma_small").iterdir())
    clips = [_clip(root, track_id, genre, split, artist, nested) for track_id, genre, split, artist in tracks]
    skipped: list[dict] = []
    clips = keep_existing(clips, skipped, str(root / "fma_metadata" / "tracks.csv"))
    if protocol == "arch":
        clips = _random_split(clips)
    return finalize(Manifest(NAME, "single_label", "music", INSTRUCTION, [], clips, protocol, None, skipped))


def _small_tracks(path: Path) -> list[tuple[str, str, str, str]]:
    """(track id, genre, split, artist id) for every small-subset row of ``tracks.csv`` with a top genre."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        groups, names = next(reader), next(reader)
        header = list(zip(groups, names))
        missing = [f"{g}.{n}" for g, n in COLUMNS.values() if (g, n) not in header]
        if missing:
            raise CodecBenchError(f"{path}: missing column(s) {', '.join(missing)}; "
                                  "use tracks.csv from fma_metadata.zip")
        at = {key: header.index(column) for key, column in COLUMNS.items()}
        rows = [r for r in reader if r and r[0].isdigit()]  # skips the third header row ("track_id,,,")
    return [(f"{int(r[0]):06d}", r[at["genre"]], OFFICIAL_SPLITS.get(r[at["split"]], ""), r[at["artist"]])
            for r in rows if r[at["subset"]] == "small" and r[at["genre"]]]


def _clip(root: Path, track_id: str, genre: str, split: str, artist: str, nested: bool) -> Clip:
    relpath = f"fma_small/{track_id[:3]}/{track_id}.mp3" if nested else f"fma_small/{track_id}.mp3"
    if not split:
        raise CodecBenchError(f"{root}/fma_metadata/tracks.csv: track {track_id} has no training/validation/test "
                              "split; use the original tracks.csv")
    return Clip(id=track_id, path=str(root / relpath), labels=(genre,), split=split, speaker=artist or None)


def _random_split(clips: list[Clip]) -> list[Clip]:
    """ARCH: 10 % test, then validation = 1/9 of the rest (10 % overall), seed 42; whole artists each time
    (a track without an artist id is its own group)."""
    artist = {c.id: c.speaker or f"track {c.id}" for c in clips}
    test = random_validation([c.id for c in clips], 0.1, seed=42, groups=artist)
    validation = random_validation([c.id for c in clips if c.id not in test], 1 / 9, seed=42, groups=artist)
    split = {i: "test" if i in test else "validation" if i in validation else "train" for i in (c.id for c in clips)}
    return [Clip(c.id, c.path, c.labels, split[c.id], c.speaker, c.extra) for c in clips]


SPEC = DatasetSpec(
    name=NAME, domain="music", task="single_label", instruction=INSTRUCTION, protocols=("official", "arch"),
    layout=LAYOUT, load=load, num_classes=8,
    protocol_notes={
        "official": "official split (fma_metadata/tracks.csv `set.split`, Defferrard et al. 2017), artist-aware",
        "arch": "ARCH (La Quatra et al. 2024): random 80/10/10, seed 42, drawn by artist id",
    },
)
