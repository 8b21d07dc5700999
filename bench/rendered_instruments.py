"""A small real-audio multi-label instrument-tagging set, rendered from sampled acoustic instruments.

    python bench/rendered_instruments.py OUT_DIR [--train 300] [--validation 100] [--test 50] [--seed 7] [--seconds 3]
    codec-bench run csv --root OUT_DIR --out runs-rendered   # the multi-label pipeline, like any `csv` dataset
    python bench/rendered_instruments.py OUT_DIR --tiny      # 8/4/4 clips of 1 s: checks that the script runs

Why: the multi-label pipeline needs a check on real recorded timbres that no test or default was tuned on. The
instruments here are the sampled acoustic instruments of the FluidR3 General-MIDI soundfont (Frank Wen, MIT
license; Debian package ``fluid-soundfont-gm``), played by FluidSynth, so the audio is real instrument samples
while the labels are exact by construction. The test split is rendered from another sample library, the TimGM6mb
General-MIDI soundfont (Tim Brechbill, GPL-2; Debian package ``timgm6mb-soundfont``): the same instruments recorded
elsewhere, so a test figure measures a change of source, as a user's recordings never come from the training library.

What it builds: each clip is ``--seconds`` long, 16 kHz mono 16-bit WAV, and holds 2 or 3 distinct instruments
out of 8 (piano, guitar, violin, cello, trumpet, clarinet, flute, marimba). Each instrument plays its own random
phrase (notes of a random key within the instrument's natural range, random rhythm, durations and velocities,
some chords on piano and strummed chords on guitar, a random start offset). Every phrase is rendered to its own
stem, the stem is brought to a common RMS, then given a random gain of -6..0 dB; the mix is peak-normalised to
-1 dBFS. Reverb and chorus are off, and phrases of one instrument are rendered in one FluidSynth call, separated
by silence and an all-sound-off, then cut apart, so nothing leaks from one clip into the next. Splits use their
own random draws (deterministic given ``--seed``), and every instrument appears at least a few times in each;
``SOUNDFONTS`` names the soundfont of each split (written into settings.json).

Output (the layout of the project's ``csv`` dataset)::

    OUT_DIR/metadata.csv      path,labels,split   (labels sorted, ';'-separated), written last
    OUT_DIR/instruction.txt   the question asked of the model
    OUT_DIR/settings.json     the settings; a rerun with the same ones does nothing
    OUT_DIR/clips.json        per clip: instruments, gains (dB), stem RMS before mixing (dBFS)
    OUT_DIR/audio/<split>/<nnnnn>.wav

Needs ``fluidsynth`` and the soundfonts: ``apt-get install -y fluidsynth fluid-soundfont-gm timgm6mb-soundfont``.
300/50/50 clips of 3 s took about 20 s on two cores (one FluidSynth call per instrument and soundfont).
"""

from __future__ import annotations

import argparse
import json
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")  # training and validation
TEST_SOUNDFONT = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")  # test: another sample library, a change of source
SOUNDFONTS = {"train": SOUNDFONT, "validation": SOUNDFONT, "test": TEST_SOUNDFONT}
APT = "apt-get install -y fluidsynth fluid-soundfont-gm timgm6mb-soundfont"
INSTRUCTION = "Which instruments play in this clip? Answer with their names, separated by commas."
SPLITS = ("train", "validation", "test")
SIZES = {"train": (300, 8), "validation": (100, 4), "test": (50, 4), "seconds": (3.0, 1.0)}  # (default, with --tiny)
SAMPLE_RATE = 16_000
RENDER_RATE = 44_100  # rendered at 44.1 kHz and resampled: FluidSynth's own interpolation aliases at 16 kHz
GAP_S = 2.0  # silence between two phrases in one rendering (after an all-sound-off)
TICKS_PER_S = 960  # 480 ticks per beat at the default 120 bpm
# a stem quieter than this (RMS, dBFS, before mixing) stops the build: a silent render. At render gain 0.5 stems sit
# around -30..-38 dBFS (piano is the quietest preset); a sparse soft piano phrase can reach -49.
STEM_FLOOR_DB = -60.0
VERSION = 2  # 2: the test split from TEST_SOUNDFONT, 100 validation clips by default


@dataclass(frozen=True)
class Instrument:
    label: str
    program: int  # General-MIDI program, 0-based
    low: int  # natural range, MIDI note numbers
    high: int
    chords: str = ""  # "" | "block" | "strum"
    sustained: bool = False  # bowed or blown: longer, more legato notes


