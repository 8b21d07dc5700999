"""A small real-audio suite for choosing and checking the project's defaults (issue 19, point 3).

    python bench/real_audio_suite.py OUT [--seed 19]      # build the four sets under OUT/<set>/ (~1 min)
    python bench/real_audio_suite.py OUT --tiny           # a few clips per set, in seconds: checks that it runs
    python bench/real_audio_suite.py OUT --run RUNS [--tag old] [--args "--codec logmel"] [--sets voices,...] [--test]
    python bench/real_audio_suite.py OUT --table RUNS --tag old [--tag new --hide-test new]  # docs/performance.md

Why: the defaults were once chosen on the demo's generated data, and that choice did not carry to real audio. These
sets are real audio (sampled instruments, a speech synthesiser's voices, sox's reverberation) with exact labels,
built only from what a Debian machine installs (``apt-get install -y fluidsynth fluid-soundfont-gm timgm6mb-soundfont
espeak-ng sox``),
deterministic given ``--seed``. Each is a folder in the project's ``csv`` layout (metadata.csv, instruction.txt,
audio/<split>/*.wav, 16 kHz mono), small enough for one ``codec-bench run csv`` with the defaults in a few minutes
on one core. Choose on the validation splits; the test splits are for the report only: ``--run`` evaluates and
reports validation only (``codec-bench run --splits validation``) unless ``--test`` is given, which, once the choice
is made, evaluates the test split with the models already trained.

The sets:

- ``instruments``: single-label, 8 instruments, one random phrase per 2 s clip, rendered by the functions of
  ``bench/rendered_instruments.py``: training and validation from the FluidR3 GM soundfont (Frank Wen, MIT), test
  from the TimGM6mb soundfont (Tim Brechbill, GPL-2), another sample library: the test figure measures a change of
  source. Each split draws its phrases from its own random stream, so no test phrase is heard in training.
- ``voices``: single-label spoken digits "zero".."nine", espeak-ng (GPL-3) English accents x voice variants, each
  speaker with its own speed and pitch; speakers are held out, and so are their accents and variants: each split
  has accents and variants of its own (``speakers``), so no test speaker shares an accent or a variant with a
  training or validation speaker.
- ``digit-pairs``: multi-label, two different digits by two different speakers of the split, overlapping
  (second onset 0.25..0.7 s after the first, gains -6..0 dB), same speaker split as ``voices``.

Every set's validation split holds at least 100 clips at the full size (104, 100, 100, 104), so that one clip
moves a validation figure by 1 point or less.
- ``instruments-room``: the ``instruments`` clips played in a room (sox ``reverb``, reverberance 40..90 %, room
  scale 40..100 %, pre-delay 0..30 ms, per clip) plus noise at an SNR of 20, 10 or 5 dB. The reverberation is
  the real acoustic condition; the noise is synthetic pink noise (no recorded noise is installable here).
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from math import gcd
from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

sys.path.insert(0, str(Path(__file__).resolve().parent))
import rendered_instruments as ri  # a sibling script, not a package

SPLITS = ri.SPLITS
RATE = ri.SAMPLE_RATE
VERSION = 2  # 2: test instruments from TimGM6mb, accents and variants held out by split, >= 100 validation clips
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029")
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5", "adam", "Alex", "Alicia",
            "Andrea", "Andy", "Annie", "benjamin", "caleb", "david", "ed", "edward", "john", "linda", "max", "michel",
            "paul", "rob", "robert", "steph", "travis", "victor", "zac", "grandma", "grandpa")
SNRS_DB = (20.0, 10.0, 5.0)
INSTRUCTIONS = {
    "instruments": "Which instrument plays in this clip? Answer with its name.",
    "voices": "Which digit is spoken in this clip? Answer with the word.",
    "digit-pairs": "Which digits are spoken in this clip? Answer with the words, separated by commas.",
    "instruments-room": "Which instrument plays in this clip? Answer with its name.",
}
# clips per split: instruments per class, speakers per split and takes per digit, pair clips per split
FULL = {"instrument_clips": (30, 13, 10), "speakers": (16, 10, 8), "takes": (2, 1, 1), "pairs": (240, 100, 80)}
ACCENTS_PER_SPLIT = (3, 2, 2)  # of the 7 ACCENTS; the variants are dealt in proportion (``speakers``)
TINY = {"instrument_clips": (2, 1, 1), "speakers": (2, 1, 1), "takes": (1, 1, 1), "pairs": (8, 4, 4)}


@dataclass(frozen=True)
class Row:
    path: str
    labels: tuple[str, ...]
    split: str


@dataclass(frozen=True)
class Speaker:
    voice: str  # espeak-ng voice with variant, e.g. en-gb-scotland+f2
    speed: int  # words per minute
    pitch: int  # 0..99


# ---------------------------------------------------------------- writing


def write_set(out: Path, rows: list[Row], audio: list[np.ndarray], settings: dict) -> None:
    """The ``csv`` layout; metadata.csv is written last, through a temporary name."""
    for row, clip in zip(rows, audio):
        path = out / row.path
        path.parent.mkdir(parents=True, exist_ok=True)
        peak = float(np.abs(clip).max())
        sf.write(path, clip * (10 ** (-1 / 20) / peak if peak > 10 ** (-1 / 20) else 1.0), RATE, subtype="PCM_16")
    (out / "instruction.txt").write_text(INSTRUCTIONS[out.name] + "\n", encoding="utf-8")
    (out / "settings.json").write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    header = "path,labels,split" if any(len(r.labels) > 1 for r in rows) else "path,label,split"
    lines = [header] + [f"{r.path},{';'.join(sorted(r.labels))},{r.split}" for r in rows]
    tmp = out / "metadata.csv.tmp"
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(out / "metadata.csv")


def at_rms(x: np.ndarray, db: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    return (x / max(rms, 1e-9) * 10 ** (db / 20)).astype(np.float32)


# ---------------------------------------------------------------- a. instruments


def instrument_rows(seed: int, per_class: tuple[int, int, int], seconds: float = 2.0) -> tuple[list[Row], list[np.ndarray]]:
    """One phrase per clip, one FluidSynth call per instrument; clips at -20 dBFS RMS with a gain of -6..0 dB."""
    fluidsynth = ri.check_tools()
    rngs = np.random.default_rng([seed, 1]).spawn(len(SPLITS))
    plan = []  # (split, instrument index, phrase, gain dB)
    for split, rng, n in zip(SPLITS, rngs, per_class):
        for i, inst in enumerate(ri.INSTRUMENTS):
            plan += [(split, i, ri.phrase(rng, inst, seconds), float(rng.uniform(-6, 0))) for _ in range(n)]
    audio: list[np.ndarray | None] = [None] * len(plan)
    slot_s = seconds + ri.GAP_S
    with tempfile.TemporaryDirectory(prefix="suite-instruments-") as tmp:
        for i, inst in enumerate(ri.INSTRUMENTS):
            for soundfont in dict.fromkeys(ri.SOUNDFONTS.values()):  # the test split from another sample library
                uses = [k for k, p in enumerate(plan) if p[1] == i and ri.SOUNDFONTS[p[0]] == soundfont]
                midi = ri.phrases_midi(inst.program, [plan[k][2] for k in uses], slot_s, seconds)
                rendered = ri.render(fluidsynth, midi, Path(tmp), soundfont)
                for k, stem in zip(uses, ri.cut_stems(rendered, len(uses), slot_s, seconds)):
                    audio[k] = at_rms(stem, -20 + plan[k][3])
    counters = {s: 0 for s in SPLITS}
    rows = []
    for split, i, _, _ in plan:
        counters[split] += 1
        rows.append(Row(f"audio/{split}/{counters[split]:05d}.wav", (ri.INSTRUMENTS[i].label,), split))
    return rows, audio  # type: ignore[return-value]


# ---------------------------------------------------------------- b, c. voices


def held_out(names: Sequence[str], sizes: Sequence[int], rng: np.random.Generator) -> dict[str, list[str]]:
    """``names`` shuffled and dealt to the splits, ``sizes[j]`` to the j-th: no name in two splits."""
    order = [names[k] for k in rng.permutation(len(names))]
    bounds = np.cumsum((0, *sizes))
    return {s: order[bounds[j]:bounds[j + 1]] for j, s in enumerate(SPLITS)}


def speakers(seed: int, counts: tuple[int, int, int]) -> dict[str, list[Speaker]]:
    """Disjoint speakers per split, each an accent x variant with its own speed and pitch. Accents and variants
    are held out too: each split draws its speakers from accents (``ACCENTS_PER_SPLIT``) and variants (dealt in the
    same proportion) that no other split has, so a test voice shares neither its accent nor its variant with any
    voice of training or validation."""
    if shutil.which("espeak-ng") is None:
        raise SystemExit("error: espeak-ng not found; install it with `apt-get install -y espeak-ng`")
    rng = np.random.default_rng([seed, 2])
    accents = held_out(ACCENTS, ACCENTS_PER_SPLIT, rng)
    share = [round(len(VARIANTS) * n / len(ACCENTS)) for n in ACCENTS_PER_SPLIT[1:]]
    variants = held_out(VARIANTS, (len(VARIANTS) - sum(share), *share), rng)
    people = {}
    for split, n in zip(SPLITS, counts):
        combos = [f"{a}+{v}" for a in accents[split] for v in variants[split]]
        if n > len(combos):
            raise SystemExit(f"error: {n} {split} speakers asked for, but its accents and variants make {len(combos)}")
        picked = rng.choice(len(combos), size=n, replace=False)
        people[split] = [Speaker(combos[k], int(rng.integers(130, 200)), int(rng.integers(25, 75))) for k in picked]
    return people


def say(speaker: Speaker, word: str, rng: np.random.Generator, workdir: Path) -> np.ndarray:
    """One take of a word (speed +-10 %, pitch +-8 around the speaker's), 16 kHz, silence trimmed, at -20 dBFS RMS."""
    wav = workdir / "take.wav"
    speed = int(speaker.speed * rng.uniform(0.9, 1.1))
    pitch = int(np.clip(speaker.pitch + rng.integers(-8, 9), 0, 99))
    cmd = ["espeak-ng", "-v", speaker.voice, "-s", str(speed), "-p", str(pitch), "-w", str(wav), word]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"error: espeak-ng failed for {speaker.voice}: {done.stderr.strip()[-300:]}")
    audio, rate = sf.read(wav, dtype="float32")
    g = gcd(RATE, rate)
    audio = resample_poly(audio, RATE // g, rate // g).astype(np.float32)
    loud = np.flatnonzero(np.abs(audio) > 0.02 * np.abs(audio).max())
    return at_rms(audio[loud[0]:loud[-1] + 1], -20)


def fit(x: np.ndarray, seconds: float, offset: int = 0) -> np.ndarray:
    out = np.zeros(round(seconds * RATE), np.float32)
    part = x[: max(0, len(out) - offset)]
    out[offset:offset + len(part)] = part
    return out


def voice_rows(seed: int, people: dict[str, list[Speaker]], takes: tuple[int, int, int]) -> tuple[list[Row], list[np.ndarray]]:
    """Every speaker says every digit ``takes`` times; 1.5 s clips, the word at a random onset of 0..0.3 s."""
    rng = np.random.default_rng([seed, 3])
    rows, audio = [], []
    with tempfile.TemporaryDirectory(prefix="suite-voices-") as tmp:
        for split, n in zip(SPLITS, takes):
            for speaker in people[split]:
                for digit in DIGITS:
                    for _ in range(n):
                        take = say(speaker, digit, rng, Path(tmp))
                        audio.append(fit(take, 1.5, int(rng.integers(0, round(0.3 * RATE)))))
                        rows.append(Row(f"audio/{split}/{len(rows) + 1:05d}.wav", (digit,), split))
    return rows, audio


def pair_rows(seed: int, people: dict[str, list[Speaker]], counts: tuple[int, int, int]) -> tuple[list[Row], list[np.ndarray]]:
    """Two different digits by two different speakers of the split, overlapping, in a 2 s clip."""
    rng = np.random.default_rng([seed, 4])
    rows, audio = [], []
    with tempfile.TemporaryDirectory(prefix="suite-pairs-") as tmp:
        for split, n in zip(SPLITS, counts):
            pool = people[split]
            for _ in range(n):
                digits = rng.choice(len(DIGITS), size=2, replace=False)
                who = rng.choice(len(pool), size=2, replace=len(pool) < 2)
                first = fit(say(pool[who[0]], DIGITS[digits[0]], rng, Path(tmp)), 2.0, int(rng.integers(0, 0.15 * RATE)))
                onset = int(rng.integers(round(0.25 * RATE), round(0.7 * RATE)))
                second = fit(say(pool[who[1]], DIGITS[digits[1]], rng, Path(tmp)), 2.0, onset)
                gains = 10 ** (rng.uniform(-6, 0, size=2) / 20)
                audio.append(first * gains[0] + second * gains[1])
                rows.append(Row(f"audio/{split}/{len(rows) + 1:05d}.wav", tuple(DIGITS[d] for d in digits), split))
    return rows, audio


# ---------------------------------------------------------------- d. a room and noise


def pink_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
    return np.fft.irfft(spectrum, n).astype(np.float32)


def reverberate(x: np.ndarray, rng: np.random.Generator, workdir: Path) -> np.ndarray:
    """sox ``reverb`` with a per-clip room, cut back to the clip's length."""
    src, dst = workdir / "dry.wav", workdir / "wet.wav"
    sf.write(src, x, RATE, subtype="FLOAT")
    room = [str(int(rng.integers(40, 91))), "50", str(int(rng.integers(40, 101))), "100", str(int(rng.integers(0, 31)))]
    done = subprocess.run(["sox", str(src), str(dst), "reverb", *room, "remix", "-"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"error: sox reverb failed: {done.stderr.strip()[-300:]}; install it with `apt-get install -y sox`")
    wet, _ = sf.read(dst, dtype="float32")
    return wet[: len(x)]


def room_rows(seed: int, rows: list[Row], audio: list[np.ndarray]) -> list[np.ndarray]:
    rng = np.random.default_rng([seed, 5])
    out = []
    with tempfile.TemporaryDirectory(prefix="suite-room-") as tmp:
        for clip in audio:
            wet = at_rms(reverberate(clip, rng, Path(tmp)), -20)
            snr = float(rng.choice(SNRS_DB))
            out.append(wet + at_rms(pink_noise(rng, len(wet)), -20 - snr))
    return out


def run_sets(sets_dir: Path, runs: Path, names: list[str], extra: str, dataset: str = "csv", test: bool = False) -> None:
    """One `python -m codec_bench.cli run DATASET` per set, one after the other; the wall time of each is printed.
    Validation figures only (``--splits validation``: what choosing may read) unless ``test``: once the choice is
    made, the same command with ``test`` evaluates the test split with the models already trained."""
    for name in names:
        cmd = [sys.executable, "-m", "codec_bench.cli", "run", dataset, "--root", str(sets_dir / name),
               "--out", str(runs / name), "--quiet", "--splits", "all" if test else "validation", *shlex.split(extra)]
        begin = time.perf_counter()
        done = subprocess.run(cmd, check=False)
        print(f"{name}: exit {done.returncode}, {time.perf_counter() - begin:.0f} s  ({shlex.join(cmd[1:])})", flush=True)


ROWS = ("llm_scoring", "llm_generation", "baseline_logmel_logreg")
METRICS = {"single_label": ("accuracy",), "multi_label": ("micro_f1", "map")}


def percent(value: float | None, interval: list[float] | None = None) -> str:
    if value is None or math.isnan(value):
        return "–"
    return f"{100 * value:.1f}" + (f" [{100 * interval[0]:.1f}, {100 * interval[1]:.1f}]" if interval else "")


def set_rows(results: Path, tag: str, name: str, hide_test: bool = False) -> list[str]:
    """Table rows of one run: per metric, the test figure with its 95 % interval and the validation figure
    (``hide_test``: the test cells say so, for candidates that are compared on validation only)."""
    if not results.is_file():
        return [f"| {name} | – | {tag} | not run |" + " – |" * (2 * len(ROWS) - 1)]
    content = json.loads(results.read_text(encoding="utf-8"))
    test = {a["method"]: a for a in content["aggregated"] if a["split"] == "test"}
    validation = {r["method"]: r for r in content["records"] if r["split"] == "validation"}
    task = content["records"][0]["task"]
    hide_test = hide_test or not test  # a run that chose on validation: test not evaluated
    sizes = {r["split"]: r["n_clips"] for r in content["records"] if r["method"] == "llm_scoring"}
    lines = []
    for metric in METRICS[task]:
        cells = [percent(test[m]["metrics"].get(metric, {}).get("mean"), test[m]["metrics"].get(metric, {}).get("ci"))
                 if m in test else "–" for m in ROWS]
        cells = ["(not read)"] * len(ROWS) if hide_test else cells  # hidden, or never evaluated
        cells += [percent(validation[m]["metrics"].get(metric)) if m in validation else "–" for m in ROWS]
        label = f"{name} ({sizes.get('test', '?')} / {sizes.get('validation', '?')})"
        lines.append(f"| {label} | {metric} | {tag} | " + " | ".join(cells) + " |")
    return lines


def write_table(runs: Path, tags: list[str], names: list[str], hide_test: tuple[str, ...] = ()) -> str:
    """A markdown table of every (set, metric, run tag): test [95 % interval] and validation, in percent; the
    runs tagged in ``hide_test`` show no test figure."""
    head = ["set (test / validation clips)", "metric", "run"] + [f"{m} test" for m in ROWS] + [f"{m} validation" for m in ROWS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in names:
        for tag in tags:
            lines += set_rows(runs / tag / name / "results.json", tag, name, tag in hide_test)
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def build(out: Path, seed: int, tiny: bool) -> None:
    sizes = TINY if tiny else FULL
    settings = json.loads(json.dumps({"version": VERSION, "seed": seed, "tiny": tiny, "sizes": sizes, "sample_rate": RATE}))
    stored = out / "settings.json"
    if stored.is_file() and json.loads(stored.read_text(encoding="utf-8")) == settings and all(
            (out / s / "metadata.csv").is_file() for s in INSTRUCTIONS):
        print(f"{out}: already built with these settings; nothing to do")
        return
    if any((out / s).exists() for s in INSTRUCTIONS):
        raise SystemExit(f"error: {out} already holds sets built with other settings; delete it or choose another folder")
    out.mkdir(parents=True, exist_ok=True)
    begin = time.perf_counter()
    rows, audio = instrument_rows(seed, sizes["instrument_clips"])
    write_set(out / "instruments", rows, audio, settings)
    write_set(out / "instruments-room", rows, room_rows(seed, rows, audio), settings)
    people = speakers(seed, sizes["speakers"])
    write_set(out / "voices", *voice_rows(seed, people, sizes["takes"]), settings)
    write_set(out / "digit-pairs", *pair_rows(seed, people, sizes["pairs"]), settings)
    who = {s: [p.voice for p in people[s]] for s in SPLITS}
    (out / "speakers.json").write_text(json.dumps(who, indent=1) + "\n", encoding="utf-8")
    stored.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    for name in INSTRUCTIONS:
        lines = (out / name / "metadata.csv").read_text(encoding="utf-8").splitlines()[1:]
        counts = {s: sum(line.endswith("," + s) for line in lines) for s in SPLITS}
        print(f"{name}: {' '.join(f'{s}={n}' for s, n in counts.items())}")
    print(f"built in {time.perf_counter() - begin:.1f} s")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Build (and run, and tabulate) the real-audio suite.")
    p.add_argument("out", type=Path, help="folder of the sets (one sub-folder per set)")
    p.add_argument("--seed", type=int, default=19)
    p.add_argument("--tiny", action="store_true", help="a few clips per set, built in seconds (for CI)")
    p.add_argument("--run", type=Path, help="run `codec-bench run csv` on every set, into RUN/<tag>/<set>")
    p.add_argument("--table", type=Path, help="print the markdown table of the runs under TABLE/<tag>/<set>")
    p.add_argument("--tag", action="append", help="the run's name (default: old); with --table, repeatable")
    p.add_argument("--hide-test", action="append", default=[], help="with --table: show no test figures for this tag")
    p.add_argument("--args", default="", help="extra `codec-bench run` options, e.g. \"--codec logmel\"")
    p.add_argument("--test", action="store_true", help="with --run: evaluate the test split too (only once the choice is "
                   "made; without it the runs evaluate and report validation only)")
    p.add_argument("--sets", default=",".join(INSTRUCTIONS), help="comma-separated sets to run")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    build(args.out, args.seed, args.tiny)
    tags = args.tag or ["old"]
    if args.run:
        run_sets(args.out, args.run / tags[0], args.sets.split(","), args.args, test=args.test)
    if args.table:
        print(write_table(args.table, tags, args.sets.split(","), tuple(args.hide_test)))


if __name__ == "__main__":
    main(sys.argv[1:])
