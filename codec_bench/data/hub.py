"""``--source hub``: read a dataset from a Hugging Face hub mirror instead of the official layout.

``load_from_hub`` opens the mirror with ``datasets.load_dataset`` (or ``load_from_disk`` / a local parquet
folder when ``repo_id`` is a path), reads the audio column undecoded (``datasets.Audio(decode=False)``: the
file's bytes and name, so neither torchcodec nor torchaudio is needed), writes every clip once under
``cache_dir/<name>/audio/<hub split>/<row>.{wav,flac}`` (WAV/FLAC bytes as they are; other formats are
decoded with soundfile and written as FLAC; each file written to a temporary name and renamed), and saves
the Manifest under ``cache_dir/<name>/manifest/``. A later call reuses that manifest without touching the
hub (``refresh=True`` rebuilds it; delete the folder when the mirror changes, since files are named by row).

Splits: ``split_map`` maps hub split names to ``train``/``validation``/``test``; by default the usual names
(``validation``, ``valid``, ``val``, ``dev``, ``devel`` -> validation; ``eval`` -> test) are mapped and any
other split is ignored. Without a validation split, a random ``validation_fraction`` of train (seed 42)
becomes validation. Labels: ``ClassLabel`` ints become their names, ``label_map`` then maps codes to names
(e.g. EMOVO's Italian codes), and ``common.readable`` tidies them; a list-valued label field makes the task
multi-label.

``HUB_MIRRORS`` lists the mirrors the original codec_bench project used (DATASETS.md section 23): name ->
(repo id, label field); ``HUB_CONFIGS`` and ``HUB_LABEL_MAPS`` hold the few that need a config or a label map,
and ``load_mirror(name, cache_dir)`` applies all of them with the registered dataset's domain and instruction.
Mirrors' splits and labels differ from the official protocols (see DATASETS.md): scores are not comparable.
"""

from __future__ import annotations

import io as bytes_io
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping

import soundfile as sf

from ..core import io
from ..core.errors import CodecBenchError
from . import emovo, ravdess, timit
from .common import random_validation, readable
from .manifest import Clip, Manifest, finalize, load, save

HUB_MIRRORS: dict[str, tuple[str, str]] = {
    "esc50": ("ashraq/esc50", "category"),
    "urbansound8k": ("danavery/urbansound8K", "class"),
    "fsd50k": ("CLAPv2/FSD50K", "label"),  # CLAP-derived text label in the seed, not the original labels
    "vivae": ("vtsouval/vivae", "label"),
    "fma_small": ("rpmon/fma-genre-classification", "genre"),
    "gtzan": ("marsyas/gtzan", "genre"),
    "medley_solos_db": ("vtsouval/medley-solos-db", "instrument"),
    "ravdess": ("narad/ravdess", "labels"),
    "audio_mnist": ("gilkeyio/AudioMNIST", "digit"),
    "slurp": ("marcel-gohsen/slurp", "intent"),
    "emovo": ("vtsouval/emovo", "emotion"),
    "crema_d": ("AbstractTTS/CREMA-D", "major_emotion"),
    "timit": ("nh0znoisung/timit", "dialect_region"),
    "arca23k_fsd": ("vtsouval/arca23k-fsd", "label"),
    "flusense": ("vtsouval/flusense", "label"),
}
HUB_CONFIGS: dict[str, str] = {"emovo": "fold1"}
HUB_LABEL_MAPS: dict[str, Mapping[str, str]] = {
    "emovo": emovo.EMOTIONS,
    "ravdess": {str(int(code) - 1): name for code, name in ravdess.EMOTIONS.items()},  # 0-7 ints in the mirror
    "timit": {code.upper(): name for code, name in timit.REGIONS.items()},
}
SPLIT_NAMES = {"train": "train", "validation": "validation", "valid": "validation", "val": "validation",
               "dev": "validation", "devel": "validation", "test": "test", "eval": "test"}
DEFAULT_INSTRUCTION = "Classify this audio clip. Answer with the label."


def load_from_hub(
    name: str, repo_id: str, split_map: Mapping[str, str] | None = None, label_field: str = "label", *,
    cache_dir: str | Path, config: str | None = None, audio_field: str = "audio", speaker_field: str | None = None,
    label_map: Mapping[str, str] | None = None, domain: str = "sound", instruction: str = DEFAULT_INSTRUCTION,
    validation_fraction: float = 0.05, refresh: bool = False,
) -> Manifest:
    """Manifest of hub mirror ``repo_id`` (audio written once under ``cache_dir/name``); see the module doc."""
    folder = Path(cache_dir) / name
    if (folder / "manifest" / "info.json").is_file() and not refresh:
        return load(folder / "manifest")
    splits = _open(repo_id, config)
    split_map = dict(split_map) if split_map else {s: SPLIT_NAMES[s.lower()] for s in splits if s.lower() in SPLIT_NAMES}
    if "train" not in split_map.values() or any(s not in splits for s in split_map):
        raise CodecBenchError(f"{repo_id}: splits {', '.join(splits)}; pass a split map that names the training split")
    clips: list[Clip] = []
    for hub_split, split in split_map.items():
        clips.extend(_split_clips(splits[hub_split], hub_split, split, folder, label_field, audio_field,
                                  speaker_field, label_map))
    if "validation" not in split_map.values():
        chosen = random_validation([c.id for c in clips if c.split == "train"], validation_fraction, seed=42)
        clips = [replace(c, split="validation") if c.id in chosen else c for c in clips]
    multi = _is_multi_label(splits[next(iter(split_map))].features[label_field])
    task = "multi_label" if multi else "single_label"
    manifest = finalize(Manifest(name, task, domain, instruction, [], clips, "hub", None))
    save(manifest, folder / "manifest")
    return manifest


