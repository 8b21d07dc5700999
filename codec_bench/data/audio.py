"""The one place audio is decoded, downmixed and resampled.

``load_audio`` returns float32 mono at the requested rate or raises :class:`AudioError` with a one-line message
that names the file and what to do. Decoding uses soundfile (libsndfile: WAV, FLAC, OGG, MP3, AU, NIST SPHERE,
AIFF, ...); resampling uses soxr (high quality).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from ..core.errors import AudioError

SAMPLE_RATE_HZ = 16_000
SILENCE_PEAK = 1e-5  # a clip whose peak stays below this (about -100 dBFS) carries no signal


def load_audio(path: str | Path, sample_rate_hz: int = SAMPLE_RATE_HZ, max_seconds: float | None = None) -> np.ndarray:
    """Decode ``path`` to a mono float32 waveform at ``sample_rate_hz``.

    Returns ``wave: (samples,) float32``. Multi-channel audio is averaged; other rates are resampled with soxr.
    ``max_seconds`` truncates after resampling. Raises AudioError for a missing, unreadable, empty, NaN or
    silent file.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: audio file not found; check the dataset root or the manifest path")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as err:  # libsndfile reports format problems as several exception types
        raise AudioError(f"{path}: cannot decode audio ({_short(err)}); convert it to WAV or FLAC") from err
    return prepare_waveform(data, rate, sample_rate_hz, max_seconds, source=str(path))


def audio_seconds(path: str | Path) -> float:
    """Duration of an audio file from its header (nothing decoded); 0 when the header does not say."""
    try:
        info = sf.info(str(path))
    except Exception:  # libsndfile reports format problems as several exception types
        return 0.0
    return info.frames / info.samplerate if info.samplerate and info.frames > 0 else 0.0


def prepare_waveform(
    data: np.ndarray, rate: int, sample_rate_hz: int = SAMPLE_RATE_HZ, max_seconds: float | None = None, source: str = "<array>"
) -> np.ndarray:
    """Downmix ``data: (samples,) or (samples, channels)`` to mono, resample to ``sample_rate_hz``, validate."""
    data = np.asarray(data, dtype=np.float32)
    if data.ndim == 2:
        data = data.mean(axis=1)
    if data.size == 0:
        raise AudioError(f"{source}: audio is empty (0 samples); remove the file or replace it")
    if not np.all(np.isfinite(data)):
        raise AudioError(f"{source}: audio contains NaN or infinite samples; re-export the file")
    if rate != sample_rate_hz:
        data = soxr.resample(data, rate, sample_rate_hz, quality="HQ").astype(np.float32)
    if max_seconds is not None:
        data = data[: int(round(max_seconds * sample_rate_hz))]
    if float(np.max(np.abs(data))) < SILENCE_PEAK:
        raise AudioError(f"{source}: audio is silent (peak below -100 dBFS); remove the file or replace it")
    return np.ascontiguousarray(data)


def _short(err: Exception) -> str:
    return str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
