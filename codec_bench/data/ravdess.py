"""RAVDESS (speech, audio-only): acted emotional speech, 24 actors x 60 clips, 8 emotions.

- Source: Livingstone & Russo, "The Ryerson Audio-Visual Database of Emotional Speech and Song (RAVDESS)",
  PLoS ONE 13(5) 2018; Zenodo record 1188976, ``Audio_Speech_Actors_01-24.zip`` (1,440 WAVs, 16-bit 48 kHz).
- License: CC BY-NC-SA 4.0 (Zenodo record and the Kaggle/HF cards; commercial licenses sold separately).
- Layout: ``Actor_01/ ... Actor_24/``, each with ``MM-VV-EE-II-SS-RR-AA.wav`` (modality, vocal channel,
  emotion, intensity, statement, repetition, actor; odd actors are male, even female).
- Label: field 3 (emotion): 01 neutral, 02 calm, 03 happy, 04 sad, 05 angry, 06 fearful, 07 disgust,
  08 surprised. Only speech files (vocal channel 01) are read; song files (02), if unpacked into the same
  folders, are ignored. An unknown emotion code stops with the file name.
- Protocols:
  ``speaker`` (default; ``official`` is an alias, the corpus has no split of its own): speaker-independent,
  6 folds of 4 actors, fold = ((actor - 1) // 2) % 6 + 1, so every fold holds 2 male and 2 female actors
  (fold 1 = actors 1, 2, 13, 14). Test = fold k, validation = fold k+1 (cyclic), train = the other 4 folds.
  ``arch``: ARCH's split: a random 20 % of all clips as test, then a random 20 % of the rest as validation
  (64/16/20, seed 42, not stratified). **Speakers overlap across splits**, so scores are optimistic for
  unseen voices. Same proportions and seed as ARCH, but not ARCH's exact clip assignment (ARCH shuffles
  with scikit-learn over its own file order). Every file is its own recording (no clip is cut from another),
  so there is no source recording to group by; only the speaker is shared, which is ARCH's design.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..core.errors import CodecBenchError
from .common import check_protocol, decode, fold_number, fold_split, random_validation, require
from .manifest import Clip, DatasetSpec, Manifest, finalize

NAME = "ravdess"
NUM_FOLDS = 6
PROTOCOLS = ("speaker", "arch")
INSTRUCTION = "What emotion does the speaker express? Answer with one word."
EMOTIONS = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry", "06": "fearful",
            "07": "disgust", "08": "surprised"}
LAYOUT = """ROOT/                          (unpacked Audio_Speech_Actors_01-24.zip)
  Actor_01/
    03-01-01-01-01-01-01.wav     modality-channel-EMOTION-intensity-statement-repetition-actor.wav
    ...                          60 files per actor
  ...
  Actor_24/"""


def load(root: Path, protocol: str = "official", fold: str | None = None) -> Manifest:
    """Read the RAVDESS speech files under ``root`` into a Manifest for ``protocol`` and ``fold``."""
    root = Path(root).resolve()
    protocol = check_protocol(NAME, protocol, PROTOCOLS)
    actors = sorted(p for p in root.glob("Actor_*") if p.is_dir()) if root.is_dir() else []
    if not actors:
        require(root, NAME, LAYOUT, "Actor_01")
    clips = [c for folder in actors for c in (_clip(root, p) for p in sorted(folder.glob("*.wav"))) if c]
    if protocol == "speaker":
        test_fold = fold_number(fold, NUM_FOLDS, NAME)
        clips = [replace(c, split=fold_split(actor_fold(c.speaker), test_fold, NUM_FOLDS)) for c in clips]
        fold = str(test_fold)
    else:
        clips, fold = _arch_split(clips), None
    classes = sorted(set(EMOTIONS.values()))
    return finalize(Manifest(NAME, "single_label", "speech", INSTRUCTION, classes, clips, protocol, fold))


def actor_fold(actor: str) -> int:
    """Fold 1..6 of actor ``"01"``..``"24"``: consecutive pairs (one male, one female) dealt round-robin."""
    return (int(actor) - 1) // 2 % NUM_FOLDS + 1


def _clip(root: Path, path: Path) -> Clip | None:
    fields = path.stem.split("-")
    if len(fields) != 7 or not all(len(f) == 2 and f.isdigit() for f in fields):
        raise CodecBenchError(f"{path}: not a RAVDESS file name (MM-VV-EE-II-SS-RR-AA.wav); remove or rename it")
    if fields[1] != "01":  # song recordings share the actor folders in some downloads
        return None
    emotion = decode(EMOTIONS, fields[2], path, "emotion")
    rel = path.relative_to(root).as_posix()
    return Clip(id=rel, path=str(path), labels=(emotion,), split="train", speaker=fields[6])


def _arch_split(clips: list[Clip]) -> list[Clip]:
    test = random_validation([c.id for c in clips], 0.2, seed=42)
    validation = random_validation([c.id for c in clips if c.id not in test], 0.2, seed=42)
    return [replace(c, split="test" if c.id in test else "validation" if c.id in validation else "train")
            for c in clips]


SPEC = DatasetSpec(
    name=NAME, domain="speech", task="single_label", instruction=INSTRUCTION, protocols=PROTOCOLS,
    layout=LAYOUT, load=load, folds={"speaker": [str(k) for k in range(1, NUM_FOLDS + 1)]}, num_classes=8,
    protocol_notes={
        "speaker": "ours (the corpus has no split): 6 speaker-independent folds of 4 actors, 2 male + 2 female",
        "arch": "ARCH (La Quatra et al. 2024): random 64/16/20, seed 42; speakers overlap across splits",
    },
)
