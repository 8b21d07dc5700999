"""Fitting a codec that learns from the training split (the embedded one), once per set of clips and settings.

The fit is saved as ``<state_folder>/<codec>-fit-<hash of its settings and clip ids>.safetensors`` with a
done-marker beside it; a later run with the same clips and settings loads it instead of fitting again::

    fit_codec(EmbeddedCodec(), manifest.split("train"), "cache/esc50")  # fits, writes embedded-fit-<key>.safetensors
    fit_codec(EmbeddedCodec(), manifest.split("train"), "cache/esc50")  # loads it (codec.load)
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Sequence

from ..core import io, ui
from ..core.finished import mark_done, reusable
from ..core.parallel import build_lock
from ..data.manifest import Clip
from .base import ClipEncoder
from .clip_audio import ClipWaves


def fit_codec(codec: ClipEncoder, clips: Sequence[Clip], state_folder: str | Path) -> None:
    """Fit a codec that needs it (the embedded one) on ``clips`` (a training split), or load the fit saved for
    exactly these clips and settings. The fit is saved as safetensors under ``state_folder``; processes that need
    the same fit wait for the first one (``core.parallel.build_lock``) and load it."""
    if not codec.needs_fit:
        return
    key = hashlib.sha256(json.dumps([codec.fit_identity(), sorted(c.id for c in clips)]).encode()).hexdigest()[:12]
    path = Path(state_folder) / f"{codec.name}-fit-{key}.safetensors"
    marker = path.with_name(f"{path.name}.done.json")
    with build_lock(path, "codec fit"):
        if reusable(marker, "codec fit", path):
            codec.load(path)
            return
        with ui.stage("fit"):
            codec.fit(ClipWaves(clips, codec.sample_rate_hz))
        with io.atomic_path(path) as tmp:
            codec.save(tmp)
        mark_done(marker, [path], codec=codec.name, clips=len(clips))
