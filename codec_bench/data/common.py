"""Helpers shared by the dataset loaders: layout checks, readable labels, split and fold assignment."""

from __future__ import annotations

import csv
import random
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Hashable, Mapping, Sequence

from ..core.errors import CodecBenchError
from .manifest import Clip

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".au", ".aiff", ".aif", ".sph")


def require(root: Path, dataset: str, layout: str, *relative: str) -> None:
    """Fail with one message showing the expected tree and what is missing if any ``relative`` path is absent."""
    root = Path(root)
    if not root.is_dir():
        raise CodecBenchError(
            f"{dataset}: root folder {root} does not exist; pass --root to the unpacked corpus. Expected:\n{layout}"
        )
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
    keys: Sequence[Hashable], strata: Sequence[Hashable], fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0, groups: Sequence[Hashable] | None = None,
) -> dict[Hashable, str]:
    """Assign each key to train/validation/test, stratified by ``strata``, deterministic for ``seed``.

    Within each stratum the keys are shuffled and cut by ``fractions``; a stratum with at least 3 keys puts at
    least one in each split, so every class is seen in training and evaluated. With ``groups`` (one source id
    per key: recording, video, artist), whole groups are cut instead of keys, so no source straddles two
    splits; a group's stratum is its members' most common one. Without ``groups`` each key is its own group.
    """
    members_of, stratum_of = _group_strata(keys, strata, groups)
    by_stratum: dict[Hashable, list[Hashable]] = defaultdict(list)
    for group, stratum in stratum_of.items():
        by_stratum[stratum].append(group)
    rng = random.Random(seed)
    out: dict[Hashable, str] = {}
    for stratum in sorted(by_stratum, key=str):
        units = sorted(by_stratum[stratum], key=str)
        rng.shuffle(units)
        n = len(units)
        n_test = max(1, round(n * fractions[2])) if n >= 3 else 0
        n_val = max(1, round(n * fractions[1])) if n >= 3 else 0
        for i, unit in enumerate(units):
            split = "test" if i < n_test else "validation" if i < n_test + n_val else "train"
            out.update((key, split) for key in members_of[unit])
    return out


def stratified_folds(keys: Sequence[Hashable], strata: Sequence[Hashable], num_folds: int,
                     seed: int = 0) -> dict[Hashable, int]:
    """Fold 1..``num_folds`` of each key: per stratum, keys shuffled (``seed``) and dealt round-robin."""
    by_stratum: dict[Hashable, list[Hashable]] = defaultdict(list)
    for key, stratum in zip(keys, strata):
        by_stratum[stratum].append(key)
    rng = random.Random(seed)
    out: dict[Hashable, int] = {}
    for stratum in sorted(by_stratum, key=str):
        members = sorted(by_stratum[stratum], key=str)
        rng.shuffle(members)
        out.update((key, 1 + i % num_folds) for i, key in enumerate(members))
    return out


def _group_strata(keys: Sequence[Hashable], strata: Sequence[Hashable], groups: Sequence[Hashable] | None
                  ) -> tuple[dict[Hashable, list[Hashable]], dict[Hashable, Hashable]]:
    """(group -> its keys, group -> its most common stratum, ties to the first in sorted order)."""
    groups = keys if groups is None else groups
    members_of: dict[Hashable, list[Hashable]] = defaultdict(list)
    counts: dict[Hashable, Counter] = defaultdict(Counter)
    for key, stratum, group in zip(keys, strata, groups):
        members_of[group].append(key)
        counts[group][stratum] += 1
    stratum_of = {g: max(sorted(c, key=str), key=c.__getitem__) for g, c in counts.items()}
    return members_of, stratum_of


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


