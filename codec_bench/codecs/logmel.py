"""``logmel``: log-mel frames as a continuous front-end, the spectrogram-input baseline.

The paper compares codec-token LLMs with "waveform and spectrogram-based LLMs". This front-end gives that
comparison the same pipeline: its frames are cached like tokens, and the same LLM reads them through a small
projector trained with it (``llm.projector``), with the same prompt text, training and evaluation. 64 bins at 50
frames/s (hop 320 at 16 kHz: the frame rate of XCodec2's tokens, so a clip costs the LLM the same number of
positions either way); no fitting, the projector standardises each bin with the training split's statistics.
A frame takes ``4 * n_mels`` bytes in the cache (46 MB per hour of audio).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from .base import FeatureFrontEnd
from .features import log_mel

if TYPE_CHECKING:
    import torch


class LogMelFrames(FeatureFrontEnd):
    """Log-mel frames: 16 kHz in, ``n_mels`` dims at 50 frames/s out, float32."""

    name = "logmel"

    def __init__(self, n_mels: int = 64):
        self.sample_rate_hz = 16_000
        self.hop = 320
        self.frame_rate_hz = self.sample_rate_hz / self.hop
        self.n_mels = n_mels
        self.feature_dim = n_mels

    def preprocess(self, wave: np.ndarray) -> torch.Tensor:
        """``(samples,)`` -> ``(frames, n_mels)``: the whole work, so it runs in the DataLoader workers."""
        return log_mel(np.asarray(wave, dtype=np.float32), self.sample_rate_hz, self.n_mels, self.hop)

    def encode_preprocessed(self, items: Sequence[torch.Tensor]) -> list[np.ndarray]:
        return [np.ascontiguousarray(frames.numpy().T.astype(np.float32)) for frames in items]

    def identity(self) -> dict:
        return {"codec": "logmel", "version": 1, "n_mels": self.n_mels, "hop": self.hop, "sample_rate_hz": self.sample_rate_hz}
