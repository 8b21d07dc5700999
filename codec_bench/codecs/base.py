"""Two narrow interfaces: token codecs (audio -> discrete codes) and feature front-ends (audio -> frames).

Both are :class:`ClipEncoder`s, what the token cache stores: audio at ``sample_rate_hz`` in, one array per clip
out (``rows`` x frames at ``frame_rate_hz``), stored as ``storage_dtype``. ``identity()`` is everything that
changes the arrays (model id, config, dtype, preprocessing, fitted state); the cache is keyed by its hash, so a
cache made by another codec or config is never reused.

- :class:`TokenCodec`: ``codes: (num_codebooks, frames) int64`` in ``[0, codebook_size)``; the LLM reads them as
  speech tokens ``<|s_N|>`` (several codebooks interleaved, or summed into one position per frame).
  ``probe_vector`` says what the codes of a clip carry by themselves (the probe reference row).
- :class:`FeatureFrontEnd`: ``features: (feature_dim, frames)`` float; the LLM reads them through a trained
  projector (``llm.projector``) instead of speech tokens.

A token codec with a decoder sets ``can_decode`` and implements ``_decode_batch``: :meth:`TokenCodec.decode` turns
cached codes back into audio for the fidelity stage; a codec without one (the embedded k-means units) and every
front-end say why in ``decode_note``, one line. ``bitrate_bps`` is what the codes carry: frame rate x codebooks x
log2(codebook size); None for continuous frames.

A codec is one file: a class that declares its name, options (its constructor's keyword arguments, with their
defaults), storage and probe vector, registered in ``codecs.CODECS``. The command line passes a codec only the
options its constructor accepts (``--codec-model`` as ``model_id``, ``--codec-dtype`` as ``dtype``, ...).
"""

from __future__ import annotations

import hashlib
import json
import math
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

if TYPE_CHECKING:
    import torch

HISTOGRAM_LIMIT = 4096  # codes; above this, a clip's probe vector is the mean of its speech-token embeddings


