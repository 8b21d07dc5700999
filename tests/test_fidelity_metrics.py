"""Fidelity metrics on signals with known answers: identical audio, a known gain, white noise at a known SNR; and
their bootstrap summary."""

from __future__ import annotations

import math

import numpy as np
import pytest

from codec_bench.evaluation import fidelity

RATE = 16_000


def _noise(seconds: float = 1.0, rate: int = RATE, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * rate))).astype(np.float32)


def _at_snr(clean: np.ndarray, snr_db: float, seed: int = 1) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(clean.size)
    noise *= math.sqrt(np.mean(clean.astype(float) ** 2) / np.mean(noise ** 2) / 10 ** (snr_db / 10))
    return (clean + noise).astype(np.float32)


def _speech_like(seconds: float = 3.0, rate: int = RATE) -> np.ndarray:
    """A voiced harmonic tone (gliding f0 around 120 Hz) in syllable-rate bursts with pauses: what PESQ and STOI
    take for speech."""
    t = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * np.cumsum(120 + 20 * np.sin(2 * np.pi * 0.5 * t)) / rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 20))
    envelope = np.clip(np.sin(2 * np.pi * 3 * t), 0, None) * (np.sin(2 * np.pi * 0.4 * t) > -0.3)
    return (0.3 * voiced * envelope).astype(np.float32)


@pytest.mark.parametrize("rate", [800, RATE])
def test_identical_audio_is_perfect(rate):
    wave = _noise(rate=rate)
    scores = fidelity.score_clip(wave, wave, rate, ["si_sdr", "stft_distance", "mel_distance"])
    assert scores["si_sdr"] > 60
    assert scores["stft_distance"] == pytest.approx(0, abs=1e-9) and scores["mel_distance"] == pytest.approx(0, abs=1e-9)


@pytest.mark.parametrize("gain", [0.5, 2.0])
def test_a_gain_leaves_si_sdr_and_moves_distances_by_known_amounts(gain):
    wave = _noise()
    scores = fidelity.score_clip(wave, gain * wave, RATE, ["si_sdr", "stft_distance", "mel_distance"])
    assert scores["si_sdr"] > 60  # scale-invariant
    assert scores["stft_distance"] == pytest.approx(abs(1 - gain) + abs(math.log(gain)), rel=1e-4)
    assert scores["mel_distance"] == pytest.approx(abs(math.log(gain)), rel=1e-4)


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
def test_si_sdr_of_added_white_noise_is_its_snr(snr_db):
    clean = _noise(2.0)
    assert fidelity.si_sdr(clean, _at_snr(clean, snr_db)) == pytest.approx(snr_db, abs=0.3)


def test_distances_grow_as_the_noise_grows():
    clean = _speech_like(1.0)
    scores = [fidelity.score_clip(clean, _at_snr(clean, snr), RATE, ["stft_distance", "mel_distance"]) for snr in (30, 10, 0)]
    for name in ("stft_distance", "mel_distance"):
        assert 0 < scores[0][name] < scores[1][name] < scores[2][name]


def test_a_decoder_longer_by_padding_is_cut_to_the_input():
    wave = _noise()
    padded = np.concatenate([wave, np.zeros(160, np.float32)])
    assert fidelity.score_clip(wave, padded, RATE, ["si_sdr"])["si_sdr"] > 60


@pytest.mark.skipif(not (fidelity.available("pystoi") and fidelity.available("pesq")), reason="the fidelity extra")
def test_speech_metrics_known_answers():
    clean = _speech_like()
    same = fidelity.score_clip(clean, clean, RATE, ["stoi", "pesq_wb"])
    assert same["stoi"] == pytest.approx(1.0, abs=1e-6) and same["pesq_wb"] == pytest.approx(4.64, abs=0.01)
    louder = fidelity.score_clip(clean, 0.5 * clean, RATE, ["stoi", "pesq_wb"])
    assert louder["stoi"] == pytest.approx(1.0, abs=1e-6) and louder["pesq_wb"] == pytest.approx(4.64, abs=0.01)  # level-aligned
    noisy = [fidelity.score_clip(clean, _at_snr(clean, snr), RATE, ["stoi", "pesq_wb"]) for snr in (20, 0)]
    assert 1.0 > noisy[0]["stoi"] > noisy[1]["stoi"] and 4.0 > noisy[0]["pesq_wb"] >= noisy[1]["pesq_wb"]
    eight_khz = fidelity.score_clip(clean[::2], clean[::2], RATE // 2, ["pesq_wb"])  # resampled to 16 kHz first
    assert eight_khz["pesq_wb"] == pytest.approx(4.64, abs=0.05)


def test_speech_metrics_only_for_speech():
    assert fidelity.metrics_for(speech=False) == ["si_sdr", "stft_distance", "mel_distance"]
    assert set(fidelity.metrics_for(speech=True)) <= set(fidelity.METRICS)


def test_summary_mean_and_seeded_interval():
    values = {"si_sdr": [10.0, 12.0, 14.0, float("nan")], "stoi": [float("nan")]}
    summary = fidelity.summarise(values, "instruments")
    assert summary["si_sdr"]["mean"] == pytest.approx(12.0) and summary["si_sdr"]["n"] == 3
    assert 10.0 <= summary["si_sdr"]["low"] <= 12.0 <= summary["si_sdr"]["high"] <= 14.0
    assert summary == fidelity.summarise(values, "instruments")  # seeded
    assert summary["stoi"]["n"] == 0 and math.isnan(summary["stoi"]["mean"])
    many = fidelity.summarise({"x": list(np.random.default_rng(0).normal(5, 1, 400))}, "d")["x"]
    assert many["high"] - many["low"] == pytest.approx(2 * 1.96 / 20, rel=0.2)  # ~ the normal interval of a mean
