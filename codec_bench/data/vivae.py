"""VIVAE: the Variably Intense Vocalizations of Affect and Emotion corpus, 1,085 non-speech vocalizations.

- Source: N. Holz, P. Larrouy-Maestri, D. Poeppel, "The Variably Intense Vocalizations of Affect and Emotion
  (VIVAE) corpus prompts new perspective on nonspeech perception" (Emotion, 2022); zenodo.org/record/4066235.
- License: [uncertain] see the Zenodo record (assumed CC BY 4.0, not verified).
- Layout: ``full_set/S{speaker:02d}_{emotion}_{intensity}_{item:02d}.wav`` (1,085 files) and ``core_set/`` (a
  fully crossed 480-file subset, unused here, as in ARCH).
- Label: the emotion, the 2nd ``_`` token: achievement, anger, fear, pain, pleasure, surprise (single-label,
  6 classes). The intensity (low, moderate, strong, peak) is not a label. 11 speakers S01-S11.
- Protocol ``official`` (= ARCH's; the paper itself defines no ML split): 11-fold leave-one-speaker-out over the
  sorted speakers; fold k tests speaker k, validates on speaker k+1 (cyclic) and trains on the other 9.
- Assumed: every audio file in ``full_set`` follows the name pattern; one that does not stops the load.
"""

from __future__ import annotations

from pathlib import Path

from ..core.errors import CodecBenchError
from .common import audio_files, fold_number, fold_split, group_folds, require
from .manifest import Clip, DatasetSpec, Manifest, finalize

NAME = "vivae"
NUM_FOLDS = 11
EMOTIONS = ("achievement", "anger", "fear", "pain", "pleasure", "surprise")
INSTRUCTION = "Which emotion does this vocalization express? Answer with the emotion."
LAYOUT = """ROOT/                                (VIVAE/)
  full_set/
    S01_achievement_low_01.wav         S{speaker}_{emotion}_{intensity}_{item}.wav, 1085 files
    ...
  core_set/                            (not used)"""


def load(root: Path, protocol: str = "official", fold: str | None = None) -> Manifest:
    """Read VIVAE ``full_set``; ``fold`` "1".."11" is the test speaker's position (None = "1")."""
    root = Path(root).resolve()
    require(root, NAME, LAYOUT, "full_set")
    test_fold = fold_number(fold, NUM_FOLDS, NAME)
    files = audio_files(root / "full_set")
    parsed = [_parse(path) for path in files]
    fold_of_speaker = group_folds([speaker for speaker, _ in parsed], NUM_FOLDS)
    clips = [
        Clip(id=path.relative_to(root).as_posix(), path=str(path), labels=(emotion,),
             split=fold_split(fold_of_speaker[speaker], test_fold, NUM_FOLDS), speaker=speaker)
        for path, (speaker, emotion) in zip(files, parsed)
    ]
    return finalize(Manifest(NAME, "single_label", "sound", INSTRUCTION, [], clips, protocol, str(test_fold)))


def _parse(path: Path) -> tuple[str, str]:
    """``S01_achievement_low_01.wav`` -> (``S01``, ``achievement``)."""
    parts = path.stem.split("_")
    if len(parts) != 4 or parts[1] not in EMOTIONS:
        raise CodecBenchError(f"{path}: not a VIVAE name S<speaker>_<emotion>_<intensity>_<item> with emotion in "
                              f"{', '.join(EMOTIONS)}; remove or rename the file")
    return parts[0], parts[1]


SPEC = DatasetSpec(
    name=NAME, domain="sound", task="single_label", instruction=INSTRUCTION, protocols=("official",),
    layout=LAYOUT, load=load, folds={"official": [str(k) for k in range(1, NUM_FOLDS + 1)]}, num_classes=6,
    protocol_notes={"official": "ARCH's leave-one-speaker-out (La Quatra et al. 2024): test speaker k, validation "
                                "speaker k+1; the corpus has no split"},
)