class ClipEncoder(ABC):
    """Audio -> one array per clip, cached once. Subclasses set ``name``, ``sample_rate_hz``, ``frame_rate_hz``
    and implement ``encode_preprocessed`` and ``identity`` (and ``preprocess`` where per-clip CPU work can run in
    DataLoader workers)."""

    name: str
    sample_rate_hz: int
    frame_rate_hz: float
    storage_dtype: str = "float32"  # what the cache stores
    needs_fit: bool = False  # True: ``fit`` must see the training split before ``encode``
    can_decode: bool = False  # True: ``decode`` turns the cached arrays back into audio
    decode_note: str = "continuous frames, not codes: there is nothing to decode"  # why not, in one line

    def decode(self, codes: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Cached arrays -> one ``(samples,) float32`` waveform per clip at ``sample_rate_hz`` (codecs with
        ``can_decode``)."""
        raise NotImplementedError(f"{self.name}: {self.decode_note}")

    @property
    def rows(self) -> int:
        """The first dimension of each clip's array."""
        raise NotImplementedError

    @property
    def bitrate_bps(self) -> float | None:
        """Bits per second of audio the codes take; None for continuous features (no bitstream)."""
        return None

    def encode(self, waveforms: Sequence[np.ndarray]) -> list[np.ndarray]:
        """``waveforms``: mono float32 arrays at ``sample_rate_hz``, any lengths -> one ``(rows, frames)`` array per
        clip, each identical to what the clip would get if encoded alone (padding never leaks into it)."""
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
        """JSON-able description of everything that determines the arrays."""

    def fit(self, waveforms: Iterable[np.ndarray]) -> None:  # pragma: no cover - only fitted codecs override
        """Fit on the training split's waveforms (an iterable that may be read twice, one clip in memory at a time)."""
        raise NotImplementedError(f"{self.name} is not fitted")

    def cache_key(self) -> str:
        """``name-<12 hex>``: the name and a hash of ``identity()``."""
        digest = hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()
        return f"{self.name}-{digest[:12]}"

    def describe(self) -> dict:
        """What ``cache.json`` records. It keeps the field names of its first format: ``num_codebooks`` holds the
        rows of each array (a front-end's feature dimension) and ``codebook_size`` is 0 for features."""
        return {"name": self.name, "sample_rate_hz": self.sample_rate_hz, "frame_rate_hz": self.frame_rate_hz,
                "num_codebooks": self.rows, "codebook_size": getattr(self, "codebook_size", 0), "key": self.cache_key()}


class TokenCodec(ClipEncoder):
    """Audio -> ``codes: (num_codebooks, frames) int64``, each in ``[0, codebook_size)``."""

    storage_dtype = "int64"
    num_codebooks: int
    codebook_size: int
    decode_note = "no decoder back to audio"

    @property
    def rows(self) -> int:
        return self.num_codebooks

    def decode(self, codes: Sequence[np.ndarray]) -> list[np.ndarray]:
        """``codes: (num_codebooks, frames) int64`` per clip -> ``(samples,) float32`` per clip at ``sample_rate_hz``
        (the decoder's length: whole frames, so at least the clip's samples). Clips of equal frame counts run as one
        ``_decode_batch``: a batch of mixed lengths is one call per length, and no clip sees another's padding."""
        if not self.can_decode:
            raise NotImplementedError(f"{self.name}: {self.decode_note}")
        by_frames: dict[int, list[int]] = {}
        for index, clip in enumerate(codes):
            by_frames.setdefault(int(np.shape(clip)[-1]), []).append(index)
        out: list[np.ndarray] = [np.zeros(0, np.float32)] * len(codes)
        for indices in by_frames.values():
            waves = self._decode_batch(np.stack([np.asarray(codes[i], dtype=np.int64) for i in indices]))
            for index, wave in zip(indices, waves):
                out[index] = np.ascontiguousarray(wave, dtype=np.float32).reshape(-1)
        return out

    def _decode_batch(self, codes: np.ndarray) -> np.ndarray:
        """``codes: (batch, num_codebooks, frames) int64`` -> ``(batch, samples) float32``."""
        raise NotImplementedError(f"{self.name}: {self.decode_note}")

    @property
    def speech_tokens(self) -> int:
        """Speech tokens an LLM needs: ``num_codebooks * codebook_size`` (codebook k offset by k * codebook_size)."""
        return self.num_codebooks * self.codebook_size

    @property
    def bitrate_bps(self) -> float:
        """``frame_rate_hz * num_codebooks * log2(codebook_size)``: the codes' bitrate without entropy coding (XCodec2:
        50 x 1 x 16 = 800 b/s; EnCodec at 1.5 kbps: 75 x 2 x 10 = 1,500 b/s)."""
        return float(self.frame_rate_hz * self.num_codebooks * math.log2(self.codebook_size))

    def probe_vector(self, codes: np.ndarray, token_embeddings: torch.Tensor | None = None) -> np.ndarray:
        """One ``(dim,) float32`` vector of what a clip's codes carry by themselves (the probe reference row): the
        normalised histogram of its codes when there are at most ``HISTOGRAM_LIMIT``, else the mean of the LLM's
        input embeddings of its speech tokens (``token_embeddings: (speech_tokens, hidden)``; a 65,536-bin histogram
        of a 5-s clip would be 250 ones in a sea of zeros)."""
        codes = np.asarray(codes, dtype=np.int64)
        flat = (codes + np.arange(codes.shape[0])[:, None] * self.codebook_size).reshape(-1)
        if self.speech_tokens <= HISTOGRAM_LIMIT:
            return (np.bincount(flat, minlength=self.speech_tokens) / max(flat.size, 1)).astype(np.float32)
        if token_embeddings is None:
            raise ValueError(f"{self.name} has {self.speech_tokens} codes: pass the LLM's speech-token embeddings")
        import torch

        rows = token_embeddings[torch.from_numpy(flat).to(token_embeddings.device)]
        return rows.float().mean(0).cpu().numpy() if flat.size else np.zeros(token_embeddings.shape[1], np.float32)

    def needs_token_embeddings(self) -> bool:
        """Whether :meth:`probe_vector` needs the LLM's speech-token embeddings."""
        return self.speech_tokens > HISTOGRAM_LIMIT


class FeatureFrontEnd(ClipEncoder):
    """Audio -> ``features: (feature_dim, frames)`` float (stored as ``storage_dtype``), read by the LLM through a
    trained projector."""

    feature_dim: int

    @property
    def rows(self) -> int:
        return self.feature_dim
