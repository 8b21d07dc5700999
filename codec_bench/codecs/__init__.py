"""Codecs: audio -> discrete tokens. ``CODECS`` maps a name to a factory taking keyword options."""

from __future__ import annotations

from typing import Callable

from ..core.errors import CodecBenchError
from .base import Codec
from .continuous import LogMelFrames, Xcodec2Latents
from .embedded import EmbeddedCodec
from .transformers_codecs import DacCodec, EncodecCodec, MimiCodec, TransformersCodec, XcodecCodec
from .xcodec2 import Xcodec2Codec

CODECS: dict[str, Callable[..., Codec]] = {
    "embedded": EmbeddedCodec,
    "xcodec2": Xcodec2Codec,
    "encodec": EncodecCodec, "dac": DacCodec, "mimi": MimiCodec, "xcodec": XcodecCodec,
    # continuous front-ends (the spectrogram-input baseline): features through a trained projector, not tokens
    "logmel": LogMelFrames, "xcodec2-latents": Xcodec2Latents,
}


def make_codec(name: str, **options) -> Codec:
    """Build codec ``name`` with ``options`` (for example ``model_id`` or ``dtype`` for xcodec2)."""
    if name not in CODECS:
        raise CodecBenchError(f"unknown codec {name!r}; choose one of {', '.join(sorted(CODECS))}")
    return CODECS[name](**options)


__all__ = ["CODECS", "Codec", "EmbeddedCodec", "TransformersCodec", "Xcodec2Codec", "make_codec"]
