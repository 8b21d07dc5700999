"""Continuous front-ends for the spectrogram-input baseline: audio -> feature frames instead of codes.

The paper compares codec-token LLMs with "waveform and spectrogram-based LLMs". These front-ends give that
comparison the same pipeline: their frames are cached like tokens, and the same LLM reads them through a small
projector trained with it (``codec_bench.continuous``), with the same prompt text, training and evaluation.

* ``logmel``: 64-bin log-mel frames at 50 frames/s (hop 320 at 16 kHz: the frame rate of XCodec2's tokens, so a
  clip costs the LLM the same number of positions either way). No fitting; the projector standardises each bin
  with the training split's statistics.
* ``xcodec2-latents``: XCodec2's encoder output just before its FSQ quantizer (``fc_encoder``; 2,048 dims for
  the released model) at 50 frames/s: what the tokens are made from, minus the quantization. Same weights,
  preprocessing, exact batching and ``long_clips`` policy as the ``xcodec2`` codec.

Each returns ``(feature_dim, frames) float32`` per clip (``num_codebooks`` = feature_dim, ``codebook_size`` = 0).
Cache size: float32 frames take ``4 * feature_dim`` bytes each; XCodec2 latents of one hour of audio are ~1.5 GB
(``storage: float16`` halves that). Training and evaluation read the frames from the cache lazily, a clip at a time.
"""

from __future__ import annotations

from typing import Any, Sequence, TYPE_CHECKING

import numpy as np

from ..core.errors import CodecBenchError
from .features import log_mel
from .base import Codec
from .xcodec2 import Xcodec2Codec
if TYPE_CHECKING:  # heavy imports happen where they are used: the command line checks inputs first
    import torch


class LogMelFrames(Codec):
    """Log-mel frames: 16 kHz in, ``n_mels`` dims at 50 frames/s out."""

    name = "logmel"
    continuous = True
    codebook_size = 0

    def __init__(self, n_mels: int = 64):
        self.sample_rate_hz = 16_000
        self.hop = 320
        self.frame_rate_hz = self.sample_rate_hz / self.hop
        self.n_mels = n_mels
        self.num_codebooks = n_mels

    def preprocess(self, wave: np.ndarray) -> torch.Tensor:
        """``(samples,)`` -> ``(frames, n_mels)``: the whole work, so it runs in the DataLoader workers."""
        return log_mel(np.asarray(wave, dtype=np.float32), self.sample_rate_hz, self.n_mels, self.hop)

    def encode_preprocessed(self, items: Sequence[torch.Tensor]) -> list[np.ndarray]:
        return [np.ascontiguousarray(frames.numpy().T.astype(np.float32)) for frames in items]

    def identity(self) -> dict:
        return {"codec": "logmel", "version": 1, "n_mels": self.n_mels, "hop": self.hop, "sample_rate_hz": self.sample_rate_hz}


class Xcodec2Latents(Xcodec2Codec):
    """XCodec2's pre-quantization latents (the input of its quantizer) instead of its codes; options as
    :class:`Xcodec2Codec`, plus ``storage``: ``"float32"`` (default) or ``"float16"`` (half the cache and memory;
    values rounded to 11 significant bits)."""

    name = "xcodec2-latents"
    continuous = True

    def __init__(self, storage: str = "float32", **options: Any):
        if storage not in ("float32", "float16"):
            raise CodecBenchError(f"xcodec2-latents storage {storage!r} is not one of float32, float16")
        self.storage_dtype = storage
        super().__init__(**options)
        self.num_codebooks = int(self.model.fc_encoder.out_features)
        self.codebook_size = 0

    def _model_outputs(self, inputs: dict[str, torch.Tensor]) -> np.ndarray:
        """``(batch, dim, frames) float32``: the quantizer's input, caught on its way out of ``fc_encoder``."""
        import torch

        captured: list[torch.Tensor] = []
        hook = self.model.fc_encoder.register_forward_hook(lambda module, args, output: captured.append(output))
        try:
            self.model.encode(**inputs)
        finally:
            hook.remove()
        return captured[0].transpose(1, 2).to("cpu", torch.float32).numpy()

    def identity(self) -> dict:
        return super().identity() | {"codec": "xcodec2-latents", "latents": "pre_quantization", "storage": self.storage_dtype}
