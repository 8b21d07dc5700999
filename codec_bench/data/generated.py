"""Generated data: synthesized instrument and sound-event clips, made on the spot, nothing downloaded.

Two tasks, each written as a CSV-layout folder (``metadata.csv`` + 16-kHz WAVs) and read back through the CSV
loader, so the files can be listened to:

- ``instruments`` (single-label, 10 classes): flute, clarinet, violin, guitar, bell, organ, marimba, trumpet,
  snare drum, kick drum. Each clip is one note or hit.
- ``mixtures`` (multi-label, 6 classes): 1-3 sources from bell, clarinet, flute, guitar, kick drum, organ mixed
  at random offsets; the answer is the set of sources.

A *recipe* is a class with its pitch (or tuning, for drums) and envelope variant. Recipes are dealt to
train/validation/test once, so no recipe is shared across splits: the test split holds notes the model has
never heard. Every clip then draws its own duration, onset, vibrato, noise level and gain. Everything is
deterministic for a seed.
"""

from __future__ import annotations

import csv
import os
import random
from pathlib import Path

import numpy as np
import soundfile as sf

from ..core import io
from ..core.parallel import build_lock
from .csv_dataset import load as load_csv
from .manifest import DatasetSpec, Manifest

SAMPLE_RATE_HZ = 16_000
CLIP_SECONDS = 1.0
GENERATOR_VERSION = 1
RECIPE_SPLIT = {"train": 0.6, "validation": 0.2, "test": 0.2}
# MIDI note range per pitched class (percussion uses 12 tuning steps instead)
PITCH_RANGE = {
    "flute": (67, 91), "clarinet": (50, 74), "violin": (55, 79), "guitar": (40, 64), "bell": (60, 84),
    "organ": (48, 72), "marimba": (57, 81), "trumpet": (55, 79), "snare drum": (0, 12), "kick drum": (0, 12),
}
INSTRUMENT_CLASSES = tuple(sorted(PITCH_RANGE))
MIXTURE_CLASSES = ("bell", "clarinet", "flute", "guitar", "kick drum", "organ")


def _harmonic(freq: float, t: np.ndarray, amps: list[float], vibrato: float) -> np.ndarray:
    phase = 2 * np.pi * freq * (t + vibrato * np.sin(2 * np.pi * 5.5 * t) / (2 * np.pi * 5.5))
    return sum(a * np.sin((k + 1) * phase) for k, a in enumerate(amps) if (k + 1) * freq < SAMPLE_RATE_HZ / 2)


def _envelope(t: np.ndarray, attack: float, decay: float | None, length: float) -> np.ndarray:
    env = np.clip(t / max(attack, 1e-3), 0, 1)
    if decay is not None:
        env = env * np.exp(-t / decay)
    release = np.clip((length - t) / 0.03, 0, 1)
    return env * release


def _karplus_strong(freq: float, n: int, rng: np.random.Generator, damping: float) -> np.ndarray:
    period = max(2, int(round(SAMPLE_RATE_HZ / freq)))
    out = np.zeros(n + period, dtype=np.float64)
    out[:period] = rng.uniform(-1, 1, period)
    for start in range(period, n + period, period):  # one period at a time, each depends on the previous
        prev = out[start - period:start]
        block = damping * 0.5 * (prev + np.roll(prev, 1))
        out[start:start + period] = block[: len(out) - start]
    return out[:n]


