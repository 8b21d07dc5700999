"""The codec interface: audio in, discrete tokens out.

A codec has a sample rate, a frame rate, a number of codebooks and a codebook size, and ``encode`` turns a
batch of waveforms into one code array per clip. ``identity()`` is everything that changes the codes (model id,
config, dtype, preprocessing, fitted state); the token cache is keyed by its hash, so a cache made by another
codec or config is never reused.

A *continuous* front-end (``continuous = True``: log-mel frames, XCodec2's pre-quantization latents) has the same
interface but returns ``features: (feature_dim, frames) float32`` instead of codes; ``num_codebooks`` is then the
feature dimension and ``codebook_size`` is 0. The cache stores them the same way, and the LLM reads them through
a trained projector (``codec_bench.continuous``) instead of speech tokens.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from typing import Any, Iterable, Sequence

import numpy as np


class Codec(ABC):
    """Audio -> tokens. Subclasses set the four attributes and implement ``encode_preprocessed`` and ``identity``
    (and ``preprocess`` where per-clip CPU work can run in DataLoader workers)."""

    name: str
    sample_rate_hz: int
    frame_rate_hz: float
    num_codebooks: int
    codebook_size: int
    needs_fit: bool = False  # True: ``fit`` must see the training split before ``encode``
    continuous: bool = False  # True: ``encode`` returns float32 features, not codes (see the module doc)

    def encode(self, waveforms: Sequence[np.ndarray]) -> list[np.ndarray]:
        """``waveforms``: mono float32 arrays at ``sample_rate_hz``, any lengths.

        Returns one ``codes: (num_codebooks, frames) int64`` per clip, each identical to what the clip would get
        if encoded alone (padding never leaks into codes).
        """
        return self.encode_preprocessed([self.preprocess(w) for w in waveforms])

    def preprocess(self, wave: np.ndarray) -> Any:
        """Per-clip CPU work (features, normalisation). The cache stage runs it in DataLoader workers, so it
        must be picklable-in, picklable-out and touch no GPU. Default: the waveform itself."""
        return wave

    @abstractmethod
    def encode_preprocessed(self, items: Sequence[Any]) -> list[np.ndarray]:
        """Encode a batch of ``preprocess`` outputs; same contract as :meth:`encode`."""

    @abstractmethod
    def identity(self) -> dict:
        """JSON-able description of everything that determines the codes."""

    def fit(self, waveforms: Iterable[np.ndarray]) -> None:  # pragma: no cover - only fitted codecs override
        """Fit on the training split's waveforms (an iterable that may be read twice, one clip in memory at a time)."""
        raise NotImplementedError(f"{self.name} is not fitted")

    def cache_key(self) -> str:
        """``name-<12 hex>``: the codec name and a hash of ``identity()``."""
        digest = hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()
        return f"{self.name}-{digest[:12]}"

    def describe(self) -> dict:
        return {
            "name": self.name, "sample_rate_hz": self.sample_rate_hz, "frame_rate_hz": self.frame_rate_hz,
            "num_codebooks": self.num_codebooks, "codebook_size": self.codebook_size, "key": self.cache_key(),
        }