INSTRUMENTS = (
    Instrument("piano", 0, 40, 88, chords="block"),
    Instrument("guitar", 24, 40, 76, chords="strum"),
    Instrument("violin", 40, 55, 88, sustained=True),
    Instrument("cello", 42, 36, 69, sustained=True),
    Instrument("trumpet", 56, 55, 79, sustained=True),
    Instrument("clarinet", 71, 50, 84, sustained=True),
    Instrument("flute", 73, 60, 91, sustained=True),
    Instrument("marimba", 12, 48, 84),
)
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}


@dataclass
class Note:
    start: float  # seconds from the clip start
    end: float
    pitch: int
    velocity: int


@dataclass
class Clip:
    split: str
    index: int
    instruments: list[int]
    gains_db: list[float]
    phrases: list[list[Note]]
    stem_rms_db: list[float] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return sorted(INSTRUMENTS[i].label for i in self.instruments)

    @property
    def path(self) -> str:
        return f"audio/{self.split}/{self.index:05d}.wav"


# ---------------------------------------------------------------- planning


def choose_instruments(rng: np.random.Generator, n: int, min_count: int) -> list[list[int]]:
    """2 or 3 distinct instruments per clip, redrawn until every instrument is in at least ``min_count`` clips."""
    for _ in range(1000):
        combos = [sorted(rng.choice(len(INSTRUMENTS), size=int(rng.integers(2, 4)), replace=False).tolist()) for _ in range(n)]
        counts = np.bincount([i for c in combos for i in c], minlength=len(INSTRUMENTS))
        if counts.min() >= min_count:
            return combos
    raise SystemExit(f"error: could not place every instrument {min_count} times in {n} clips; use more clips")


def scale_pitches(rng: np.random.Generator, inst: Instrument) -> list[int]:
    """The pitches of a random major or minor key that lie in the instrument's range."""
    tonic = int(rng.integers(12))
    steps = SCALES[str(rng.choice(list(SCALES)))]
    return [p for p in range(inst.low, inst.high + 1) if (p - tonic) % 12 in steps]


