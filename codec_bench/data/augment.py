"""Training-set augmentation as extra clips: mixtures of two training clips (multi-label tagging) and time-shifted,
gain-changed copies (any task).

An augmented clip is a :class:`Clip` of the training split whose ``extra["sources"]`` says how to render it: a
list of ``{"path", "gain_db", "shift"}``, each source decoded, scaled by its gain, rolled circularly by ``shift``
(a fraction of its length) and summed (peak kept below full scale). Its labels are the union of its sources'. Its
id is a hash of that recipe, so it is encoded once and cached like any clip, and every run that draws the same
augmentation (same training clips, settings and seed) reuses its codes. Drawing is deterministic: the k-th extra
clip depends only on the seed, its kind and k.
"""

from __future__ import annotations

import hashlib
import json
from typing import Sequence

import numpy as np

from .audio import SAMPLE_RATE_HZ, audio_seconds, load_audio
from .manifest import Clip

MIX_GAIN_DB = (-6.0, 0.0)  # each source of a mixture
SHIFT_GAIN_DB = (-6.0, 3.0)  # a shifted copy
PEAK = 0.99
KINDS = {"mix": 1, "shift": 2}
ID_PREFIX = "aug-"


def augmented_clips(train: Sequence[Clip], mix: float = 0.0, shift: float = 0.0, seed: int = 0) -> list[Clip]:
    """``round(mix * len(train))`` mixtures and ``round(shift * len(train))`` shifted copies of ``train``."""
    clips = sorted(train, key=lambda c: c.id)
    if not clips:
        return []
    extra = []
    for kind, share in (("mix", mix), ("shift", shift)):
        for k in range(int(round(share * len(clips)))):
            rng = np.random.default_rng([seed, KINDS[kind], k])
            if kind == "mix" and len(clips) > 1:
                picked = [clips[i] for i in rng.choice(len(clips), 2, replace=False)]
                sources = [{"path": c.path, "gain_db": round(float(rng.uniform(*MIX_GAIN_DB)), 2),
                            "shift": round(float(rng.uniform(0, 1)), 3) if i else 0.0} for i, c in enumerate(picked)]
            else:
                picked = [clips[int(rng.integers(len(clips)))]]
                sources = [{"path": picked[0].path, "gain_db": round(float(rng.uniform(*SHIFT_GAIN_DB)), 2),
                            "shift": round(float(rng.uniform(0, 1)), 3)}]
            extra.append(_clip(picked, sources))
    return extra


def _clip(picked: list[Clip], sources: list[dict]) -> Clip:
    recipe = json.dumps(sources, sort_keys=True)
    clip_id = ID_PREFIX + hashlib.sha1(recipe.encode()).hexdigest()[:16]
    labels = tuple(sorted({label for c in picked for label in c.labels}))
    return Clip(id=clip_id, path=f"augment:{clip_id}", labels=labels, split="train",
                extra={"sources": sources, "from": [c.id for c in picked]})


def is_augmented(clip: Clip) -> bool:
    return bool(clip.extra.get("sources"))


def is_augmented_id(clip_id: str) -> bool:
    """Whether a clip id (of a prompt, say) names an augmented clip."""
    return clip_id.startswith(ID_PREFIX)


def render(clip: Clip, sample_rate_hz: int = SAMPLE_RATE_HZ, max_seconds: float | None = None) -> np.ndarray:
    """The waveform of an augmented clip (see the module doc); raises ``AudioError`` naming a source that cannot
    be read."""
    waves = []
    for source in clip.extra["sources"]:
        wave = load_audio(source["path"], sample_rate_hz, max_seconds) * np.float32(10 ** (source["gain_db"] / 20))
        waves.append(np.roll(wave, int(round(source["shift"] * len(wave)))))
    out = np.zeros(max(len(w) for w in waves), dtype=np.float32)
    for wave in waves:
        out[: len(wave)] += wave
    peak = float(np.max(np.abs(out)))
    return out * np.float32(PEAK / peak) if peak > PEAK else out


def longest_source_seconds(clip: Clip) -> float:
    return max(audio_seconds(s["path"]) for s in clip.extra["sources"])
