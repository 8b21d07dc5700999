"""Codecs: audio -> discrete tokens (token codecs) or feature frames (front-ends), and the token cache.

The token cache: ``cache`` writes the shards (``TokenCache``), ``cached_codes`` reads them lazily
(``CachedCodes``), ``clip_audio`` decodes the clips' audio in DataLoader workers, ``fit`` fits a codec that learns
from the training split (``fit_codec``).

``CODECS`` is the registry: name -> class. A codec is one file here (a :class:`base.TokenCodec` or a
:class:`base.FeatureFrontEnd`) plus one line below. Its constructor's keyword arguments are its options (the study
YAML's ``options:``, and the command line's ``--codec-model``/``--codec-dtype``/``--max-seconds``/``--offline`` where
it has ``model_id``/``dtype``/``max_seconds``/``offline``); its class docstring's first line is its help.

Modules: the two interfaces (``base``); the codecs (``embedded``, ``xcodec2``, ``encodec``, ``dac``, ``mimi``,
``xcodec``) and front-ends (``logmel``, ``xcodec2_latents``); what the pretrained ones share (``pretrained``) and the
transformers residual-VQ ones (``rvq``); the log-mel spectrogram (``features``); the token cache (``cache``,
``cached_codes``, ``clip_audio``, ``fit``: above).
"""

from __future__ import annotations

import difflib
import inspect

from ..core.errors import CodecBenchError
from .base import ClipEncoder, FeatureFrontEnd, TokenCodec
from .dac import DacCodec
from .embedded import EmbeddedCodec
from .encodec import EncodecCodec
from .logmel import LogMelFrames
from .mimi import MimiCodec
from .xcodec import XcodecCodec
from .xcodec2 import Xcodec2Codec
from .xcodec2_latents import Xcodec2Latents

CODECS: dict[str, type[ClipEncoder]] = {
    "embedded": EmbeddedCodec,
    "xcodec2": Xcodec2Codec,
    "encodec": EncodecCodec,
    "dac": DacCodec,
    "mimi": MimiCodec,
    "xcodec": XcodecCodec,
    "logmel": LogMelFrames,  # continuous front-ends: frames through a trained projector, not tokens
    "xcodec2-latents": Xcodec2Latents,
}


def options_of(name: str) -> dict[str, object]:
    """The options codec ``name`` takes, with their defaults (its constructor's keyword arguments)."""
    parameters = inspect.signature(CODECS[name].__init__).parameters.values()
    return {p.name: p.default for p in parameters if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def check_codec(name: str, options: dict | None = None, where: str = "") -> None:
    """One-line errors for an unknown codec name or an option it does not take (with a "did you mean")."""
    prefix = f"{where}: " if where else ""
    if name not in CODECS:
        close = difflib.get_close_matches(name, CODECS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise CodecBenchError(f"{prefix}unknown codec {name!r}; {hint}choose one of {', '.join(sorted(CODECS))}")
    known = options_of(name)
    for key in options or {}:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise CodecBenchError(f"{prefix}codec {name} has no option {key!r}; {hint}its options: {', '.join(known)}")


def make_codec(name: str, **options) -> ClipEncoder:
    """Build codec ``name`` with ``options`` (for example ``model_id`` or ``dtype`` for xcodec2)."""
    check_codec(name, options)
    return CODECS[name](**options)


def is_front_end(name: str) -> bool:
    """Whether codec ``name`` gives continuous frames (read through a projector) rather than tokens."""
    return issubclass(CODECS[name], FeatureFrontEnd)


__all__ = ["CODECS", "ClipEncoder", "FeatureFrontEnd", "TokenCodec", "check_codec", "is_front_end", "make_codec", "options_of"]
