"""Reconstruction fidelity: how close a codec's decoded audio is to its input, as pure functions over arrays.

Every metric takes ``reference, estimate: (samples,) float`` at one sample rate and returns a float:

- :func:`si_sdr` (dB, higher is better): scale-invariant signal-to-distortion ratio (Le Roux et al. 2019): both
  signals made zero-mean, the estimate projected on the reference; a gain does not change it, added white noise at
  SNR ``s`` dB gives about ``s``.
- :func:`stft_distance` (lower is better, 0 for identical audio): the multi-resolution STFT distance of Parallel
  WaveGAN and auraloss, spectral convergence plus mean absolute log-magnitude difference, averaged over three
  resolutions (windows of about 32, 64 and 128 ms, a power of two in samples, hop a quarter of it). A gain ``g``
  gives ``|1 - g| + |ln g|`` (where no bin is below the floor, 1e-5).
- :func:`mel_distance` (lower is better, 0 for identical audio): mean absolute difference of the natural-log mel
  magnitude spectrograms (a 64-ms window, ``min(80, n_fft // 4)`` HTK mel bands, floored at 1e-5, as DAC's mel
  loss); a gain ``g`` gives ``|ln g|``.
- :func:`stoi` (0..1, higher is better): short-time objective intelligibility, ``pystoi`` (speech only).
- :func:`pesq_wb` (about 1..4.64, higher is better): wide-band PESQ (ITU-T P.862.2), ``pesq``, on the signals
  resampled to 16 kHz (speech only); a clip it cannot score (no utterance found) is NaN, never a made-up value.

``pystoi`` and ``pesq`` are the optional extra ``fidelity`` (``pip install codec-bench[fidelity]``); without them
the speech metrics are left out and the report says so. :func:`score_clip` applies every metric that fits a clip
and :func:`summarise` gives each metric's mean over clips with its 95 % bootstrap interval (seeded)::

    summarise({"si_sdr": [10.0, 12.0, 14.0]}, "esc50-fold1")["si_sdr"]  # {"mean": 12.0, "low": ..., "high": ..., "n": 3}
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from ..codecs.features import mel_filterbank
from .statistics import LEVEL, RESAMPLES, SEED, interval

EPS = 1e-8
FLOOR = 1e-5  # magnitudes below this (-100 dB) count as this in the log terms, as DAC's mel loss: silence in both is 0
WINDOWS_MS = (32, 64, 128)  # the multi-resolution STFT's windows (512, 1024, 2048 samples at 16 kHz)
MEL_WINDOW_MS = 64
PESQ_RATE_HZ = 16_000


def _zero_mean(wave: np.ndarray) -> np.ndarray:
    wave = np.asarray(wave, dtype=np.float64).reshape(-1)
    return wave - wave.mean()


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Scale-invariant SDR in dB: ``10 log10(|a r|^2 / |e - a r|^2)`` with ``a = <e, r> / <r, r>`` (zero-mean
    signals). Identical audio gives about 10 log10(energy / 1e-8): very high, finite."""
    reference, estimate = _zero_mean(reference), _zero_mean(estimate)
    scale = (estimate @ reference) / (reference @ reference + EPS)
    target = scale * reference
    noise = estimate - target
    return float(10 * np.log10((target @ target + EPS) / (noise @ noise + EPS)))


def window_samples(sample_rate_hz: int, milliseconds: float) -> int:
    """The power of two in samples nearest to ``milliseconds`` at ``sample_rate_hz`` (at least 16)."""
    return max(16, 2 ** round(math.log2(milliseconds * sample_rate_hz / 1000)))


def _magnitudes(wave: np.ndarray, n_fft: int):
    """``(frames, n_fft // 2 + 1)`` STFT magnitudes (Hann window, hop ``n_fft // 4``, centred, zero-padded)."""
    import torch

    wave = torch.as_tensor(np.asarray(wave, dtype=np.float32).reshape(-1))
    if wave.numel() < n_fft:
        wave = torch.nn.functional.pad(wave, (0, n_fft - wave.numel()))
    spec = torch.stft(wave, n_fft, hop_length=n_fft // 4, window=torch.hann_window(n_fft), center=True,
                      pad_mode="constant", return_complex=True)
    return spec.abs().T.double()


def stft_distance(reference: np.ndarray, estimate: np.ndarray, sample_rate_hz: int) -> float:
    """Multi-resolution STFT distance: the mean over ``WINDOWS_MS`` of spectral convergence ``||R| - |E||_F / ||R||_F``
    plus the mean ``|ln |R| - ln |E||`` (magnitudes floored at ``FLOOR``)."""
    total = 0.0
    for milliseconds in WINDOWS_MS:
        n_fft = window_samples(sample_rate_hz, milliseconds)
        ref, est = _magnitudes(reference, n_fft), _magnitudes(estimate, n_fft)
        convergence = (ref - est).norm() / (ref.norm() + EPS)
        log_difference = (ref.clamp(min=FLOOR).log() - est.clamp(min=FLOOR).log()).abs().mean()
        total += float(convergence + log_difference)
    return total / len(WINDOWS_MS)


