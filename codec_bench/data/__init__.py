"""Datasets: raw corpora in their official layouts -> manifests.

``DATASETS`` is the registry: name -> :class:`DatasetSpec`. Each corpus is one module in this folder with a
docstring describing it and a ``SPEC``. ``prepare`` loads one dataset under a protocol and fold and returns its
Manifest.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import CodecBenchError
from . import csv_dataset, generated
from .manifest import Clip, DatasetSpec, Manifest

DATASETS: dict[str, DatasetSpec] = {
    "instruments": generated.INSTRUMENTS,
    "mixtures": generated.MIXTURES,
    "csv": csv_dataset.SPEC,
    # sound and music corpora (one module each)
    # speech corpora and audio question answering (one module each)
}


def get_spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise CodecBenchError(f"unknown dataset {name!r}; choose one of {', '.join(sorted(DATASETS))}")
    return DATASETS[name]


def prepare(name: str, root: str | Path | None, protocol: str | None = None, fold: str | None = None) -> Manifest:
    """Load dataset ``name`` from ``root`` under ``protocol`` (default: the dataset's first) and ``fold``."""
    spec = get_spec(name)
    protocol = protocol or spec.protocols[0]
    folds = spec.fold_names(protocol)
    if fold is None:
        fold = folds[0]
    elif str(fold) not in [str(f) for f in folds]:
        raise CodecBenchError(f"{name}: protocol {protocol!r} has folds {', '.join(map(str, folds))}; got {fold!r}")
    if spec.needs_root and root is None:
        raise CodecBenchError(f"{name}: pass --root PATH to the unpacked corpus. Expected layout:\n{spec.layout}")
    return spec.load(Path(root) if root is not None else None, protocol=protocol, fold=fold)


__all__ = ["DATASETS", "Clip", "DatasetSpec", "Manifest", "get_spec", "prepare"]
