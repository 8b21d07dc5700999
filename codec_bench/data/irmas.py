"""IRMAS: instrument recognition in musical audio signals, 11 predominant instruments.

- Source: J. J. Bosch, J. Janer, F. Fuhrmann, P. Herrera, "A Comparison of Sound Segregation Techniques for
  Predominant Instrument Recognition in Musical Audio Signals" (ISMIR 2012); zenodo.org/record/1290750
  (``IRMAS-TrainingData.zip``, ``IRMAS-TestingData-Part1/2/3.zip``).
- License: CC BY-NC-SA 3.0, non-commercial, no redistribution.
- Layout: ``IRMAS-TrainingData/{code}/[NNN__][{code}][{drums}][{genre}]{nnnn}__{k}.wav`` (6,705 3-s excerpts
  of "more than 2,000 distinct recordings", per the corpus README; one instrument, the folder code; some names
  carry a ``NNN__`` prefix); ``IRMAS-TestingData-PartN/<one folder>/{name}.wav`` + ``{name}.txt`` (one
  instrument code a line, lines may end in tabs or spaces). The nested test folder is ``Part1`` / ``Part3`` but
  ``IRTestingData-Part2`` in the Part2 zip (not ``Part2`` as DATASETS.md has it), so any sub-folder is read.
- Label: instrument codes -> names (table below). Multi-label (training clips hold one label, test clips 1-n).
- Protocol ``official`` (= ARCH's split, the test parts are the corpus's own): test = TestingData Parts 1-3;
  validation = a random 20 % of TrainingData (seed 42, not stratified) drawn by whole recordings, train = the
  rest. Assumed [README does not spell it out]: ``nnnn`` numbers the source recording (it runs across the
  instrument folders) and ``k`` the excerpt, so excerpts sharing ``nnnn`` never straddle train and validation.
- An unknown code (a training folder or a ``.txt`` line outside the table) stops the load with the file named.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..core.errors import CodecBenchError
from .common import audio_files, decode, random_validation, require
from .manifest import Clip, DatasetSpec, Manifest, finalize

NAME = "irmas"
INSTRUCTION = "Which instruments are playing? Answer with their names."
INSTRUMENTS = {
    "cel": "cello", "cla": "clarinet", "flu": "flute", "gac": "acoustic guitar", "gel": "electric guitar",
    "org": "organ", "pia": "piano", "sax": "saxophone", "tru": "trumpet", "vio": "violin", "voi": "voice",
}
TRAIN = "IRMAS-TrainingData"
RECORDING = re.compile(r"(\d+)__\d+$")  # ...]{recording}__{excerpt}.wav
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
    validation = random_validation([c.id for c in train], 0.2, seed=42, groups={c.id: c.speaker for c in train})
    train = [Clip(c.id, c.path, c.labels, "validation" if c.id in validation else "train", c.speaker) for c in train]
    test = [_test_clip(root, path) for part in TEST_PARTS for path in audio_files(root / part)]
    return finalize(Manifest(NAME, "multi_label", "music", INSTRUCTION, [], train + test, protocol, None))


def _instrument(code: str, source: Path) -> str:
    return decode(INSTRUMENTS, code, source, "IRMAS instrument")


def _train_clip(root: Path, path: Path) -> Clip:
    """The label is the instrument folder, ``IRMAS-TrainingData/{code}/...``; the group (``speaker``) the recording."""
    relpath = path.relative_to(root)
    recording = RECORDING.search(path.stem)
    if recording is None:
        raise CodecBenchError(f"{path}: not an IRMAS training name ...]{{nnnn}}__{{k}}.wav; remove or rename it")
    return Clip(id=relpath.as_posix(), path=str(path), labels=(_instrument(relpath.parts[1], path),), split="train",
                speaker=recording.group(1))


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
    protocol_notes={"official": "official TestingData Parts 1-3 as test; validation = ARCH's random 20 % of "
                                "TrainingData (La Quatra et al. 2024), by recording"},
)