def mel_distance(reference: np.ndarray, estimate: np.ndarray, sample_rate_hz: int) -> float:
    """Mean ``|ln mel(|R|) - ln mel(|E|)|`` over frames and mel bands (mel magnitudes floored at ``FLOOR``)."""
    n_fft = window_samples(sample_rate_hz, MEL_WINDOW_MS)
    banks = mel_filterbank(sample_rate_hz, n_fft, min(80, n_fft // 4)).double()
    ref, est = ((_magnitudes(w, n_fft) @ banks).clamp(min=FLOOR).log() for w in (reference, estimate))
    return float((ref - est).abs().mean())


def stoi(reference: np.ndarray, estimate: np.ndarray, sample_rate_hz: int) -> float:
    """STOI (``pystoi.stoi``, which resamples to 10 kHz itself)."""
    from pystoi import stoi as pystoi_stoi

    return float(pystoi_stoi(np.asarray(reference, np.float64), np.asarray(estimate, np.float64), sample_rate_hz))


def pesq_wb(reference: np.ndarray, estimate: np.ndarray, sample_rate_hz: int) -> float:
    """Wide-band PESQ MOS-LQO on the signals resampled to 16 kHz (``soxr``); NaN when ``pesq`` finds no utterance."""
    import soxr
    from pesq import PesqError, pesq

    if sample_rate_hz != PESQ_RATE_HZ:
        reference, estimate = (soxr.resample(np.asarray(w, np.float64), sample_rate_hz, PESQ_RATE_HZ)
                               for w in (reference, estimate))
    value = pesq(PESQ_RATE_HZ, np.asarray(reference, np.float64), np.asarray(estimate, np.float64), "wb",
                 on_error=PesqError.RETURN_VALUES)
    return float(value) if value >= 0 else math.nan  # negative: one of pesq's error codes


@dataclass(frozen=True)
class Metric:
    """A fidelity metric: its function ``(reference, estimate, sample_rate_hz) -> float``, its name in tables, whether
    lower is better, whether it is meant for speech only and the package it needs (None: torch only)."""

    function: Callable[[np.ndarray, np.ndarray, int], float]
    title: str
    lower_is_better: bool = False
    speech_only: bool = False
    package: str | None = None


METRICS: dict[str, Metric] = {
    "si_sdr": Metric(lambda r, e, sr: si_sdr(r, e), "SI-SDR (dB)"),
    "stft_distance": Metric(stft_distance, "MR-STFT distance", lower_is_better=True),
    "mel_distance": Metric(mel_distance, "mel distance", lower_is_better=True),
    "stoi": Metric(stoi, "STOI", speech_only=True, package="pystoi"),
    "pesq_wb": Metric(pesq_wb, "PESQ-WB", speech_only=True, package="pesq"),
}


def available(package: str | None) -> bool:
    """Whether ``package`` imports (None: always)."""
    if package is None:
        return True
    import importlib.util

    return importlib.util.find_spec(package) is not None


def metrics_for(speech: bool) -> list[str]:
    """The metrics a dataset gets: the speech ones only on speech, and only when their package is installed."""
    return [name for name, m in METRICS.items() if (speech or not m.speech_only) and available(m.package)]


def score_clip(reference: np.ndarray, estimate: np.ndarray, sample_rate_hz: int, names: Sequence[str]) -> dict[str, float]:
    """Metrics ``names`` of one clip; both signals cut to the shorter one (a decoder pads to whole frames)."""
    length = min(np.asarray(reference).size, np.asarray(estimate).size)
    reference = np.asarray(reference, np.float32).reshape(-1)[:length]
    estimate = np.asarray(estimate, np.float32).reshape(-1)[:length]
    return {name: METRICS[name].function(reference, estimate, sample_rate_hz) for name in names}


def summarise(values: Mapping[str, Sequence[float]], name: str, resamples: int = RESAMPLES,
              level: float = LEVEL) -> dict[str, dict]:
    """Per metric: ``{"mean", "low", "high", "n"}``, the mean over clips (NaN clips left out, ``n`` counts the rest)
    and its percentile bootstrap interval (``resamples`` draws of the clips with replacement, seeded by ``SEED`` and
    ``name``, e.g. the dataset fold, so a report is reproducible). No clip: mean NaN, n 0."""
    out = {}
    for metric, raw in values.items():
        clean = np.asarray([v for v in raw if v is not None and not math.isnan(v)], dtype=float)
        if not clean.size:
            out[metric] = {"mean": math.nan, "low": math.nan, "high": math.nan, "n": 0}
            continue
        generator = np.random.default_rng([SEED, zlib.crc32(f"{name}/{metric}".encode())])
        draws = generator.integers(0, clean.size, size=(resamples, clean.size))
        low, high = interval(clean[draws].mean(1), level)
        out[metric] = {"mean": float(clean.mean()), "low": low, "high": high, "n": int(clean.size)}
    return out