def _note(name: str, pitch: int, variant: int, length: float, rng: np.random.Generator) -> np.ndarray:
    """One note or hit of ``length`` seconds: ``wave: (samples,) float64``, peak about 1."""
    n = int(length * SAMPLE_RATE_HZ)
    t = np.arange(n) / SAMPLE_RATE_HZ
    freq = 440.0 * 2 ** ((pitch - 69) / 12)
    vib = rng.uniform(0.0, 0.004)
    slow = (0.02, 0.06, 0.12)[variant]
    if name == "flute":
        wave = _harmonic(freq, t, [1, 0.2, 0.05], vib) * _envelope(t, slow + 0.04, None, length)
        wave = wave + 0.08 * rng.standard_normal(n) * _envelope(t, 0.05, 0.3, length)
    elif name == "clarinet":
        wave = _harmonic(freq, t, [1, 0, 0.5, 0, 0.3, 0, 0.18, 0, 0.1], vib) * _envelope(t, slow, None, length)
    elif name == "violin":
        wave = _harmonic(freq, t, [1 / k for k in range(1, 16)], vib * 2) * _envelope(t, slow + 0.08, None, length)
    elif name == "trumpet":
        wave = _harmonic(freq, t, [k ** -0.6 for k in range(1, 12)], vib) * _envelope(t, slow * 0.5, None, length)
    elif name == "organ":
        wave = _harmonic(freq, t, [1, 0.8, 0.6, 0.5, 0, 0.4, 0, 0.3], 0.0) * _envelope(t, 0.01, None, length)
    elif name == "guitar":
        wave = _karplus_strong(freq, n, rng, 0.996 - 0.004 * variant) * _envelope(t, 0.002, None, length)
    elif name == "bell":
        wave = sum(a * np.sin(2 * np.pi * freq * r * t) * np.exp(-t / d)
                   for r, a, d in ((1, 1, 0.9), (2.76, 0.6, 0.5), (5.4, 0.4, 0.3), (8.93, 0.25, 0.15)))
        wave = wave * _envelope(t, 0.002, None, length)
    elif name == "marimba":
        wave = (np.sin(2 * np.pi * freq * t) + 0.3 * np.sin(2 * np.pi * freq * 3.9 * t) * np.exp(-t / 0.05))
        wave = wave * _envelope(t, 0.002, 0.15 + 0.05 * variant, length)
    elif name == "snare drum":
        tone = np.sin(2 * np.pi * (160 + 8 * pitch) * t)
        noise = np.convolve(rng.standard_normal(n), [1, -0.6], mode="same")
        wave = (0.4 * tone * np.exp(-t / 0.04) + noise * np.exp(-t / (0.06 + 0.03 * variant)))
    elif name == "kick drum":
        sweep = 45 + 2 * pitch + 90 * np.exp(-t / 0.04)
        wave = np.sin(2 * np.pi * np.cumsum(sweep) / SAMPLE_RATE_HZ) * np.exp(-t / (0.12 + 0.05 * variant))
    else:
        raise ValueError(f"unknown generated class {name!r}")
    return wave / (np.max(np.abs(wave)) + 1e-9)


def _place(clip: np.ndarray, note: np.ndarray, onset_s: float, gain: float) -> None:
    start = int(onset_s * SAMPLE_RATE_HZ)
    end = min(len(clip), start + len(note))
    clip[start:end] += gain * note[: end - start]


