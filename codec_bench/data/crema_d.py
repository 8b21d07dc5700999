"""CREMA-D: crowd-sourced emotional multimodal actors dataset, 91 actors, 7,442 clips, 6 emotions.

- Source: Cao et al., "CREMA-D: Crowd-sourced Emotional Multimodal Actors Dataset", IEEE Trans. Affective
  Computing 2014; github.com/CheyneyComputerScience/CREMA-D (audio through Git LFS).
- License: Open Database License 1.0 + Database Contents License (repository LICENSE).
- Layout: ``AudioWAV/{ActorID}_{Sentence}_{Emotion}_{Level}.wav`` (e.g. ``1001_DFA_ANG_XX.wav``), plus
  ``SentenceFilenames.csv`` (``Stimulus_Number, Filename``) and ``VideoDemographics.csv`` at the root.
- Label: the acted emotion in the file name (ANG anger, DIS disgust, FEA fear, HAP happy, NEU neutral,
  SAD sad). The crowd-perceived label (``processedResults/tabulatedVotes.csv``) is not used.
- Files: if ``SentenceFilenames.csv`` is present its ``Filename`` column is the list of clips, and a listed
  file missing from ``AudioWAV/`` is skipped and counted; without it (e.g. the Kaggle copy) every WAV in
  ``AudioWAV/`` is read. Empty (0-byte) WAVs are skipped and counted too.
- Protocol ``speaker`` (default; ``official`` is an alias): the corpus has no official split
  [uncertain: speaker-independent folds are common practice, not documented by the corpus]. Actors sorted
  by id are dealt round-robin into 5 folds (18-19 actors each); test = fold k, validation = fold k+1
  (cyclic), train = the other 3 folds. No actor appears in two splits.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..core.errors import CodecBenchError
from .common import check_protocol, decode, fold_number, fold_split, group_folds, keep_existing, read_table, require
from .manifest import Clip, DatasetSpec, Manifest, finalize

NAME = "crema_d"
NUM_FOLDS = 5
PROTOCOLS = ("speaker",)
INSTRUCTION = "What emotion does the speaker express? Answer with one word."
EMOTIONS = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
LAYOUT = """ROOT/                             (a clone of CheyneyComputerScience/CREMA-D, LFS files pulled)
  AudioWAV/
    1001_DFA_ANG_XX.wav             {ActorID}_{Sentence}_{Emotion}_{Level}.wav, 7442 files
    ...
  SentenceFilenames.csv             Stimulus_Number,Filename   (optional: the list of clips)
  VideoDemographics.csv             ActorID,Age,Sex,Race,Ethnicity   (not used)"""


def load(root: Path, protocol: str = "official", fold: str | None = None) -> Manifest:
    """Read CREMA-D under ``root`` into a speaker-independent Manifest for ``fold``."""
    root = Path(root).resolve()
    protocol = check_protocol(NAME, protocol, PROTOCOLS)
    require(root, NAME, LAYOUT, "AudioWAV")
    skipped: list[dict] = []
    clips = keep_existing([_clip(root, p) for p in _listed(root)], skipped, "SentenceFilenames.csv")
    clips = _drop_empty(clips, skipped)
    fold_of = group_folds([c.speaker for c in clips], NUM_FOLDS)
    test_fold = fold_number(fold, NUM_FOLDS, NAME)
    clips = [replace(c, split=fold_split(fold_of[c.speaker], test_fold, NUM_FOLDS)) for c in clips]
    classes = sorted(EMOTIONS.values())
    return finalize(Manifest(NAME, "single_label", "speech", INSTRUCTION, classes, clips, protocol,
                             str(test_fold), skipped))


def _listed(root: Path) -> list[Path]:
    listing = root / "SentenceFilenames.csv"
    if not listing.is_file():
        return sorted((root / "AudioWAV").glob("*.wav"))
    rows = read_table(listing, ["Filename"])
    names = [r["Filename"].removesuffix(".wav") for r in rows if r["Filename"]]
    return [root / "AudioWAV" / f"{name}.wav" for name in names]


def _clip(root: Path, path: Path) -> Clip:
    parts = path.stem.split("_")
    if len(parts) != 4 or not parts[0].isdigit():
        pattern = "{ActorID}_{Sentence}_{Emotion}_{Level}.wav"
        raise CodecBenchError(f"{path}: not a CREMA-D file name ({pattern}); remove or rename it")
    emotion = decode(EMOTIONS, parts[2], path, "emotion")
    return Clip(id=path.relative_to(root).as_posix(), path=str(path), labels=(emotion,), split="train",
                speaker=parts[0])


def _drop_empty(clips: list[Clip], skipped: list[dict]) -> list[Clip]:
    empty = {c.id for c in clips if Path(c.path).stat().st_size == 0}
    skipped.extend({"path": c.path, "reason": "empty audio file (0 bytes)"} for c in clips if c.id in empty)
    return [c for c in clips if c.id not in empty]


SPEC = DatasetSpec(
    name=NAME, domain="speech", task="single_label", instruction=INSTRUCTION, protocols=PROTOCOLS,
    layout=LAYOUT, load=load, folds={"speaker": [str(k) for k in range(1, NUM_FOLDS + 1)]}, num_classes=6,
    protocol_notes={"speaker": "ours (the corpus has no split): 5 speaker-independent folds of sorted actors, "
                               "round-robin"},
)
