"""Decoding cached codes back to audio (tiny random codecs of the real classes) and the bitrate of every codec."""

from __future__ import annotations

import numpy as np
import pytest

from codec_bench.codecs import CODECS
from codec_bench.testing.tiny_models import (
    TINY_CODEC_FAMILIES,
    TINY_CODEC_SR,
    random_xcodec2,
    small_xcodec2_config,
    tiny_codec_model,
)

OPTIONS = {"encodec": {}, "dac": {"num_quantizers": 2}, "mimi": {"num_quantizers": 2}, "xcodec": {"bandwidth": 0.8}}
BITRATES = {"encodec": 100 * 1 * 4, "dac": 100 * 2 * 4, "mimi": 50 * 2 * 4, "xcodec": 100 * 2 * 4}  # frames/s x books x bits


def _waves(lengths: list[int]) -> list[np.ndarray]:
    return [(0.3 * np.random.default_rng(i).standard_normal(n)).astype(np.float32) for i, n in enumerate(lengths)]


@pytest.mark.parametrize("family", TINY_CODEC_FAMILIES)
def test_transformers_codecs_decode_each_clip_as_alone(family):
    codec = CODECS[family](model=tiny_codec_model(family), **OPTIONS[family])
    assert codec.can_decode and codec.bitrate_bps == BITRATES[family]
    codes = codec.encode(_waves([800, 1200, 800]))  # two lengths: one decoder call per length
    decoded = codec.decode(codes)
    assert [w.shape for w in decoded] == [(800,), (1200,), (800,)] and all(w.dtype == np.float32 for w in decoded)
    assert np.all(np.isfinite(np.concatenate(decoded)))
    alone = codec.decode([codes[1]])[0]
    np.testing.assert_allclose(decoded[1], alone, rtol=1e-5, atol=1e-6)
    assert codec.sample_rate_hz == TINY_CODEC_SR


def test_xcodec2_decodes_320_samples_per_frame():
    codec = CODECS["xcodec2"](model=random_xcodec2(small_xcodec2_config(hidden=64, semantic=32, kernel=5)))
    assert codec.can_decode and codec.bitrate_bps == 50 * 16  # 50 frames/s x log2(65,536)
    codes = codec.encode(_waves([16_000, 8_000]))
    decoded = codec.decode(codes)
    assert [w.size for w in decoded] == [c.shape[1] * 320 for c in codes]
    assert [w.size for w in decoded] >= [16_000, 8_000]


def test_codecs_without_a_decoder_say_why_in_one_line():
    for codec in (CODECS["embedded"](), CODECS["logmel"]()):
        assert not codec.can_decode and "\n" not in codec.decode_note
        with pytest.raises(NotImplementedError, match=codec.decode_note):
            codec.decode([np.zeros((1, 5), np.int64)])
    assert CODECS["embedded"](codebook_size=256, num_codebooks=2).bitrate_bps == 50 * 2 * 8
    assert CODECS["logmel"]().bitrate_bps is None  # continuous frames
