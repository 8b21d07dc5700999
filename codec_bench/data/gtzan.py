"""GTZAN: 1,000 thirty-second music excerpts, 100 in each of 10 genres.

- Source: G. Tzanetakis, P. Cook, "Musical genre classification of audio signals" (IEEE TSAP 2002);
  ``genres.tar.gz`` (marsyas / opihi.cs.uvic.ca). Its faults (repeated excerpts, mislabels, distortions, and
  no artist filtering) are catalogued by B. L. Sturm (2013).
- License: none stated.
- Layout: ``genres/{genre}/{genre}.{00000-00099}.au`` (22,050 Hz mono) plus ``.mf`` list files; many mirrors
  ship ``.wav`` instead of ``.au``: both are read. ROOT may be the ``genres/`` folder or its parent.
- Label: the parent folder, which must equal the file name's first ``.`` token and be one of the 10 genres
  (blues, classical, country, disco, hiphop, jazz, metal, pop, reggae, rock). Single-label.
- Protocols (GTZAN has no official split):
  ``fault_filtered`` (default; ``official`` is an alias): the artist-filtered train / valid / test lists of
  Kereliuk, Sturm & Larsen (2015), 443 / 197 / 290 files (``gtzan_splits.py``), used since Sturm's analysis
  (also torchaudio's split); the 70 files in no list are left out (not counted as skipped: that is the
  protocol's definition); a listed file that is missing is skipped and counted.
  ``random``: the 10-fold protocol of the earlier literature: folds stratified by genre (seed 0), fold k =
  test, fold k+1 = validation, the other 8 = train. Not artist-aware (GTZAN ships no artist ids), so scores
  are optimistic; kept for comparison with older papers.
- ARCH: GTZAN is not one of ARCH's 12 datasets, so neither protocol is ARCH's.
"""

from __future__ import annotations

from pathlib import Path

from ..core.errors import CodecBenchError
from .common import audio_files, check_protocol, fold_number, fold_split, keep_existing, require, stratified_folds
from .gtzan_splits import fault_filtered
from .manifest import Clip, DatasetSpec, Manifest, finalize

NAME = "gtzan"
PROTOCOLS = ("fault_filtered", "random")
NUM_FOLDS = 10
GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
INSTRUCTION = "Which genre is this music? Answer with the genre."
LAYOUT = """ROOT/
  genres/
    blues/ classical/ country/ disco/ hiphop/ jazz/ metal/ pop/ reggae/ rock/
      blues.00000.au           {genre}.{00000-00099}.au (or .wav)"""


def load(root: Path, protocol: str = "official", fold: str | None = None) -> Manifest:
    """Read GTZAN under the fault-filtered lists (no folds) or the random 10-fold protocol (``fold`` 1..10)."""
    root = Path(root).resolve()
    protocol = check_protocol(NAME, protocol, PROTOCOLS)
    genres = root / "genres" if (root / "genres").is_dir() else root
    require(root, NAME, LAYOUT, *[str((genres / g).relative_to(root)) for g in GENRES])
    files = audio_files(genres)
    clips = [Clip(id=p.relative_to(root).as_posix(), path=str(p), labels=(_genre(p),), split="train") for p in files]
    if protocol == "random":
        test_fold = fold_number(fold, NUM_FOLDS, NAME)
        fold_of = stratified_folds([c.id for c in clips], [c.labels[0] for c in clips], NUM_FOLDS, seed=0)
        clips = [_with_split(c, fold_split(fold_of[c.id], test_fold, NUM_FOLDS)) for c in clips]
        return finalize(Manifest(NAME, "single_label", "music", INSTRUCTION, [], clips, protocol, str(test_fold)))
    clips, skipped = _fault_filtered(root, genres, clips)
    return finalize(Manifest(NAME, "single_label", "music", INSTRUCTION, [], clips, protocol, None, skipped))


def _fault_filtered(root: Path, genres: Path, clips: list[Clip]) -> tuple[list[Clip], list[dict]]:
    """The listed files with their list's split; listed files absent from disk are skipped and counted."""
    found = {Path(c.path).name.rsplit(".", 1)[0]: c for c in clips}
    suffix = Path(clips[0].path).suffix if clips else ".au"
    listed = []
    for stem, split in sorted(fault_filtered().items()):
        path = Path(found[stem].path) if stem in found else genres / stem.split(".")[0] / f"{stem}{suffix}"
        listed.append(Clip(id=path.relative_to(root).as_posix(), path=str(path), labels=(stem.split(".")[0],),
                           split=split))
    skipped: list[dict] = []
    return keep_existing(listed, skipped, "GTZAN fault-filtered lists (codec_bench/data/gtzan_splits.py)"), skipped


def _with_split(clip: Clip, split: str) -> Clip:
    return Clip(clip.id, clip.path, clip.labels, split)


def _genre(path: Path) -> str:
    genre = path.parent.name
    if genre not in GENRES or path.name.split(".")[0] != genre:
        raise CodecBenchError(f"{path}: not a GTZAN file <genre>/<genre>.NNNNN.au with genre in "
                              f"{', '.join(GENRES)}; move or remove it")
    return genre


SPEC = DatasetSpec(
    name=NAME, domain="music", task="single_label", instruction=INSTRUCTION, protocols=PROTOCOLS,
    layout=LAYOUT, load=load, folds={"random": [str(k) for k in range(1, NUM_FOLDS + 1)]}, num_classes=len(GENRES),
    protocol_notes={
        "fault_filtered": "artist-filtered train/valid/test lists of Kereliuk, Sturm & Larsen 2015 (coreyker/dnn-mgr), "
                          "443/197/290 files",
        "random": "10 genre-stratified random folds (seed 0, the pre-Sturm literature's protocol); not artist-aware",
    },
)
