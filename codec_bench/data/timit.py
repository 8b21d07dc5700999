"""TIMIT dialect-region identification: 630 speakers of 8 US dialect regions, 10 sentences each.

- Source: Garofolo et al., "TIMIT Acoustic-Phonetic Continuous Speech Corpus", LDC93S1 (1993).
- License: LDC license (paid); not redistributable.
- Layout: ``{train,test}/dr{1..8}/{speaker}/{sentence}.wav`` with ``.txt .wrd .phn`` next to each WAV, and
  ``doc/``. Copies differ in case (``TIMIT/TRAIN/DR1/FCJF0/SA1.WAV``), so every name is matched
  case-insensitively; ROOT may be the folder holding ``train/`` or its parent ``timit/`` / ``data/``.
  The ``.wav`` files are NIST SPHERE (``NIST_1A`` header), which soundfile reads directly. Copies that add
  converted RIFF files (``SA1.WAV.wav``) give one clip per sentence, the original file preferred.
- Label: the ``drN`` folder: dr1 New England, dr2 Northern, dr3 North Midland, dr4 South Midland,
  dr5 Southern, dr6 New York City, dr7 Western, dr8 Army Brat (moved around). Speaker = the speaker folder.
- Protocols: ``official``: train and test folders as shipped (complete test set, 168 speakers; the 24-speaker
  core test set is not singled out). TIMIT has no validation set: per dialect region, 10 % of the training
  speakers (at least one; shuffled with seed 0) form a speaker-disjoint validation set.
  ``no_sa``: the same without the SA1/SA2 sentences, which every speaker reads (dialect shibboleths).
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from ..core.errors import CodecBenchError
from .common import check_protocol, decode, require
from .manifest import Clip, DatasetSpec, Manifest, finalize

NAME = "timit"
PROTOCOLS = ("official", "no_sa")
INSTRUCTION = "Which US dialect region is the speaker from? Answer with the region name."
REGIONS = {"dr1": "New England", "dr2": "Northern", "dr3": "North Midland", "dr4": "South Midland",
           "dr5": "Southern", "dr6": "New York City", "dr7": "Western", "dr8": "Army Brat"}
VALIDATION_FRACTION = 0.1
LAYOUT = """ROOT/                        (names in any case: timit/train/dr1 or TIMIT/TRAIN/DR1)
  train/
    dr1/
      fcjf0/
        sa1.wav  sa1.txt  sa1.phn  sa1.wrd     NIST SPHERE .wav; sa1-2, si*, sx* sentences
        ...
    ...
    dr8/
  test/
    dr1/ ... dr8/
  doc/                         (not used)"""


def load(root: Path, protocol: str = "official", fold: str | None = None) -> Manifest:
    """Read TIMIT under ``root`` into a dialect-region Manifest (train/test as shipped, validation carved)."""
    root = Path(root).resolve()
    protocol = check_protocol(NAME, protocol, PROTOCOLS)
    base = _corpus_dir(root)
    clips = [c for split in ("train", "test") for c in _split_clips(root, _child(base, split), split)]
    if protocol == "no_sa":
        clips = [c for c in clips if not Path(c.path).name.lower().startswith("sa")]
    validation = validation_speakers(clips)
    clips = [replace(c, split="validation") if c.speaker in validation and c.split == "train" else c for c in clips]
    classes = list(REGIONS.values())
    return finalize(Manifest(NAME, "single_label", "speech", INSTRUCTION, classes, clips, protocol, None))


def _child(folder: Path, name: str) -> Path | None:
    """The sub-folder of ``folder`` called ``name`` in any letter case, or None."""
    return next((p for p in sorted(folder.iterdir()) if p.is_dir() and p.name.lower() == name), None)


def _corpus_dir(root: Path) -> Path:
    require(root, NAME, LAYOUT)
    for candidate in (root, _child(root, "timit"), _child(root, "data")):
        if candidate is not None and _child(candidate, "train") and _child(candidate, "test"):
            return candidate
    missing = ", ".join(n for n in ("train", "test") if _child(root, n) is None)
    raise CodecBenchError(f"{NAME}: {root} is not in the official layout; missing: {missing}. Expected:\n{LAYOUT}")


def _split_clips(root: Path, split_dir: Path, split: str) -> list[Clip]:
    clips = []
    for region_dir in sorted(p for p in split_dir.iterdir() if p.is_dir()):
        region = decode(REGIONS, region_dir.name.lower(), region_dir, "dialect region")
        for speaker_dir in sorted(p for p in region_dir.iterdir() if p.is_dir()):
            clips.extend(_speaker_clips(root, speaker_dir, region, split))
    return clips


def _speaker_clips(root: Path, speaker_dir: Path, region: str, split: str) -> list[Clip]:
    by_sentence: dict[str, Path] = {}
    for path in sorted(speaker_dir.iterdir(), key=lambda p: (len(p.name), p.name)):  # SA1.WAV before SA1.WAV.wav
        if path.is_file() and path.name.lower().endswith(".wav"):
            by_sentence.setdefault(path.name.split(".")[0].lower(), path)
    speaker = speaker_dir.name.lower()
    return [Clip(id=p.relative_to(root).as_posix(), path=str(p), labels=(region,), split=split, speaker=speaker)
            for _, p in sorted(by_sentence.items())]


def validation_speakers(clips: list[Clip]) -> set[str]:
    """Per dialect region, ``VALIDATION_FRACTION`` of the training speakers (at least one), seed 0."""
    speakers: dict[str, set[str]] = defaultdict(set)
    for clip in clips:
        if clip.split == "train":
            speakers[clip.labels[0]].add(clip.speaker)
    chosen: set[str] = set()
    for region in sorted(speakers):
        members = sorted(speakers[region])
        random.Random(0).shuffle(members)
        chosen.update(members[: max(1, round(len(members) * VALIDATION_FRACTION))] if len(members) > 1 else [])
    return chosen


SPEC = DatasetSpec(
    name=NAME, domain="speech", task="single_label", instruction=INSTRUCTION, protocols=PROTOCOLS,
    layout=LAYOUT, load=load, num_classes=8,
    protocol_notes={
        "official": "official train / complete test set (LDC93S1 doc/testset.doc); validation = 10 % of training "
                    "speakers per region",
        "no_sa": "the same without the SA1/SA2 sentences every speaker reads",
    },
)