def load_mirror(name: str, cache_dir: str | Path, refresh: bool = False) -> Manifest:
    """``load_from_hub`` for a dataset of ``HUB_MIRRORS``, with its config, label map, domain and instruction."""
    from . import DATASETS  # the registry imports this package's modules; import it only when called

    if name not in HUB_MIRRORS:
        raise CodecBenchError(f"{name}: no known hub mirror; choose one of {', '.join(sorted(HUB_MIRRORS))}")
    repo_id, label_field = HUB_MIRRORS[name]
    spec = DATASETS.get(name)
    return load_from_hub(
        name, repo_id, None, label_field, cache_dir=cache_dir, config=HUB_CONFIGS.get(name),
        label_map=HUB_LABEL_MAPS.get(name), domain=spec.domain if spec else "sound",
        instruction=spec.instruction if spec else DEFAULT_INSTRUCTION, refresh=refresh,
    )


def _open(repo_id: str, config: str | None) -> Any:
    """A DatasetDict from the hub, a ``save_to_disk`` folder, or a local folder of parquet/audio files."""
    import datasets

    local = Path(repo_id)
    if (local / "dataset_dict.json").is_file():
        return datasets.load_from_disk(str(local))
    try:
        return datasets.load_dataset(str(local) if local.is_dir() else repo_id, config)
    except Exception as err:  # offline, unknown repo, gated: one line with the fix
        raise CodecBenchError(f"{repo_id}: cannot open the hub dataset ({type(err).__name__}: {err}); "
                              "check the repo id, network or HF_HUB_OFFLINE, or use the official layout") from err


def _split_clips(ds: Any, hub_split: str, split: str, folder: Path, label_field: str, audio_field: str,
                 speaker_field: str | None, label_map: Mapping[str, str] | None) -> list[Clip]:
    import datasets

    for column in (label_field, audio_field):
        if column not in ds.column_names:
            raise CodecBenchError(f"{hub_split} split has no column {column!r} (columns: {', '.join(ds.column_names)})")
    names = _class_names(ds.features[label_field])
    ds = ds.cast_column(audio_field, datasets.Audio(decode=False))
    clips = []
    for index, row in enumerate(ds):
        value = row[label_field]
        labels = tuple(_label(v, names, label_map) for v in (value if isinstance(value, list) else [value]))
        path = write_audio(row[audio_field], folder / "audio" / hub_split / f"{index:06d}")
        speaker = str(row[speaker_field]) if speaker_field else None
        clips.append(Clip(f"{hub_split}/{index:06d}", str(path.resolve()), labels, split, speaker))
    return clips


def _is_multi_label(feature: Any) -> bool:
    """A list-valued label column (``Sequence``/``List``/``LargeList`` of labels) is multi-label."""
    return hasattr(feature, "feature") or isinstance(feature, list)


def _class_names(feature: Any) -> list[str] | None:
    inner = getattr(feature, "feature", feature)  # Sequence/List(ClassLabel) for multi-label mirrors
    return list(inner.names) if hasattr(inner, "names") else None


def _label(value: Any, names: list[str] | None, label_map: Mapping[str, str] | None) -> str:
    text = names[value] if names is not None and isinstance(value, int) else str(value)
    return readable((label_map or {}).get(text, text))


def write_audio(audio: dict, stem: Path) -> Path:
    """Write one undecoded hub audio cell (``{"bytes", "path"}``) to ``stem.wav``/``stem.flac`` once."""
    for suffix in (".wav", ".flac"):
        if stem.with_suffix(suffix).is_file():
            return stem.with_suffix(suffix)
    data = audio.get("bytes")
    if data is None and audio.get("path") and Path(audio["path"]).is_file():
        data = Path(audio["path"]).read_bytes()
    if not data:
        raise CodecBenchError(f"{stem}: the hub row has no audio bytes or readable path; the mirror may be broken")
    try:
        kind = sf.info(bytes_io.BytesIO(data)).format
    except sf.LibsndfileError as err:
        raise CodecBenchError(f"{stem}: audio format not readable by soundfile ({err}); use the official layout") from err
    target = stem.with_suffix(".wav" if kind in ("WAV", "WAVEX") else ".flac")
    with io.atomic_path(target) as tmp:
        if kind in ("WAV", "WAVEX", "FLAC"):
            tmp.write_bytes(data)
        else:
            samples, rate = sf.read(bytes_io.BytesIO(data), always_2d=True)
            sf.write(tmp, samples, rate, format="FLAC")
    return target
