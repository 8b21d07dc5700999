"""IRMAS: instrument recognition in musical audio signals, 11 predominant instruments.

- Source: J. J. Bosch, J. Janer, F. Fuhrmann, P. Herrera, "A Comparison of Sound Segregation Techniques for
  Predominant Instrument Recognition in Musical Audio Signals" (ISMIR 2012); zenodo.org/record/1290750
  (``IRMAS-TrainingData.zip``, ``IRMAS-TestingData-Part1/2/3.zip``).
- License: CC BY-NC-SA 3.0, non-commercial, no redistribution.
- Layout: ``IRMAS-TrainingData/{code}/[{code}]..[{genre}]{nnnn}__{k}.wav`` (3-s excerpts, one instrument, the
  folder code); ``IRMAS-TestingData-PartN/<one folder>/{name}.wav`` + ``{name}.txt`` (5-20-s excerpts, one
  instrument code a line, lines may end in tabs or spaces). The nested test folder is ``PartN`` for parts 1
  and 3 but ``IRTestingData-Part2`` in the Part2 zip, so any single sub-folder is accepted.
- Label: instrument codes -> names (table below). Multi-label (training clips hold one label, test clips 1-n).
- Protocol ``official`` (= ARCH's): test = TestingData Parts 1-3; train = TrainingData minus a random 20 %
  (seed 42, not stratified) used as validation.
- An unknown code (a training folder or a ``.txt`` line outside the table) stops the load with the file named.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import CodecBenchError
from .common import audio_files, decode, random_validation, require
from .manifest import Clip, DatasetSpec, Manifest, finalize

NAME = "irmas"
INSTRUCTION = "Which instruments are playing? Answer with their names."
INSTRUMENTS = {
    "cel": "cello", "cla": "clarinet", "flu": "flute", "gac": "acoustic guitar", "gel": "electric guitar",
    "org": "organ", "pia": "piano", "sax": "saxophone", "tru": "trumpet", "vio": "violin", "voi": "voice",
}
TRAIN = "IRMAS-TrainingData"
TEST_PARTS = [f"IRMAS-TestingData-Part{n}" for n in (1, 2, 3)]
LAYOUT = """ROOT/
  IRMAS-TrainingData/
    cel/ cla/ flu/ gac/ gel/ org/ pia/ sax/ tru/ vio/ voi/
      [cla][cla]0189__2.wav
  IRMAS-TestingData-Part1/Part1/               {name}.wav + {name}.txt (one code a line)
  IRMAS-TestingData-Part2/IRTestingData-Part2/
  IRMAS-TestingData-Part3/Part3/"""


def load(root: Path, protocol: str = "official", fold: str | None = None) -> Manifest:
    """Read IRMAS training folders and the three testing parts (one protocol, no folds)."""
    root = Path(root).resolve()
    require(root, NAME, LAYOUT, TRAIN, *TEST_PARTS)
    train = [_train_clip(root, path) for path in audio_files(root / TRAIN)]
    validation = random_validation([c.id for c in train], 0.2, seed=42)
    train = [Clip(c.id, c.path, c.labels, "validation" if c.id in validation else "train") for c in train]
    test = [_test_clip(root, path) for part in TEST_PARTS for path in audio_files(root / part)]
    return finalize(Manifest(NAME, "multi_label", "music", INSTRUCTION, [], train + test, protocol, None))


def _instrument(code: str, source: Path) -> str:
    return decode(INSTRUMENTS, code, source, "IRMAS instrument")


def _train_clip(root: Path, path: Path) -> Clip:
    """The training label is the instrument folder, ``IRMAS-TrainingData/{code}/...``."""
    relpath = path.relative_to(root)
    return Clip(id=relpath.as_posix(), path=str(path), labels=(_instrument(relpath.parts[1], path),), split="train")


def _test_clip(root: Path, path: Path) -> Clip:
    annotation = path.with_suffix(".txt")
    if not annotation.is_file():
        raise CodecBenchError(f"{path}: no {annotation.name} next to it; re-extract the IRMAS testing zip")
    codes = [line.strip() for line in annotation.read_text(encoding="utf-8").splitlines() if line.strip()]
    labels = tuple(sorted({_instrument(code, annotation) for code in codes}))
    return Clip(id=path.relative_to(root).as_posix(), path=str(path), labels=labels, split="test")


SPEC = DatasetSpec(
    name=NAME, domain="music", task="multi_label", instruction=INSTRUCTION, protocols=("official",),
    layout=LAYOUT, load=load, num_classes=len(INSTRUMENTS),
)
