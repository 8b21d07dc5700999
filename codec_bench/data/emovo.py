"""EMOVO: Italian acted emotional speech, 6 actors x 14 sentences x 7 emotions = 588 clips.

- Source: Costantini et al., "EMOVO Corpus: an Italian Emotional Speech Database", LREC 2014; Fondazione
  Ugo Bordoni (voice.fub.it/activities/corpora/emovo/); ARCH downloads a Google-Drive zip of it.
- License: research use on request to the authors [uncertain: no license file seen].
- Layout: one folder per actor ``f1 f2 f3 m1 m2 m3``, either directly under ROOT, under ``EMOVO/`` (ARCH's
  zip) or under ``Dataset/`` (the official zip, next to ``Documents/``). File name
  ``{emotion}-{speaker}-{sentence}.wav``, e.g. ``dis-m3-b1.wav`` [sentence ids b1-b3, d1-d2, l1-l4, n1-n5
  uncertain; not used].
- Label: the first ``-`` token: dis disgust, gio joy, neu neutral, pau fear, rab anger, sor surprise,
  tri sadness (7 classes). An unknown code stops with the file name. Speaker = the actor folder.
- Protocols, 6 folds (fold k = actor k in the order f1 f2 f3 m1 m2 m3), leave-one-speaker-out test:
  ``speaker`` (default; ``official`` is an alias, the corpus has no split): validation = the next actor
  (cyclic), train = the other 4 actors; fully speaker-independent.
  ``arch``: ARCH's split: validation = a random 10 % of the other 5 actors' clips (seed 42, not
  stratified), train = the rest; validation shares speakers with training (test does not). Every file is its
  own recording, so there is no source recording to group by.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..core.errors import CodecBenchError
from .common import check_protocol, decode, fold_number, fold_split, random_validation, require
from .manifest import Clip, DatasetSpec, Manifest, finalize

NAME = "emovo"
SPEAKERS = ("f1", "f2", "f3", "m1", "m2", "m3")
NUM_FOLDS = len(SPEAKERS)
PROTOCOLS = ("speaker", "arch")
INSTRUCTION = "What emotion does the speaker express? Answer with one word."
EMOTIONS = {"dis": "disgust", "gio": "joy", "neu": "neutral", "pau": "fear", "rab": "anger", "sor": "surprise",
            "tri": "sadness"}
LAYOUT = """ROOT/                        (or ROOT/EMOVO/ or ROOT/Dataset/)
  f1/
    dis-f1-b1.wav              {emotion}-{speaker}-{sentence}.wav, 98 files per actor
    ...
  f2/  f3/  m1/  m2/  m3/"""


def load(root: Path, protocol: str = "official", fold: str | None = None) -> Manifest:
    """Read EMOVO under ``root`` into a leave-one-speaker-out Manifest for ``protocol`` and ``fold``."""
    root = Path(root).resolve()
    protocol = check_protocol(NAME, protocol, PROTOCOLS)
    base = next((b for b in (root, root / "EMOVO", root / "Dataset") if (b / SPEAKERS[0]).is_dir()), None)
    if base is None:
        require(root, NAME, LAYOUT, *SPEAKERS)
    require(base, NAME, LAYOUT, *SPEAKERS)
    clips = [_clip(root, p, s) for s in SPEAKERS for p in sorted((base / s).glob("*.wav"))]
    test_fold = fold_number(fold, NUM_FOLDS, NAME)
    fold_of = {s: k + 1 for k, s in enumerate(SPEAKERS)}
    if protocol == "speaker":
        clips = [replace(c, split=fold_split(fold_of[c.speaker], test_fold, NUM_FOLDS)) for c in clips]
    else:
        clips = _arch_split(clips, SPEAKERS[test_fold - 1])
    classes = sorted(EMOTIONS.values())
    return finalize(Manifest(NAME, "single_label", "speech", INSTRUCTION, classes, clips, protocol, str(test_fold)))


def _clip(root: Path, path: Path, speaker: str) -> Clip:
    parts = path.stem.split("-")
    if len(parts) != 3:
        pattern = "{emotion}-{speaker}-{sentence}.wav"
        raise CodecBenchError(f"{path}: not an EMOVO file name ({pattern}); remove or rename it")
    emotion = decode(EMOTIONS, parts[0].lower(), path, "emotion")
    return Clip(id=path.relative_to(root).as_posix(), path=str(path), labels=(emotion,), split="train",
                speaker=speaker)


def _arch_split(clips: list[Clip], test_speaker: str) -> list[Clip]:
    validation = random_validation([c.id for c in clips if c.speaker != test_speaker], 0.1, seed=42)
    return [replace(c, split="test" if c.speaker == test_speaker else "validation" if c.id in validation else "train")
            for c in clips]


FOLDS = [str(k) for k in range(1, NUM_FOLDS + 1)]
SPEC = DatasetSpec(
    name=NAME, domain="speech", task="single_label", instruction=INSTRUCTION, protocols=PROTOCOLS,
    layout=LAYOUT, load=load, folds={"speaker": FOLDS, "arch": FOLDS}, num_classes=7,
    protocol_notes={
        "speaker": "ours (the corpus has no split): leave one actor out, validation = the next actor",
        "arch": "ARCH (La Quatra et al. 2024): leave one actor out, validation random 10 % of the other actors' clips",
    },
)
