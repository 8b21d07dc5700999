"""Loading pretrained weights, a codec's or an LLM's, from a Hugging Face hub id or a local folder: offline mode,
references that look like paths, one-line errors. Below both ``codecs`` and ``llm``; imports no torch."""

from __future__ import annotations

import os
from pathlib import Path

from .core.errors import CodecBenchError


def offline_mode(offline: bool | None) -> bool:
    """``offline`` if given, else the hub's offline setting (``HF_HUB_OFFLINE``)."""
    if offline is not None:
        return offline
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE) or os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


def load_pretrained(model_class, model_id: str, title: str, folder_hint: str, offline: bool | None = None):
    """``model_class.from_pretrained`` (hub id or local folder, safetensors) with a one-line error naming the id
    and how to pass a local copy (``--codec-model /path/to/<folder_hint>``)."""
    local = Path(model_id).expanduser()
    try:
        return model_class.from_pretrained(str(local) if local.is_dir() else model_id, use_safetensors=True,
                                           local_files_only=offline_mode(offline))
    except OSError as err:
        if local.is_dir():
            raise CodecBenchError(f"cannot load {title} from {local}: {' '.join(str(err).split())}") from err
        raise CodecBenchError(
            f"{title} weights {model_id!r} are not in the Hugging Face cache and the hub cannot be reached (offline); "
            f"download them once, or pass a local copy with --codec-model /path/to/{folder_hint}") from err


def looks_like_path(reference: str) -> bool:
    """A local path rather than a hub id (``namespace/name``): absolute, relative with ./ or ../, ~, several
    slashes, or a backslash."""
    return reference.startswith(("/", "./", "../", "~", ".")) or reference.count("/") > 1 or "\\" in reference


def check_reference(reference: str, option: str) -> None:
    """Fail at once, in one line, for a path-like model reference that does not exist (not a hub id)."""
    path = Path(reference).expanduser()
    if looks_like_path(reference) and not path.exists():
        raise CodecBenchError(f"{reference}: no such folder ({option}); pass an existing local model folder "
                              "(config.json, safetensors weights) or a hub id such as HKUSTAudio/Llasa-1B-Multilingual")