def random_validation(keys: Sequence[Hashable], fraction: float, seed: int = 42,
                      groups: Mapping[Hashable, Hashable] | None = None) -> set[Hashable]:
    """ARCH-style random (not stratified) subset of ``keys`` holding ``fraction`` of them; deterministic for ``seed``.

    With ``groups`` (key -> source id: recording, artist, track) whole groups are drawn in shuffled order until
    the subset holds at least ``fraction`` of the keys, so no source straddles the subset and the rest. Without
    it every key is drawn on its own (the ARCH behaviour, unchanged).
    """
    if groups is None:
        members = sorted(keys, key=str)
        random.Random(seed).shuffle(members)
        return set(members[: int(round(len(members) * fraction))])
    members_of: dict[Hashable, list[Hashable]] = defaultdict(list)
    for key in keys:
        members_of[groups[key]].append(key)
    units = sorted(members_of, key=str)
    random.Random(seed).shuffle(units)
    target, chosen = int(round(len(keys) * fraction)), set()
    for unit in units:
        if len(chosen) >= target:
            break
        chosen.update(members_of[unit])
    return chosen


# --- sound and music loaders: fold numbers, fold-based splits, metadata tables, audio listing ---

def fold_number(fold: str | int | None, num_folds: int, dataset: str) -> int:
    """A loader's ``fold`` argument ("1".."k", or None for the first fold) as an int, checked."""
    if fold is None:
        return 1
    if str(fold).isdigit() and 1 <= int(fold) <= num_folds:
        return int(fold)
    raise CodecBenchError(f"{dataset}: fold {fold!r} is not one of 1..{num_folds}; pass --folds with one of those")


def kfold_split(fold_of: Mapping[Hashable, int], test_fold: int, num_folds: int, protocol: str,
                seed: int = 42, groups: Mapping[Hashable, Hashable] | None = None) -> dict[Hashable, str]:
    """Splits from predefined folds. ``official``: test = fold k, validation = the next fold (``fold_split``),
    train = the rest. ``arch``: test = fold k, validation = a random 20 % of the other folds' keys (ARCH), drawn
    by whole ``groups`` (key -> source recording) when given, so no recording is in both train and validation."""
    if protocol == "official":
        return {key: fold_split(f, test_fold, num_folds) for key, f in fold_of.items()}
    if protocol != "arch":
        raise CodecBenchError(f"unknown protocol {protocol!r}; choose official or arch")
    validation = random_validation([k for k, f in fold_of.items() if f != test_fold], 0.2, seed, groups)
    return {k: "test" if f == test_fold else "validation" if k in validation else "train" for k, f in fold_of.items()}


def read_table(path: Path, columns: Sequence[str], delimiter: str = ",", header: bool = True) -> list[dict]:
    """Rows of a CSV/TSV as dicts (stripped values); fails naming the file if a needed column is absent.
    Without ``header`` the rows are keyed by ``columns`` in order (extra fields go under None)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f, fieldnames=None if header else list(columns), delimiter=delimiter)
        rows = list(reader)
        found = reader.fieldnames or []
    missing = [c for c in columns if c not in found]
    if missing:
        raise CodecBenchError(f"{path}: missing column(s) {', '.join(missing)}; is this the corpus's original file?")
    return [{k: v.strip() if isinstance(v, str) else v for k, v in row.items()} for row in rows]


def audio_files(folder: Path) -> list[Path]:
    """Audio files under ``folder`` (recursively, by suffix), sorted so manifests are stable."""
    return sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())


# --- speech loaders: protocol names, unknown codes in file names ---

def check_protocol(dataset: str, protocol: str, protocols: Sequence[str]) -> str:
    """The protocol to use: ``official`` stands for the dataset's default (first) protocol where the corpus
    has no official split of its own; anything else must be one of ``protocols``."""
    if protocol == "official" and "official" not in protocols:
        return protocols[0]
    if protocol not in protocols:
        raise CodecBenchError(f"{dataset}: unknown protocol {protocol!r}; choose one of {', '.join(protocols)}")
    return protocol


def decode(codes: Mapping[str, str], code: str, path: Path | str, what: str) -> str:
    """Look ``code`` up in ``codes``; an unknown one fails naming the file and the fix."""
    if code not in codes:
        raise CodecBenchError(
            f"{path}: unknown {what} code {code!r} (known: {', '.join(codes)}); remove or rename the file"
        )
    return codes[code]
