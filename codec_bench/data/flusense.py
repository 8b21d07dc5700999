"""FluSense: ~1,100 AudioSet clips (<= 10 s) with time-stamped cough, sneeze, sniffle, throat-clearing, speech.

- Source: F. Al Hossain et al., "FluSense: A Contactless Syndromic Surveillance Platform for Influenza-Like
  Illness in Hospital Waiting Areas" (IMWUT 2020); annotations github.com/Forsad/FluSense-data
  (``flusense_data/*.TextGrid``), audio from the Google-Drive folder linked in its README.
- License: [uncertain] none stated in the annotation repository; the audio comes from AudioSet / YouTube.
- Layout: ``flusense_data/{stem}.TextGrid`` (Praat long text format, one IntervalTier ``word``) and the audio,
  assumed [uncertain] to be named ``{stem}.wav`` (any audio suffix), anywhere under ROOT, e.g. ``audio/``.
  Stems look like ``-4LOcUpXMzc_30_000-40_000`` (YouTube id and start-end in ms) or a bare YouTube id.
- Label: the annotations are segment-level (time intervals, one label each; the FluSense paper classifies
  short segments and the original project's mirror has one row per segment). Here the task is clip-level
  multi-label, our own definition: the set of interval texts in the clip, lower-cased, ``-`` read as a space
  (``throat-clearing`` -> ``throat clearing``). ``silence``, empty intervals and ``etc`` ("everything else", per
  the README) are not labels; a clip with no other label is left out. Rare labels (e.g. vomit, wheeze) are
  kept; any absent from training is dropped from evaluation by ``finalize``. Segment-level clips need sample
  offsets that ``audio.py`` does not take, so each clip's intervals are kept in ``extra["segments"]`` as
  ``[start_s, end_s, label]``.
- Protocol ``random`` (``official`` is an alias; there is no official split): stratified 80/10/10, seed 0,
  stratified by the label covering the most time in the clip, drawn by whole YouTube videos (the 11-character
  id that starts every stem), so two excerpts of one video never straddle two splits.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from ..core.errors import CodecBenchError
from .common import audio_files, check_protocol, keep_existing, readable, require, stratified_split
from .manifest import Clip, DatasetSpec, Manifest, finalize

NAME = "flusense"
PROTOCOLS = ("random",)
ANNOTATIONS = "flusense_data"
NOT_LABELS = {"", "silence", "etc"}
INSTRUCTION = (
    "Which of these sounds occur in this clip: cough, sneeze, sniffle, throat clearing, speech? "
    "Answer with their names."
)
EXCERPT = re.compile(r"_\d+_\d{3}-\d+_\d{3}$")  # {video}_{start s}_{ms}-{end s}_{ms}
INTERVAL = re.compile(r'xmin = ([-\d.eE]+)\s*\n\s*xmax = ([-\d.eE]+)\s*\n\s*text = "((?:[^"]|"")*)"')
LAYOUT = """ROOT/
  flusense_data/
    -4LOcUpXMzc_30_000-40_000.TextGrid     from github.com/Forsad/FluSense-data
  audio/                                   (any folder under ROOT; from the README's Google-Drive link)
    -4LOcUpXMzc_30_000-40_000.wav          same stem as the TextGrid"""


def load(root: Path, protocol: str = "official", fold: str | None = None) -> Manifest:
    """Read the FluSense TextGrids and matching audio as clip-level multi-label clips (no folds)."""
    root = Path(root).resolve()
    protocol = check_protocol(NAME, protocol, PROTOCOLS)
    require(root, NAME, LAYOUT, ANNOTATIONS)
    audio_by_stem = {p.stem: p for p in audio_files(root)}
    grids = sorted((root / ANNOTATIONS).glob("*.TextGrid"))
    clips = [c for c in (_clip(root, grid, audio_by_stem) for grid in grids) if c]
    if not clips:
        raise CodecBenchError(f"{root / ANNOTATIONS}: no TextGrid with a sound label; expected the FluSense-data files")
    split_of = stratified_split([c.id for c in clips], [c.extra["dominant"] for c in clips], (0.8, 0.1, 0.1), seed=0,
                                groups=[video_id(c.id) for c in clips])
    clips = [Clip(c.id, c.path, c.labels, split_of[c.id], extra={"segments": c.extra["segments"]}) for c in clips]
    skipped: list[dict] = []
    clips = keep_existing(clips, skipped, str(root / ANNOTATIONS))
    return finalize(Manifest(NAME, "multi_label", "sound", INSTRUCTION, [], clips, protocol, None, skipped))


def read_intervals(grid: Path) -> list[tuple[float, float, str]]:
    """(start_s, end_s, label) for every labelled interval of a long-format TextGrid."""
    raw = grid.read_bytes()
    text = raw.decode("utf-16") if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else raw.decode("utf-8", errors="replace")
    intervals = [(float(a), float(b), _label(t)) for a, b, t in INTERVAL.findall(text)]
    return [(a, b, t) for a, b, t in intervals if t not in NOT_LABELS]


def video_id(stem: str) -> str:
    """The YouTube video of a FluSense stem: ``-4LOcUpXMzc_30_000-40_000`` -> ``-4LOcUpXMzc``; a bare id stays."""
    return stem[: -len(m.group(0))] if (m := EXCERPT.search(stem)) else stem


def _label(text: str) -> str:
    return readable(text.replace('""', '"').strip().lower().replace("-", " "))


def _clip(root: Path, grid: Path, audio_by_stem: dict[str, Path]) -> Clip | None:
    intervals = read_intervals(grid)
    if not intervals:
        return None
    seconds: dict[str, float] = defaultdict(float)
    for start, end, label in intervals:
        seconds[label] += end - start
    path = audio_by_stem.get(grid.stem, root / "audio" / f"{grid.stem}.wav")
    extra = {"segments": [[a, b, t] for a, b, t in intervals], "dominant": max(sorted(seconds), key=seconds.get)}
    return Clip(id=grid.stem, path=str(path), labels=tuple(sorted(seconds)), split="train", extra=extra)


SPEC = DatasetSpec(
    name=NAME, domain="sound", task="multi_label", instruction=INSTRUCTION, protocols=PROTOCOLS,
    layout=LAYOUT, load=load,
    protocol_notes={"random": "no official split: stratified random 80/10/10, seed 0, by YouTube video "
                              "(annotations: github.com/Forsad/FluSense-data)"},
)
