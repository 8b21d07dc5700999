"""VCTK speaker identification: ~110 English speakers with various accents, ~400 sentences each.

- Source: Yamagishi, Veaux & MacDonald, "CSTR VCTK Corpus: English Multi-speaker Corpus for CSTR Voice
  Cloning Toolkit", University of Edinburgh DataShare: v0.92 ``VCTK-Corpus-0.92.zip`` (handle 10283/3443),
  v0.80 ``VCTK-Corpus.tar.gz``.
- License: CC BY 4.0.
- Layout: v0.92: ``wav48_silence_trimmed/{speaker}/{speaker}_{NNN}_mic{1,2}.flac`` (110 speakers incl.
  ``s5``; p280 and p315 have no mic2 recordings), ``txt/``, ``speaker-info.txt``. v0.80:
  ``wav48/{speaker}/{speaker}_{NNN}.wav`` (109 speakers). v0.92 is used when both are present.
- Label: the speaker folder (``p225``); speaker = the same. Text and speaker-info are not read.
- Protocols (the corpus has no speaker-ID split): ``utterance`` (default; ``official`` is an alias): per
  speaker, the utterances are shuffled (seed 0) and cut 80/10/10 into train/validation/test with
  ``common.stratified_split``; every speaker is in every split (closed-set identification). v0.92 reads
  mic1 (omnidirectional DPA 4035). ``utterance_mic2``: the same with mic2 (v0.92 only; p280 and p315 absent).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..core.errors import CodecBenchError
from .common import check_protocol, require, stratified_split
from .manifest import Clip, DatasetSpec, Manifest, finalize

NAME = "vctk"
PROTOCOLS = ("utterance", "utterance_mic2")
INSTRUCTION = "Which speaker is talking? Answer with the speaker id."
LAYOUT = """ROOT/                              (unpacked VCTK-Corpus-0.92.zip, or VCTK-Corpus/ of v0.80)
  wav48_silence_trimmed/             v0.92
    p225/
      p225_001_mic1.flac  p225_001_mic2.flac  ...
    ...
  wav48/                             v0.80 (used only without wav48_silence_trimmed/)
    p225/
      p225_001.wav  ...
  txt/  speaker-info.txt             (not used)"""


def load(root: Path, protocol: str = "official", fold: str | None = None) -> Manifest:
    """Read VCTK under ``root`` into a speaker-ID Manifest with a per-speaker 80/10/10 utterance split."""
    root = Path(root).resolve()
    protocol = check_protocol(NAME, protocol, PROTOCOLS)
    mic = "mic2" if protocol == "utterance_mic2" else "mic1"
    clips = _clips(root, mic)
    assignment = stratified_split([c.id for c in clips], [c.speaker for c in clips], (0.8, 0.1, 0.1), seed=0)
    clips = [replace(c, split=assignment[c.id]) for c in clips]
    return finalize(Manifest(NAME, "single_label", "speech", INSTRUCTION, [], clips, protocol, None))


def _clips(root: Path, mic: str) -> list[Clip]:
    audio_dir, pattern = _audio_dir(root, mic)
    speakers = sorted(p for p in audio_dir.iterdir() if p.is_dir())
    return [_clip(root, p, s.name) for s in speakers for p in sorted(s.glob(pattern))]


def _audio_dir(root: Path, mic: str) -> tuple[Path, str]:
    """The audio folder and file pattern of the version found: v0.92 (FLAC, one mic) or v0.80 (WAV)."""
    v092, v080 = root / "wav48_silence_trimmed", root / "wav48"
    if not v092.is_dir() and not v080.is_dir():
        require(root, NAME, LAYOUT, "wav48_silence_trimmed/ (v0.92) or wav48/ (v0.80)")
    if v092.is_dir():
        return v092, f"*_{mic}.flac"
    if mic == "mic2":
        raise CodecBenchError(f"{NAME}: {root} is v0.80 (wav48/), which has no mic2; use protocol utterance")
    return v080, "*.wav"


def _clip(root: Path, path: Path, speaker: str) -> Clip:
    if not path.name.startswith(f"{speaker}_"):
        raise CodecBenchError(f"{path}: file is not named {speaker}_NNN...; move it to its speaker's folder or remove it")
    return Clip(id=path.relative_to(root).as_posix(), path=str(path), labels=(speaker,), split="train",
                speaker=speaker)


SPEC = DatasetSpec(
    name=NAME, domain="speech", task="single_label", instruction=INSTRUCTION, protocols=PROTOCOLS,
    layout=LAYOUT, load=load, num_classes=110,  # v0.92 (v0.80: 109)
    protocol_notes={
        "utterance": "ours (the corpus has no speaker-ID split): per speaker 80/10/10 of the utterances, seed 0, mic1",
        "utterance_mic2": "the same with mic2 recordings (v0.92 only)",
    },
)