def _finish(clip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    snr_db = rng.uniform(10, 40)
    rms = np.sqrt(np.mean(clip ** 2)) + 1e-9
    clip = clip + rng.standard_normal(len(clip)) * rms * 10 ** (-snr_db / 20)
    gain_db = rng.uniform(-20, -3)
    return (clip / (np.max(np.abs(clip)) + 1e-9) * 10 ** (gain_db / 20)).astype(np.float32)


def _recipes(classes: tuple[str, ...], seed: int) -> dict[str, dict[str, list[tuple[int, int]]]]:
    """Deal every (pitch, variant) recipe of every class to one split: ``{split: {class: [(pitch, variant)]}}``."""
    rng = random.Random(seed)
    dealt: dict[str, dict[str, list[tuple[int, int]]]] = {s: {} for s in RECIPE_SPLIT}
    for name in classes:
        low, high = PITCH_RANGE[name]
        pool = [(p, v) for p in range(low, high) for v in range(3)]
        rng.shuffle(pool)
        n_val, n_test = int(len(pool) * RECIPE_SPLIT["validation"]), int(len(pool) * RECIPE_SPLIT["test"])
        dealt["validation"][name] = pool[:n_val]
        dealt["test"][name] = pool[n_val:n_val + n_test]
        dealt["train"][name] = pool[n_val + n_test:]
    return dealt


def _single_clip(name: str, recipe: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    clip = np.zeros(int(CLIP_SECONDS * SAMPLE_RATE_HZ))
    length = rng.uniform(0.3, 0.8)
    _place(clip, _note(name, recipe[0], recipe[1], length, rng), rng.uniform(0.0, CLIP_SECONDS - length), 1.0)
    return _finish(clip, rng)


def _mixture_clip(sources: list[tuple[str, tuple[int, int]]], rng: np.random.Generator) -> np.ndarray:
    clip = np.zeros(int(CLIP_SECONDS * SAMPLE_RATE_HZ))
    for name, recipe in sources:
        length = rng.uniform(0.4, 0.9)
        note = _note(name, recipe[0], recipe[1], length, rng)
        _place(clip, note, rng.uniform(0.0, CLIP_SECONDS - length), rng.uniform(0.5, 1.0))
    return _finish(clip, rng)


def generate(task: str, folder: str | Path, clips_per_split: dict[str, int], seed: int = 0) -> Path:
    """Write ``task`` ('instruments' or 'mixtures') as a CSV-layout folder; returns the folder.

    ``clips_per_split`` gives the number of clips per split, e.g. ``{"train": 400, "validation": 100,
    "test": 120}``; single-label classes are balanced. An existing folder written with the same arguments is
    reused; ``metadata.csv`` is written last, so a half-written folder is regenerated.
    """
    folder = Path(folder)
    settings = {"task": task, "clips_per_split": clips_per_split, "seed": seed, "version": GENERATOR_VERSION}
    with build_lock(folder, "generated data"):  # parallel study cells of one task: one writes, the others reuse
        if not (_finished(folder, settings)):
            _write(task, folder, clips_per_split, seed, settings)
    return folder


def _finished(folder: Path, settings: dict) -> bool:
    return (
        (folder / "metadata.csv").is_file()
        and (folder / "generator.json").is_file()
        and io.read_json(folder / "generator.json") == settings
    )


def _write(task: str, folder: Path, clips_per_split: dict[str, int], seed: int, settings: dict) -> None:
    classes = INSTRUMENT_CLASSES if task == "instruments" else MIXTURE_CLASSES
    dealt = _recipes(classes, seed)
    rows = []
    for split, count in clips_per_split.items():
        for index in range(count):
            rng = np.random.default_rng([seed, GENERATOR_VERSION, list(RECIPE_SPLIT).index(split), index, len(task)])
            labels, wave, recipe = _draw(task, classes, dealt[split], index, rng)
            rel = f"audio/{split}/{index:05d}.wav"
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            sf.write(folder / rel, wave, SAMPLE_RATE_HZ, subtype="PCM_16")
            rows.append(
                {
                    "path": rel,
                    ("label" if task == "instruments" else "labels"): ";".join(labels),
                    "split": split,
                    "recipe": recipe,
                }
            )
    io.write_json(folder / "generator.json", settings)
    with io.atomic_path(folder / "metadata.csv") as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (folder / "instruction.txt").write_text(INSTRUCTIONS[task] + "\n")


def _draw(task: str, classes: tuple[str, ...], pool: dict[str, list[tuple[int, int]]], index: int, rng: np.random.Generator):
    if task == "instruments":
        name = classes[index % len(classes)]
        recipe = pool[name][int(rng.integers(len(pool[name])))]
        return [name], _single_clip(name, recipe, rng), f"{name}:{recipe[0]}:{recipe[1]}"
    count = int(rng.integers(1, 4))
    names = sorted(rng.choice(len(classes), size=count, replace=False).tolist())
    sources = [(classes[i], pool[classes[i]][int(rng.integers(len(pool[classes[i]])))]) for i in names]
    recipe = "+".join(f"{n}:{r[0]}:{r[1]}" for n, r in sources)
    return [n for n, _ in sources], _mixture_clip(sources, rng), recipe


INSTRUCTIONS = {
    "instruments": "Which instrument or drum plays in this clip? Answer with its name.",
    "mixtures": "Which instruments play in this clip? Answer with their names, separated by commas.",
}
DEFAULT_SIZES = {"train": 400, "validation": 100, "test": 120}


def default_root(task: str) -> Path:
    home = Path(os.environ.get("CODEC_BENCH_HOME", Path.home() / ".cache" / "codec-bench"))
    return home / "generated" / task


def _loader(task: str, domain: str):
    def load(
        root: Path | None, protocol: str = "official", fold: str | None = None, sizes: dict[str, int] | None = None, seed: int = 0
    ) -> Manifest:
        folder = generate(task, root or default_root(task), sizes or DEFAULT_SIZES, seed)
        return load_csv(folder, protocol, fold, name=task, domain=domain, instruction=INSTRUCTIONS[task])
    return load


INSTRUMENTS = DatasetSpec(
    name="instruments", domain="music", task="single_label", instruction=INSTRUCTIONS["instruments"],
    protocols=("official",), layout="(generated: no download; written to --root or ~/.cache/codec-bench/generated)",
    load=_loader("instruments", "music"), num_classes=len(INSTRUMENT_CLASSES), needs_root=False,
    protocol_notes={"official": "generated here: each (pitch, variant) recipe dealt to one split"},
)
MIXTURES = DatasetSpec(
    name="mixtures", domain="music", task="multi_label", instruction=INSTRUCTIONS["mixtures"],
    protocols=("official",), layout="(generated: no download; written to --root or ~/.cache/codec-bench/generated)",
    load=_loader("mixtures", "music"), num_classes=len(MIXTURE_CLASSES), needs_root=False,
    protocol_notes={"official": "generated here: each (pitch, variant) recipe dealt to one split"},
)
