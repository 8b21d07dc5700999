"""AudioMNIST: spoken digits 0-9, 60 speakers x 10 digits x 50 repetitions = 30,000 clips.

- Source: Becker et al., "Interpreting and Explaining Deep Neural Networks for Classification of Audio
  Signals" (2018); github.com/soerenab/AudioMNIST (clone the repository; ~1 GB).
- License: MIT (repository LICENSE).
- Layout: ``data/{01..60}/{digit}_{speaker}_{repetition}.wav`` (48 kHz mono, <= 1 s) and
  ``data/audioMNIST_meta.txt`` (JSON: speaker -> accent, age, gender, ...; not used).
- Label: the first ``_`` token, written as a word (``0`` -> ``zero``); speaker = the second token.
- Known issue (``data/36/notes.txt``): speaker 36 has two duplicated takes (3_20, 3_29); kept as they are.
- Protocol ``arch`` (default; ``official`` is an alias): the five fixed 12-speaker groups of the corpus's own
  ``audiomnist/train/splits.py`` (task "digit"), fold k = group G(k-1):
  G0 {4,11,12,15,21,27,31,41,44,47,50,59}, G1 {5,13,18,22,26,32,33,42,45,51,52,60},
  G2 {1,6,7,16,19,23,28,34,35,46,53,56}, G3 {2,8,9,17,24,29,36,37,39,48,54,57},
  G4 {3,10,14,20,25,30,38,40,43,49,55,58}.
  Test = fold k, validation = fold k+1 (cyclic), train = the other 3 folds (36 speakers). This is ARCH's
  rotation (test = G_k, val = G_k+1); the corpus's own rotation is the reverse (val = G_i, test = G_i+1), so
  ARCH fold k tests on the group that the original split i = k-1 validates on. Speaker-independent.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..core.errors import CodecBenchError
from .common import check_protocol, decode, fold_number, fold_split, require
from .manifest import Clip, DatasetSpec, Manifest, finalize

NAME = "audio_mnist"
PROTOCOLS = ("arch",)
INSTRUCTION = "Which digit is spoken? Answer with one word."
DIGITS = {str(d): w for d, w in enumerate(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])}
GROUPS = (
    (12, 47, 59, 15, 27, 41, 4, 11, 21, 31, 44, 50),
    (26, 52, 60, 18, 32, 42, 5, 13, 22, 33, 45, 51),
    (28, 56, 7, 19, 35, 1, 6, 16, 23, 34, 46, 53),
    (36, 57, 9, 24, 37, 2, 8, 17, 29, 39, 48, 54),
    (43, 58, 14, 25, 38, 3, 10, 20, 30, 40, 49, 55),
)
SPEAKER_FOLD = {speaker: k + 1 for k, group in enumerate(GROUPS) for speaker in group}
NUM_FOLDS = len(GROUPS)
LAYOUT = """ROOT/                          (a clone of soerenab/AudioMNIST)
  data/
    01/
      0_01_0.wav                 {digit}_{speaker}_{repetition}.wav, 500 files per speaker
      ...
    ...
    60/
    audioMNIST_meta.txt          (not used)"""


def load(root: Path, protocol: str = "official", fold: str | None = None) -> Manifest:
    """Read AudioMNIST under ``root`` into a Manifest for ARCH's speaker fold ``fold``."""
    root = Path(root).resolve()
    protocol = check_protocol(NAME, protocol, PROTOCOLS)
    require(root, NAME, LAYOUT, "data")
    speakers = sorted(p for p in (root / "data").iterdir() if p.is_dir() and p.name.isdigit())
    if not speakers:
        require(root, NAME, LAYOUT, "data/01")
    test_fold = fold_number(fold, NUM_FOLDS, NAME)
    clips = [_clip(root, p) for folder in speakers for p in sorted(folder.glob("*.wav"))]
    clips = [replace(c, split=fold_split(SPEAKER_FOLD[int(c.speaker)], test_fold, NUM_FOLDS)) for c in clips]
    classes = list(DIGITS.values())
    return finalize(Manifest(NAME, "single_label", "speech", INSTRUCTION, classes, clips, protocol, str(test_fold)))


def _clip(root: Path, path: Path) -> Clip:
    parts = path.stem.split("_")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        pattern = "{digit}_{speaker}_{index}.wav"
        raise CodecBenchError(f"{path}: not an AudioMNIST file name ({pattern}); remove or rename it")
    digit = decode(DIGITS, parts[0], path, "digit")
    if int(parts[1]) not in SPEAKER_FOLD:
        raise CodecBenchError(f"{path}: speaker {parts[1]} is not one of the corpus's 60 speakers; remove the folder")
    return Clip(id=path.relative_to(root).as_posix(), path=str(path), labels=(digit,), split="train",
                speaker=f"{int(parts[1]):02d}")


SPEC = DatasetSpec(
    name=NAME, domain="speech", task="single_label", instruction=INSTRUCTION, protocols=PROTOCOLS,
    layout=LAYOUT, load=load, folds={"arch": [str(k) for k in range(1, NUM_FOLDS + 1)]}, num_classes=10,
    protocol_notes={"arch": "the corpus's 5 speaker groups (audiomnist/train/splits.py, Becker et al. 2018) in "
                            "ARCH's rotation: test G(k-1), validation G(k)"},
)
