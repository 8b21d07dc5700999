"""Log-mel spectrogram in torch (no torchaudio): used by the embedded codec and the reference baseline."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # heavy imports happen where they are used: the command line checks inputs first
    import torch


@functools.lru_cache(maxsize=8)
def mel_filterbank(sample_rate_hz: int, n_fft: int, n_mels: int, f_min: float = 0.0, f_max: float | None = None) -> torch.Tensor:
    """HTK-scale triangular filters: ``(n_fft // 2 + 1, n_mels)`` float32."""
    import torch

    f_max = f_max or sample_rate_hz / 2
    to_mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    to_hz = lambda m: 700.0 * (10 ** (m / 2595.0) - 1.0)  # noqa: E731
    edges = to_hz(np.linspace(to_mel(f_min), to_mel(f_max), n_mels + 2))
    bins = np.linspace(0, sample_rate_hz / 2, n_fft // 2 + 1)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    weights = np.maximum(0, np.minimum((bins - lower) / (centre - lower), (upper - bins) / (upper - centre)))
    return torch.from_numpy(weights.T.astype(np.float32))


def log_mel(
    wave: np.ndarray | torch.Tensor, sample_rate_hz: int = 16_000, n_mels: int = 64, hop: int = 320, n_fft: int = 512
) -> torch.Tensor:
    """``wave: (samples,)`` -> ``(frames, n_mels)`` float32 log-mel with ``frames = samples // hop`` (>= 1).

    Frames are centred on ``k * hop`` (a 400-sample Hann window, 25 ms at 16 kHz), so at hop 320 a clip gets
    exactly 50 frames per second, the frame rate of XCodec2.
    """
    import torch

    wave = torch.as_tensor(wave, dtype=torch.float32)
    if wave.numel() < hop:
        wave = torch.nn.functional.pad(wave, (0, hop - wave.numel()))
    window = torch.hann_window(min(400, n_fft))
    spec = torch.stft(wave, n_fft, hop_length=hop, win_length=window.numel(), window=window, center=True, return_complex=True)
    power = spec.abs().pow(2).T[: wave.numel() // hop]  # (frames, n_fft // 2 + 1)
    return torch.log(power @ mel_filterbank(sample_rate_hz, n_fft, n_mels) + 1e-6)