def phrase(rng: np.random.Generator, inst: Instrument, seconds: float) -> list[Note]:
    """A random phrase: a random walk over a key, random rhythm and velocities, some chords where the instrument has them."""
    pitches = scale_pitches(rng, inst)
    beat = 60.0 / rng.uniform(80, 150)
    lengths = (0.5, 1.0, 1.0, 1.5, 2.0) if inst.sustained else (0.25, 0.5, 0.5, 1.0, 1.5)
    legato = (0.75, 0.98) if inst.sustained else (0.5, 0.95)
    base_velocity = rng.uniform(65, 105)
    degree = int(rng.integers(len(pitches) // 4, 3 * len(pitches) // 4 + 1))
    t = rng.uniform(0.0, min(0.6, seconds / 5))
    end_by = seconds - 0.05
    notes: list[Note] = []
    onsets = 0
    while t < end_by - 0.15:
        length = float(rng.choice(lengths)) * beat
        if onsets >= 2 and rng.random() < 0.12:  # a rest, once the phrase has started
            t += length
            continue
        degree = int(np.clip(degree + rng.integers(-3, 4), 0, len(pitches) - 1))
        end = min(t + length * rng.uniform(*legato), end_by)
        velocity = int(np.clip(base_velocity + rng.normal(0, 10), 35, 127))
        chord = [degree]
        if inst.chords and rng.random() < 0.4:
            chord += [d for d in (degree + 2, degree + 4, degree + 7)[: int(rng.integers(1, 4))] if d < len(pitches)]
        for k, d in enumerate(chord):
            onset = t + (k * rng.uniform(0.012, 0.03) if inst.chords == "strum" else 0.0)
            notes.append(Note(onset, end, pitches[d], max(1, velocity - 6 * k)))
        onsets += 1
        t += length
    return notes


def plan_split(rng: np.random.Generator, split: str, n: int, seconds: float) -> list[Clip]:
    min_count = max(1, min(3, n * 2 // len(INSTRUMENTS)))
    clips = []
    for index, combo in enumerate(choose_instruments(rng, n, min_count), start=1):
        gains = [round(float(rng.uniform(-6.0, 0.0)), 2) for _ in combo]
        clips.append(Clip(split, index, combo, gains, [phrase(rng, INSTRUMENTS[i], seconds) for i in combo]))
    return clips


# ---------------------------------------------------------------- MIDI


def _varlen(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


def midi_file(events: list[tuple[int, int, bytes]]) -> bytes:
    """A format-0 standard MIDI file from (tick, order, message) events; ``order`` breaks ties (note-offs first)."""
    track, last = bytearray(), 0
    for tick, _, message in sorted(events, key=lambda e: (e[0], e[1])):
        track += _varlen(tick - last) + message
        last = tick
    track += _varlen(0) + b"\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS_PER_S // 2)
    return header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)


def phrases_midi(program: int, phrases: list[list[Note]], slot_s: float, seconds: float) -> bytes:
    """One instrument's phrases one after the other, each in its own slot of ``slot_s`` seconds, on channel 0."""
    def ticks(s: float) -> int:
        return round(s * TICKS_PER_S)

    events = [(0, 0, b"\xff\x51\x03\x07\xa1\x20"),  # 120 bpm
              (0, 1, bytes([0xC0, program])),
              (0, 1, b"\xb0\x07\x64"), (0, 1, b"\xb0\x0a\x40"),  # volume 100, pan centre
              (0, 1, b"\xb0\x5b\x00"), (0, 1, b"\xb0\x5d\x00")]  # no reverb or chorus send
    for k, notes in enumerate(phrases):
        offset = k * slot_s
        for n in notes:
            events.append((ticks(offset + n.start), 3, bytes([0x90, n.pitch, n.velocity])))
            events.append((ticks(offset + n.end), 2, bytes([0x80, n.pitch, 0])))
        events.append((ticks(offset + seconds + 0.1), 4, b"\xb0\x78\x00"))  # all sound off, after the cut
    events.append((ticks(len(phrases) * slot_s), 5, b"\xb0\x7b\x00"))
    return midi_file(events)


# ---------------------------------------------------------------- rendering


def check_tools() -> str:
    fluidsynth = shutil.which("fluidsynth")
    missing = [str(p) for p in dict.fromkeys(SOUNDFONTS.values()) if not p.is_file()]
    if fluidsynth is None or missing:
        what = "fluidsynth" if fluidsynth is None else " and ".join(missing)
        raise SystemExit(f"error: {what} not found; install it with `{APT}` (sudo if not root)")
    return fluidsynth


def render(fluidsynth: str, midi: bytes, workdir: Path, soundfont: Path = SOUNDFONT) -> np.ndarray:
    """Render a MIDI file with FluidSynth from ``soundfont`` (reverb and chorus off) to a mono float array at
    RENDER_RATE."""
    mid, wav = workdir / "phrases.mid", workdir / "phrases.wav"
    mid.write_bytes(midi)
    cmd = [fluidsynth, "-ni", "-q", "-R", "0", "-C", "0", "-g", "0.5", "-r", str(RENDER_RATE), "-O", "float",
           "-T", "wav", "-F", str(wav), str(soundfont), str(mid)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not wav.is_file():
        raise SystemExit(f"error: fluidsynth failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    audio, rate = sf.read(wav, dtype="float32", always_2d=True)
    assert rate == RENDER_RATE, rate
    wav.unlink()
    return audio.mean(axis=1)


def cut_stems(audio: np.ndarray, count: int, slot_s: float, seconds: float) -> list[np.ndarray]:
    """The ``count`` phrases of one rendering, each ``seconds`` long and resampled to SAMPLE_RATE."""
    length = round(seconds * RENDER_RATE)
    target = round(seconds * SAMPLE_RATE)
    g = gcd(SAMPLE_RATE, RENDER_RATE)
    stems = []
    for k in range(count):
        start = round(k * slot_s * RENDER_RATE)
        seg = np.zeros(length, np.float32)
        part = audio[start:start + length]
        seg[: len(part)] = part
        stem = resample_poly(seg, SAMPLE_RATE // g, RENDER_RATE // g).astype(np.float32)
        stems.append(stem[:target] if len(stem) >= target else np.pad(stem, (0, target - len(stem))))
    return stems


def db(x: float) -> float:
    return float(20 * np.log10(max(x, 1e-12)))


def render_mixes(clips: list[Clip], seconds: float, fluidsynth: str,
                 soundfonts: dict[str, Path] = SOUNDFONTS) -> list[np.ndarray]:
    """Render every stem (one FluidSynth call per instrument and soundfont, each split from its ``soundfonts``
    entry) and mix each clip; fills ``clip.stem_rms_db``."""
    slot_s = seconds + GAP_S
    mixes = [np.zeros(round(seconds * SAMPLE_RATE), np.float32) for _ in clips]
    rms_by_slot: dict[tuple[int, int], float] = {}
    with tempfile.TemporaryDirectory(prefix="rendered-instruments-") as tmp:
        fonts = list(dict.fromkeys(soundfonts[clip.split] for clip in clips))
        for (i, inst), soundfont in ((pair, font) for pair in enumerate(INSTRUMENTS) for font in fonts):
            uses = [(c, clip.instruments.index(i)) for c, clip in enumerate(clips)
                    if i in clip.instruments and soundfonts[clip.split] == soundfont]
            if not uses:
                continue
            midi = phrases_midi(inst.program, [clips[c].phrases[k] for c, k in uses], slot_s, seconds)
            stems = cut_stems(render(fluidsynth, midi, Path(tmp), soundfont), len(uses), slot_s, seconds)
            for (c, k), stem in zip(uses, stems):
                rms = float(np.sqrt(np.mean(stem.astype(np.float64) ** 2)))
                if db(rms) < STEM_FLOOR_DB:
                    raise SystemExit(f"error: {inst.label} stem of {clips[c].path} is near-silent ({db(rms):.1f} dBFS RMS)")
                rms_by_slot[(c, k)] = rms
                mixes[c] += stem / rms * 0.1 * 10 ** (clips[c].gains_db[k] / 20)
    for c, clip in enumerate(clips):
        clip.stem_rms_db = [round(db(rms_by_slot[(c, k)]), 1) for k in range(len(clip.instruments))]
        peak = float(np.abs(mixes[c]).max())
        mixes[c] *= 10 ** (-1 / 20) / peak
    return mixes


def write_dataset(out: Path, clips: list[Clip], mixes: list[np.ndarray], settings: dict) -> None:
    for clip, mix in zip(clips, mixes):
        path = out / clip.path
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, mix, SAMPLE_RATE, subtype="PCM_16")
    (out / "instruction.txt").write_text(INSTRUCTION + "\n", encoding="utf-8")
    details = [{"path": c.path, "labels": c.labels, "instruments": [INSTRUMENTS[i].label for i in c.instruments],
                "gains_db": c.gains_db, "stem_rms_dbfs": c.stem_rms_db, "notes": [len(p) for p in c.phrases]} for c in clips]
    (out / "clips.json").write_text(json.dumps(details, indent=1) + "\n", encoding="utf-8")
    (out / "settings.json").write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    lines = ["path,labels,split"] + [f"{c.path},{';'.join(c.labels)},{c.split}" for c in clips]
    tmp = out / "metadata.csv.tmp"
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(out / "metadata.csv")


def summary(clips: list[Clip], seconds_taken: float) -> str:
    per_split = {s: sum(c.split == s for c in clips) for s in SPLITS}
    cardinality = np.mean([len(c.instruments) for c in clips])
    train = {inst.label: sum(inst.label in c.labels for c in clips if c.split == "train") for inst in INSTRUMENTS}
    return (f"clips {' '.join(f'{s}={n}' for s, n in per_split.items())} | labels/clip {cardinality:.2f} | "
            f"train counts {' '.join(f'{k}={v}' for k, v in train.items())} | {seconds_taken:.1f} s")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Render a multi-label instrument-tagging set with FluidSynth (FluidR3 GM; "
                                "the test split from TimGM6mb).")
    p.add_argument("out", type=Path, help="output folder")
    for name, (full, tiny) in SIZES.items():
        p.add_argument(f"--{name}", type=type(full), help=f"{'seconds per clip' if name == 'seconds' else 'clips'} "
                       f"(default {full}; {tiny} with --tiny)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--tiny", action="store_true", help="a few 1-s clips: checks that the script runs")
    args = p.parse_args(argv)
    for name, (full, tiny) in SIZES.items():
        setattr(args, name, (tiny if args.tiny else full) if getattr(args, name) is None else getattr(args, name))
    if min(args.train, args.validation, args.test) < 1 or args.seconds < 1.0:
        p.error("each split needs at least 1 clip, and --seconds at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    settings = {"version": VERSION, "train": args.train, "validation": args.validation, "test": args.test,
                "seed": args.seed, "seconds": args.seconds, "sample_rate": SAMPLE_RATE,
                "soundfonts": {split: font.name for split, font in SOUNDFONTS.items()}}
    out: Path = args.out
    meta, stored = out / "metadata.csv", out / "settings.json"
    if meta.is_file():
        previous = json.loads(stored.read_text(encoding="utf-8")) if stored.is_file() else None
        if previous == settings:
            print(f"{out}: already built with these settings; nothing to do")
            return
        raise SystemExit(f"error: {out} already holds a dataset built with other settings ({stored}); "
                         "delete it or choose another folder")
    fluidsynth = check_tools()
    begin = time.perf_counter()
    rngs = np.random.default_rng(args.seed).spawn(len(SPLITS))
    clips = [c for s, rng in zip(SPLITS, rngs) for c in plan_split(rng, s, getattr(args, s), args.seconds)]
    mixes = render_mixes(clips, args.seconds, fluidsynth)
    out.mkdir(parents=True, exist_ok=True)
    write_dataset(out, clips, mixes, settings)
    print(summary(clips, time.perf_counter() - begin))


if __name__ == "__main__":
    main(sys.argv[1:])
