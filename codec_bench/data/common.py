"""Helpers shared by the dataset loaders: layout checks, readable labels, split and fold assignment."""

from __future__ import annotations

import random
import re
from collections import defaultdict
from pathlib import Path
from typing import Hashable, Sequence

from ..errors import CodecBenchError
from .manifest import Clip

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".au", ".aiff", ".aif", ".sph")


def require(root: Path, dataset: str, layout: str, *relative: str) -> None:
    """Fail with one message showing the expected tree and what is missing if any ``relative`` path is absent."""
    root = Path(root)
    if not root.is_dir():
        raise CodecBenchError(f"{dataset}: root folder {root} does not exist; pass --root to the unpacked corpus. Expected:\n{layout}")
    missing = [r for r in relative if not (root / r).exists()]
    if missing:
        raise CodecBenchError(
            f"{dataset}: {root} is not in the official layout; missing: {', '.join(missing)}. Expected:\n{layout}"
        )


def readable(label: str) -> str:
    """Label code to prompt text: ``dog_bark`` -> ``dog bark``, ``Hip-Hop`` stays, extra spaces collapse."""
    return re.sub(r"\s+", " ", label.replace("_", " ")).strip()


def keep_existing(clips: Sequence[Clip], skipped: list[dict], source: str) -> list[Clip]:
    """Drop clips whose audio file is missing, counting each in ``skipped``; fail if none is left."""
    kept = []
    for clip in clips:
        if Path(clip.path).is_file():
            kept.append(clip)
        else:
            skipped.append({"path": clip.path, "reason": f"audio file listed in {source} not found"})
    if clips and not kept:
        raise CodecBenchError(f"{source}: none of the {len(clips)} listed audio files exist; check the root folder")
    return kept


def stratified_split(
    keys: Sequence[Hashable], strata: Sequence[Hashable], fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0
) -> dict[Hashable, str]:
    """Assign each key to train/validation/test, stratified by ``strata``, deterministic for ``seed``.

    Within each stratum the keys are shuffled and cut by ``fractions``; a stratum with at least 3 keys puts at
    least one in each split, so every class is seen in training and evaluated.
    """
    groups: dict[Hashable, list[Hashable]] = defaultdict(list)
    for key, stratum in zip(keys, strata):
        groups[stratum].append(key)
    rng = random.Random(seed)
    out: dict[Hashable, str] = {}
    for stratum in sorted(groups, key=str):
        members = sorted(groups[stratum], key=str)
        rng.shuffle(members)
        n = len(members)
        n_test = max(1, round(n * fractions[2])) if n >= 3 else 0
        n_val = max(1, round(n * fractions[1])) if n >= 3 else 0
        for i, key in enumerate(members):
            out[key] = "test" if i < n_test else "validation" if i < n_test + n_val else "train"
    return out


def group_folds(groups: Sequence[Hashable], num_folds: int) -> dict[Hashable, int]:
    """Speaker-independent folds: sorted unique groups dealt round-robin into folds 1..num_folds."""
    unique = sorted(set(groups), key=str)
    if len(unique) < num_folds:
        raise CodecBenchError(f"need at least {num_folds} speakers for {num_folds} folds, found {len(unique)}")
    return {g: 1 + i % num_folds for i, g in enumerate(unique)}


def fold_split(fold: int, test_fold: int, num_folds: int) -> str:
    """k-fold with a held-out validation fold: test = ``test_fold``, validation = the next fold (cyclic), train =
    the rest. The validation fold is never inside training (the original project's UrbanSound8K map was)."""
    val_fold = test_fold % num_folds + 1
    return "test" if fold == test_fold else "validation" if fold == val_fold else "train"


def random_validation(keys: Sequence[Hashable], fraction: float, seed: int = 42) -> set[Hashable]:
    """ARCH-style random (not stratified) validation subset of ``keys``; deterministic for ``seed``."""
    members = sorted(keys, key=str)
    random.Random(seed).shuffle(members)
    return set(members[: int(round(len(members) * fraction))])
