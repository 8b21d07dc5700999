"""GTZAN: 1,000 thirty-second music excerpts, 100 in each of 10 genres.

- Source: G. Tzanetakis, P. Cook, "Musical genre classification of audio signals" (IEEE TSAP 2002);
  ``genres.tar.gz`` (marsyas / opihi.cs.uvic.ca). Known faults (repeats, mislabels, distortions) are
  catalogued by B. Sturm (2013).
- License: none stated.
- Layout: ``genres/{genre}/{genre}.{00000-00099}.au`` (22,050 Hz mono) plus ``.mf`` list files; many mirrors
  ship ``.wav`` instead of ``.au``: both are read. ROOT may be the ``genres/`` folder or its parent.
- Label: the parent folder, which must equal the file name's first ``.`` token and be one of the 10 genres
  (blues, classical, country, disco, hiphop, jazz, metal, pop, reggae, rock). Single-label.
- Protocol ``official``: GTZAN has no official split, so this is a stratified 80/10/10 split with seed 0 (not
  artist-aware). The fault-filtered artist split (Kereliuk et al. 2015) needs its list files, which are not
  part of the corpus, and is not provided.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import CodecBenchError
from .common import audio_files, require, stratified_split
from .manifest import Clip, DatasetSpec, Manifest, finalize

NAME = "gtzan"
GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
INSTRUCTION = "Which genre is this music? Answer with the genre."
LAYOUT = """ROOT/
  genres/
    blues/ classical/ country/ disco/ hiphop/ jazz/ metal/ pop/ reggae/ rock/
      blues.00000.au           {genre}.{00000-00099}.au (or .wav)"""


def load(root: Path, protocol: str = "official", fold: str | None = None) -> Manifest:
    """Read GTZAN and split it 80/10/10, stratified by genre, seed 0 (one protocol, no folds)."""
    root = Path(root).resolve()
    genres = root / "genres" if (root / "genres").is_dir() else root
    require(root, NAME, LAYOUT, *[str((genres / g).relative_to(root)) for g in GENRES])
    files = audio_files(genres)
    labels = [_genre(path) for path in files]
    ids = [path.relative_to(root).as_posix() for path in files]
    split_of = stratified_split(ids, labels, (0.8, 0.1, 0.1), seed=0)
    clips = [Clip(id=i, path=str(p), labels=(g,), split=split_of[i]) for i, p, g in zip(ids, files, labels)]
    return finalize(Manifest(NAME, "single_label", "music", INSTRUCTION, [], clips, protocol, None))


def _genre(path: Path) -> str:
    genre = path.parent.name
    if genre not in GENRES or path.name.split(".")[0] != genre:
        raise CodecBenchError(f"{path}: not a GTZAN file <genre>/<genre>.NNNNN.au with genre in "
                              f"{', '.join(GENRES)}; move or remove it")
    return genre


SPEC = DatasetSpec(
    name=NAME, domain="music", task="single_label", instruction=INSTRUCTION, protocols=("official",),
    layout=LAYOUT, load=load, num_classes=len(GENRES),
)
