"""Tiny fake speech corpora (and Clotho-AQA) in their official layouts, for the loader tests.

Each builder writes a few 0.1-s clips with the real file-name patterns and metadata columns under ``root``
and returns ``root``. Audio bytes are made once and copied, so building a corpus takes milliseconds.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from _fake_corpora_sound import _encoded  # one 0.1-s noise clip per format, shared

from codec_bench.data.audio_mnist import GROUPS


def audio(path: Path, fmt: str = "WAV") -> Path:
    """A 0.1-s noise clip in ``fmt`` (WAV, FLAC or NIST SPHERE) at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_encoded(fmt))
    return path


def ravdess(root: Path, actors: range = range(1, 25), emotions: tuple[str, ...] = ("01", "03", "05")) -> Path:
    for actor in actors:
        for emotion in emotions:
            for statement in ("01", "02"):
                audio(root / f"Actor_{actor:02d}" / f"03-01-{emotion}-01-{statement}-01-{actor:02d}.wav")
    audio(root / "Actor_01" / "03-02-03-01-01-01-01.wav")  # a song file: ignored
    return root


def crema_d(root: Path, actors: int = 10, listing: bool = True) -> Path:
    names = [f"{1001 + a}_{s}_{e}_XX" for a in range(actors) for s in ("DFA", "IEO") for e in ("ANG", "HAP", "SAD")]
    for name in names:
        audio(root / "AudioWAV" / f"{name}.wav")
    if listing:
        _csv(root / "SentenceFilenames.csv", ["Stimulus_Number", "Filename"],
             [[i + 1, n] for i, n in enumerate(names)])
    return root


def audio_mnist(root: Path) -> Path:
    speakers = [group[i] for group in GROUPS for i in range(2)]  # 2 speakers from each of the 5 groups
    for speaker in speakers:
        for digit in (0, 1, 7):
            for index in (0, 1):
                audio(root / "data" / f"{speaker:02d}" / f"{digit}_{speaker:02d}_{index}.wav")
    (root / "data" / "audioMNIST_meta.txt").write_text(json.dumps({f"{s:02d}": {} for s in speakers}))
    return root


def emovo(root: Path, base: str = "EMOVO") -> Path:
    for speaker in ("f1", "f2", "f3", "m1", "m2", "m3"):
        for emotion in ("dis", "gio", "neu", "tri"):
            for sentence in ("b1", "b2", "l1", "n1", "n2"):
                audio(root / base / speaker / f"{emotion}-{speaker}-{sentence}.wav")
    return root


SLURP_INTENTS = {"train": ["alarm_set", "weather_query", "play_music"], "devel": ["alarm_set", "weather_query"],
                 "test": ["alarm_set", "play_music", "cooking_recipe"]}  # cooking_recipe: absent from train


def slurp(root: Path) -> Path:
    """Each intent twice per split, 2 recordings each; as in the released devel/test files, the second devel and
    test occurrence carries a bare action in ``intent`` (``query``, ``music``, ...), not ``{scenario}_{action}``."""
    for split, intents in SLURP_INTENTS.items():
        rows = [_slurp_row(split, i, intent) for i, intent in enumerate(intents * 2)]
        for row in rows[len(intents):] if split != "train" else []:
            row["intent"] = row["action"]
        path = root / "dataset" / "slurp" / f"{split}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        for row in rows:
            for rec in row["recordings"]:
                audio(root / "slurp_real" / rec["file"], "FLAC")
    return root


SLURP_PREFIX = {"train": 101, "devel": 202, "test": 303}


def _slurp_row(split: str, i: int, intent: str) -> dict:
    stamp = f"{SLURP_PREFIX[split]}{i:03d}"
    recordings = [{"file": f"audio-{stamp}{suffix}.flac", "wer": 0.0, "ent_wer": 0.0, "status": "correct"}
                  for suffix in ("", "-headset")]
    scenario, action = intent.split("_", 1)
    return {"slurp_id": int(stamp), "sentence": "wake me up", "sentence_annotation": "wake me up",
            "intent": intent, "action": action, "scenario": scenario, "tokens": [], "recordings": recordings,
            "entities": []}


def timit(root: Path, upper: bool = True) -> Path:
    case = str.upper if upper else str.lower
    for split, per_region in (("train", 4), ("test", 2)):
        for region in ("dr1", "dr2", "dr5"):
            for s in range(per_region):
                speaker = f"{'mf'[s % 2]}{region[-1]}{split[:2]}{s}"
                for sentence in ("sa1", "sa2", "si943", "sx13"):
                    folder = root / "TIMIT" / case(split) / case(region) / case(speaker)
                    audio(folder / case(f"{sentence}.wav"), "NIST")
                    (folder / case(f"{sentence}.txt")).write_text("0 1600 She had your dark suit.\n")
    return root


def vctk(root: Path, version: str = "0.92") -> Path:
    for speaker in ("p225", "p226", "p280", "s5"):
        for utt in range(1, 11):
            if version == "0.80":
                audio(root / "wav48" / speaker / f"{speaker}_{utt:03d}.wav")
                continue
            for mic in ("mic1", "mic2") if speaker != "p280" else ("mic1",):
                audio(root / "wav48_silence_trimmed" / speaker / f"{speaker}_{utt:03d}_{mic}.flac", "FLAC")
    (root / "speaker-info.txt").write_text("ID  AGE  GENDER  ACCENTS  REGION\n")
    return root


CLOTHO_QUESTIONS = [("Is there a bird?", ["yes", "yes", "no"]), ("What is making noise?", ["car", "Truck", "bus"])]


def clotho_aqa(root: Path) -> Path:
    for split, files in (("train", ["birds a.wav", "street.wav"]), ("val", ["rain.wav"]), ("test", ["park.wav"])):
        rows = [[f, q, a, "yes"] for f in files for q, answers in CLOTHO_QUESTIONS for a in answers]
        _csv(root / f"clotho_aqa_{split}.csv", ["file_name", "QuestionText", "answer", "confidence"], rows)
        for f in files:
            audio(root / "audio_files" / f)
    _csv(root / "clotho_aqa_metadata.csv", ["file_name", "keywords"], [])
    return root


def _csv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
