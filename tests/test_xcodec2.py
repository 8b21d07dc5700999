"""XCodec2 codec on a tiny random-weight ``Xcodec2Config`` saved and loaded through ``from_pretrained`` (CPU, offline)."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
import torch
from transformers import SeamlessM4TFeatureExtractor, Xcodec2Model

from codec_bench.codecs import make_codec
from codec_bench.codecs.xcodec2 import Xcodec2Codec, collate, semantic_features
from codec_bench.core.errors import CodecBenchError
from codec_bench.testing.tiny_models import random_xcodec2, small_xcodec2_config

SR = 16_000


def tiny_model(seed: int = 0) -> Xcodec2Model:
    """Real frame rate and FSQ levels, every width and depth shrunk, fan-in scaled random weights."""
    return random_xcodec2(small_xcodec2_config(hidden=64, semantic=32, kernel=5), seed=seed)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("xcodec2-tiny")
    tiny_model().save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def codec(model_dir) -> Xcodec2Codec:
    return Xcodec2Codec(model_id=model_dir, device="cpu")


def waves(*seconds: float, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(0.1 * rng.standard_normal(int(round(s * SR)))).astype(np.float32) for s in seconds]


def test_codes_shape_dtype_range(codec):
    one, short = codec.encode(waves(1.0, 0.7))
    assert one.shape == (1, 50) and short.shape == (1, 35)
    assert one.dtype == np.int64
    assert codec.codebook_size == 65_536 and codec.frame_rate_hz == 50.0
    assert 0 <= one.min() and one.max() < codec.codebook_size
    assert len(np.unique(one)) > 10  # the tiny model is not degenerate


def test_loaded_model_equals_saved_one(codec):
    in_memory = Xcodec2Codec(model_id="tiny", device="cpu", model=tiny_model())
    clip = waves(0.9)
    np.testing.assert_array_equal(codec.encode(clip)[0], in_memory.encode(clip)[0])


def test_batch_equals_alone(codec):
    clips = waves(1.0, 0.7, 0.5, 1.0, 0.771, 0.02, 0.0)
    alone = [codec.encode([clip])[0] for clip in clips]
    batched = codec.encode_preprocessed([codec.preprocess(clip) for clip in clips])
    assert [codes.shape[1] for codes in batched] == [50, 35, 25, 50, 38, 1, 0]
    for one, many in zip(alone, batched):
        np.testing.assert_array_equal(one, many)


def test_plain_padding_changes_tail_codes(codec):
    """Why the codec buckets by length: one padded call over mixed lengths changes a shorter clip's last codes."""
    clips = waves(1.0, 0.7)
    chunks = [codec.preprocess(clip)["chunks"][0] for clip in clips]
    with torch.inference_mode():
        padded = codec.model.encode(**collate(chunks)).audio_codes[:, 0].numpy()
    short_alone = codec.encode([clips[1]])[0][0]
    assert not np.array_equal(padded[1, :35], short_alone)


def test_features_match_seamless_reference():
    """Xcodec2FeatureExtractor = Kaldi fbank of the hop-padded clip padded by 160 per side, per-bin normalised, pairs
    stacked; SeamlessM4TFeatureExtractor computes the same with numpy."""
    clip = waves(0.7)[0]
    padded = np.zeros(11_520, np.float32)  # 11,201 samples (clip + 1 zero) rounded up to a multiple of 320
    padded[: clip.size] = clip
    reference = SeamlessM4TFeatureExtractor(padding_value=1.0)(
        np.pad(padded, 160), sampling_rate=SR, return_tensors="np", pad_to_multiple_of=2)["input_features"][0]
    ours = semantic_features(padded, 320)
    assert ours.shape == reference.shape == (36, 160) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, reference, atol=2e-3)
    np.testing.assert_allclose(ours.reshape(-1, 80).mean(0), 0.0, atol=1e-5)  # normalised over the clip


def test_identity_and_cache_key(codec):
    model = codec.model
    same = Xcodec2Codec(model_id=codec.model_id, device="cpu", model=model)
    assert same.cache_key() == codec.cache_key()
    keys = {codec.cache_key(), Xcodec2Codec(model_id=codec.model_id, device="cpu", model=model, dtype="bfloat16").cache_key(),
            Xcodec2Codec(model_id=codec.model_id, device="cpu", model=model, dtype="tf32").cache_key(),
            Xcodec2Codec(model_id=codec.model_id, device="cpu", model=model, max_seconds=10).cache_key(),
            Xcodec2Codec(model_id=codec.model_id, device="cpu", model=model, long_clips="chunk").cache_key()}
    assert len(keys) == 5
    assert (
        codec.identity()["config_sha"]
        == Xcodec2Codec(model_id="other", device="cpu", model=tiny_model()).identity()["config_sha"]
    )


def test_bfloat16_runs(codec):
    bf16 = Xcodec2Codec(model_id=codec.model_id, device="cpu", model=codec.model, dtype="bfloat16")
    codes = bf16.encode(waves(0.5))[0]
    assert codes.shape == (1, 25) and codes.dtype == np.int64


def test_long_clips_truncate_and_chunk(codec):
    clip = waves(1.2)[0]
    truncate = Xcodec2Codec(model_id=codec.model_id, device="cpu", model=codec.model, max_seconds=0.5)
    np.testing.assert_array_equal(truncate.encode([clip])[0], codec.encode([clip[:8000]])[0])
    chunk = make_codec("xcodec2", model_id=codec.model_id, device="cpu", model=codec.model, max_seconds=0.5,
                       long_clips="chunk")
    pieces = [codec.encode([clip[start: start + 8000]])[0] for start in (0, 8000, 16000)]
    codes = chunk.encode([clip, clip[:4000]])
    np.testing.assert_array_equal(codes[0], np.concatenate(pieces, axis=1))
    assert codes[0].shape == (1, 25 + 25 + 10)
    np.testing.assert_array_equal(codes[1], codec.encode([clip[:4000]])[0])


def test_unreachable_hub_id_offline():
    with pytest.raises(CodecBenchError) as err:
        Xcodec2Codec(model_id="nobody-here/no-such-xcodec2", device="cpu", offline=True)
    message = str(err.value)
    assert "no-such-xcodec2" in message and "--codec-model /path/to/xcodec2" in message and "\n" not in message
