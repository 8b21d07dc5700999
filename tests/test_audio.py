"""audio.load_audio: mono 16 kHz out, one-line errors for bad files."""

import numpy as np
import pytest
import soundfile as sf
from conftest import write_wave

from codec_bench.core.errors import AudioError
from codec_bench.data.audio import load_audio


def test_stereo_44k_is_downmixed_and_resampled(tmp_path):
    path = write_wave(tmp_path / "a.wav", seconds=0.5, rate=44_100, channels=2)
    wave = load_audio(path)
    assert wave.ndim == 1 and wave.dtype == np.float32
    assert abs(len(wave) - 8000) <= 1


def test_48k_flac_and_truncation(tmp_path):
    path = write_wave(tmp_path / "a.flac", seconds=1.0, rate=48_000)
    assert len(load_audio(path, max_seconds=0.25)) == 4000


@pytest.mark.parametrize("problem, expected", [
    ("missing", "not found"), ("garbage", "cannot decode"), ("empty", "empty"), ("nan", "NaN"), ("silent", "silent"),
])
def test_bad_audio_names_file_and_fix(tmp_path, problem, expected):
    path = tmp_path / f"{problem}.wav"
    if problem == "garbage":
        path.write_bytes(b"not audio at all")
    elif problem == "empty":
        sf.write(path, np.zeros(0, dtype=np.float32), 16_000)
    elif problem == "nan":
        sf.write(path, np.full(1600, np.nan, dtype=np.float32), 16_000, subtype="FLOAT")
    elif problem == "silent":
        sf.write(path, np.zeros(1600, dtype=np.float32), 16_000)
    with pytest.raises(AudioError) as err:
        load_audio(path)
    message = str(err.value)
    assert expected in message and str(path) in message and "\n" not in message
