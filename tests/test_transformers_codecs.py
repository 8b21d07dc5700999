"""EnCodec / DAC / Mimi codecs on tiny random models saved to a folder and loaded back by path (CPU, offline)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from codec_bench.codecs import CODECS, make_codec
from codec_bench.codecs.transformers_codecs import TransformersCodec
from codec_bench.errors import CodecBenchError
from codec_bench.prompts import speech_string

SR = 800  # tiny models run at 800 Hz; hop 8 (EnCodec, DAC) or 16 (Mimi)


def _tiny_model(family: str) -> torch.nn.Module:
    from transformers import DacConfig, DacModel, EncodecConfig, EncodecModel, MimiConfig, MimiModel

    torch.manual_seed(0)
    if family == "encodec":  # 100 frames/s x 4 bits = 0.4 kbps per codebook: 0.4 -> 1 codebook, 0.8 -> 2
        model = EncodecModel(EncodecConfig(
            num_filters=4, hidden_size=8, upsampling_ratios=[4, 2], codebook_size=16, num_lstm_layers=1,
            target_bandwidths=[0.4, 0.8], sampling_rate=SR, kernel_size=3, last_kernel_size=3))
    elif family == "dac":
        model = DacModel(DacConfig(encoder_hidden_size=4, downsampling_ratios=[2, 4], decoder_hidden_size=8,
                                   n_codebooks=3, codebook_size=16, codebook_dim=4, sampling_rate=SR))
    else:
        model = MimiModel(MimiConfig(
            hidden_size=16, num_filters=4, upsampling_ratios=[4, 2], codebook_size=16, codebook_dim=8,
            num_quantizers=4, vector_quantization_hidden_dimension=8, num_semantic_quantizers=1, upsample_groups=16,
            num_hidden_layers=1, intermediate_size=16, num_attention_heads=2, num_key_value_heads=2,
            sampling_rate=SR, sliding_window=50, max_position_embeddings=200, kernel_size=3, last_kernel_size=3))
    with torch.no_grad():  # EnCodec/Mimi codebooks start as zeros (every code 0): make them random
        for name, buffer in model.named_buffers():
            if name.endswith((".embed", ".embed_sum")):
                buffer.normal_(std=0.05)
            elif name.endswith(".cluster_usage"):
                buffer.fill_(1.0)
        if family == "encodec":  # its encoder output barely varies over time: seed codebook 0 with real frames
            frames = model.encoder(0.3 * torch.randn(1, 1, 16 * 8, generator=torch.Generator().manual_seed(1)))
            model.quantizer.layers[0].codebook.embed.copy_(frames[0].T)
    return model


@pytest.fixture(scope="module", params=["encodec", "dac", "mimi"])
def saved(request, tmp_path_factory):
    path = tmp_path_factory.mktemp(request.param) / "model"
    _tiny_model(request.param).save_pretrained(path)
    return request.param, str(path)


def _clips():
    rng = np.random.default_rng(0)
    return [(0.3 * rng.standard_normal(n)).astype(np.float32) for n in (400, 333, 400, 333, 257)]


def test_codes_shape_range_batch_and_speech_string(saved):
    family, path = saved
    codec = make_codec(family, model_id=path, device="cpu", offline=True)
    assert isinstance(codec, TransformersCodec) and codec.sample_rate_hz == SR and codec.codebook_size == 16
    clips = _clips()
    batch = codec.encode(clips)
    hop = codec.hop_length
    for wave, codes in zip(clips, batch):
        assert codes.dtype == np.int64 and codes.ndim == 2
        assert codes.shape == (codec.num_codebooks, -(-wave.size // hop))
        assert 0 <= codes.min() and codes.max() < codec.codebook_size
        np.testing.assert_array_equal(codes, codec.encode([wave])[0])  # batch == alone
        tokens = speech_string(codes, codec.codebook_size).count("<|s_")
        assert tokens == codec.num_codebooks * codes.shape[1]
    assert len({int(c) for codes in batch for c in codes.ravel()}) > 1  # random codebooks: not all one code
    assert codec.frame_rate_hz == pytest.approx(SR / hop)


def test_num_codebooks_option_changes_identity(saved):
    family, path = saved
    if family == "encodec":
        low, high = (make_codec(family, model_id=path, device="cpu", bandwidth=b) for b in (0.4, 0.8))
        assert (low.num_codebooks, high.num_codebooks) == (1, 2)
        with pytest.raises(CodecBenchError, match="bandwidth"):
            make_codec(family, model_id=path, device="cpu", bandwidth=3.0)
    else:
        low, high = (make_codec(family, model_id=path, device="cpu", num_quantizers=q) for q in (2, 3))
        assert (low.num_codebooks, high.num_codebooks) == (2, 3)
        with pytest.raises(CodecBenchError, match="num_quantizers"):
            make_codec(family, model_id=path, device="cpu", num_quantizers=99)
    assert low.identity() != high.identity() and low.cache_key() != high.cache_key()
    assert low.identity()["model"] == path and low.identity()["dtype"] == "float32"
    wave = _clips()[0]
    few, many = low.encode([wave])[0], high.encode([wave])[0]
    np.testing.assert_array_equal(few, many[: low.num_codebooks])  # residual VQ: a prefix of the codebooks


def test_registered_with_default_ids():
    assert {"encodec", "dac", "mimi"} <= set(CODECS)
    from codec_bench.codecs.transformers_codecs import FAMILIES
    assert FAMILIES["encodec"]["model_id"] == "facebook/encodec_24khz"
    assert FAMILIES["dac"]["model_id"] == "descript/dac_16khz"
    assert FAMILIES["mimi"]["model_id"] == "kyutai/mimi"


def test_missing_model_offline_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(CodecBenchError, match="local copy"):
        make_codec("dac", model_id="nobody/no-such-codec", device="cpu", offline=True)
