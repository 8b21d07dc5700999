"""Datasets: raw corpora in their official layouts -> manifests.

``DATASETS`` is the registry: name -> :class:`DatasetSpec`. Each corpus is one module in this folder with a
docstring describing it and a ``SPEC``. ``prepare`` loads one dataset under a protocol and fold and returns its
Manifest.

Modules: the corpora (``arca23k_fsd``, ``audio_mnist``, ``clotho_aqa``, ``crema_d``, ``emovo``, ``esc50``,
``flusense``, ``fma_small``, ``fsd50k``, ``gtzan`` with its fault-filtered split lists ``gtzan_splits``, ``irmas``,
``magnatagatune``, ``medley_solos_db``, ``mtg_jamendo``, ``ravdess``, ``slurp``, ``timit``, ``urbansound8k``,
``vctk``, ``vivae``), your own data (``csv_dataset``, ``folder``), generated data (``generated``), a corpus read from
its Hugging Face mirror (``hub``); the records every loader returns (``manifest``), the loaders' shared helpers
(``common``), audio decoding (``audio``) and training mixtures and shifted copies (``augment``).
"""

from __future__ import annotations

from pathlib import Path

from ..core.errors import CodecBenchError
from . import (  # sound and music corpora  # speech corpora and AQA
    arca23k_fsd,
    audio_mnist,
    clotho_aqa,
    crema_d,
    csv_dataset,
    emovo,
    esc50,
    flusense,
    fma_small,
    folder,
    fsd50k,
    generated,
    gtzan,
    irmas,
    magnatagatune,
    medley_solos_db,
    mtg_jamendo,
    ravdess,
    slurp,
    timit,
    urbansound8k,
    vctk,
    vivae,
)
from .manifest import Clip, DatasetSpec, Manifest

DATASETS: dict[str, DatasetSpec] = {
    "instruments": generated.INSTRUMENTS,
    "mixtures": generated.MIXTURES,
    "csv": csv_dataset.SPEC,
    # sound and music corpora (one module each)
    "esc50": esc50.SPEC,
    "urbansound8k": urbansound8k.SPEC,
    "fsd50k": fsd50k.SPEC,
    "arca23k_fsd": arca23k_fsd.SPEC,
    "vivae": vivae.SPEC,
    "flusense": flusense.SPEC,
    "fma_small": fma_small.SPEC,
    "magnatagatune": magnatagatune.SPEC,
    "irmas": irmas.SPEC,
    "medley_solos_db": medley_solos_db.SPEC,
    "gtzan": gtzan.SPEC,
    "mtg_jamendo_genre": mtg_jamendo.GENRE,
    "mtg_jamendo_instrument": mtg_jamendo.INSTRUMENT,
    "mtg_jamendo_moodtheme": mtg_jamendo.MOODTHEME,
    "folder": folder.SPEC,
    # speech corpora and audio question answering (one module each)
    "ravdess": ravdess.SPEC,
    "crema_d": crema_d.SPEC,
    "audio_mnist": audio_mnist.SPEC,
    "emovo": emovo.SPEC,
    "slurp": slurp.SPEC,
    "timit": timit.SPEC,
    "vctk": vctk.SPEC,
    "clotho_aqa": clotho_aqa.SPEC,
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


def load_manifests(name: str, root: str | Path | None, protocol: str | None = None, folds: list[str] | None = None,
                   source: str = "local", options: dict | None = None, hub_folder: str | Path | None = None) -> list[Manifest]:
    """The manifests of every fold to run (``folds`` None: all of ``protocol``; a hub mirror has one split), read
    from the corpus: every layout or metadata error surfaces here, before any model is loaded."""
    spec = get_spec(name)
    if source == "hub":
        from .hub import load_mirror

        return [load_mirror(name, Path(hub_folder or ".") / "hub")]
    protocol = protocol or spec.protocols[0]
    if options:
        return [spec.load(root, protocol=protocol, fold=fold, **options) for fold in folds or spec.fold_names(protocol)]
    return [prepare(name, root, protocol, fold) for fold in folds or spec.fold_names(protocol)]


__all__ = ["DATASETS", "Clip", "DatasetSpec", "Manifest", "get_spec", "load_manifests", "prepare"]
