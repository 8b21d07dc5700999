"""EnCodec / DAC / Mimi / X-Codec codecs on tiny random models saved to a folder and loaded back by path (CPU,
offline)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from codec_bench.codecs import CODECS, make_codec
from codec_bench.codecs.rvq import ResidualVQCodec
from codec_bench.codecs.xcodec import XcodecCodec
from codec_bench.core.errors import CodecBenchError
from codec_bench.prompts import speech_string
from codec_bench.testing.tiny_models import TINY_CODEC_SR, tiny_codec_model

SR = TINY_CODEC_SR  # tiny models run at 800 Hz; hop 8 (EnCodec, DAC, X-Codec) or 16 (Mimi)
_tiny_model = tiny_codec_model  # built in codec_bench.testing.tiny_models, shared with `codec-bench tiny-models`


@pytest.fixture(scope="module", params=["encodec", "dac", "mimi", "xcodec"])
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
    assert isinstance(codec, ResidualVQCodec) and codec.sample_rate_hz == SR and codec.codebook_size == 16
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
    if family in ("encodec", "xcodec"):
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
    defaults = {name: CODECS[name].default_model_id for name in ("encodec", "dac", "mimi", "xcodec")}
    assert defaults == {"encodec": "facebook/encodec_24khz", "dac": "descript/dac_16khz", "mimi": "kyutai/mimi",
                        "xcodec": "hf-audio/xcodec-hubert-librispeech"}  # the checkpoints the docs name


def test_missing_model_offline_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(CodecBenchError, match="local copy"):
        make_codec("dac", model_id="nobody/no-such-codec", device="cpu", offline=True)


# ----- X-Codec specifics -----

@pytest.fixture(scope="module")
def xcodec_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("xcodec-only") / "model"
    _tiny_model("xcodec").save_pretrained(path)
    return str(path)


def test_xcodec_bandwidth_picks_codebooks(xcodec_path):
    codecs = {b: make_codec("xcodec", model_id=xcodec_path, device="cpu", **({} if b is None else {"bandwidth": b}))
              for b in (None, 0.4, 0.8, 1.6)}
    assert {b: c.num_codebooks for b, c in codecs.items()} == {None: 1, 0.4: 1, 0.8: 2, 1.6: 4}
    assert codecs[None].bandwidth == 0.4 and codecs[None].identity() == codecs[0.4].identity()  # default: smallest
    assert codecs[1.6].num_quantizers is None and codecs[1.6].identity()["bandwidth"] == 1.6
    assert len({c.cache_key() for c in codecs.values()}) == 3
    wave = _clips()[0]
    codes = codecs[1.6].encode([wave])[0]
    assert codes.shape == (4, 50)
    for b in (0.4, 0.8):  # residual VQ: a lower bandwidth is a prefix of the codebooks
        np.testing.assert_array_equal(codecs[b].encode([wave])[0], codes[: codecs[b].num_codebooks])


@pytest.mark.parametrize("options, match", [
    ({"bandwidth": 1.2}, r"xcodec bandwidth 1\.2 is not one of \[0\.4, 0\.8, 1\.6\]"),
    ({"bandwidth": 0.0}, "is not one of"),
    ({"num_quantizers": 2}, "codec xcodec has no option 'num_quantizers'; its options: model_id, bandwidth"),
])
def test_xcodec_bad_options_are_one_line_errors(xcodec_path, options, match):
    with pytest.raises(CodecBenchError, match=match) as err:
        make_codec("xcodec", model_id=xcodec_path, device="cpu", **options)
    assert "\n" not in str(err.value)


def test_xcodec_batch_equals_one_at_a_time_and_frames(xcodec_path):
    codec = make_codec("xcodec", model_id=xcodec_path, device="cpu", bandwidth=1.6)
    assert (codec.hop_length, codec.frame_rate_hz, codec.sample_rate_hz, codec.codebook_size) == (8, 100.0, SR, 16)
    rng = np.random.default_rng(3)
    lengths = (400, 400, 401, 392, 8, 400, 1)  # 401 is padded to 408 (51 frames), 1 to 8 (1 frame)
    clips = [(0.3 * rng.standard_normal(n)).astype(np.float32) for n in lengths]
    assert [codec.preprocess(c).size for c in clips] == [400, 400, 408, 392, 8, 400, 8]
    batch = codec.encode(clips)
    assert [c.shape for c in batch] == [(4, 50), (4, 50), (4, 51), (4, 49), (4, 1), (4, 50), (4, 1)]
    for wave, codes in zip(clips, batch):
        assert codes.dtype == np.int64 and 0 <= codes.min() and codes.max() < 16
        assert codes.shape[1] == int(np.ceil(wave.size / SR * codec.frame_rate_hz))  # frames follow 100 frames/s
        np.testing.assert_array_equal(codes, codec.encode([wave])[0])
    # three equal-length clips ran as one model call: still each equals its codes alone, and differ from each other
    assert not np.array_equal(batch[0], batch[1])
    assert all(len(np.unique(codes[k])) > 1 for codes in batch[:4] for k in range(4))  # codes vary over time
    # zero padding to the hop is what the clip gets alone too: a clip and its padded copy give the same codes
    np.testing.assert_array_equal(codec.encode([clips[2]])[0], codec.encode([np.pad(clips[2], (0, 7))])[0])


def test_xcodec_codes_match_transformers_encode(xcodec_path):
    """The codec's codes are ``XcodecModel.encode`` on the hop-padded clip (as its DacFeatureExtractor pads it)."""
    from transformers import DacFeatureExtractor

    codec = make_codec("xcodec", model_id=xcodec_path, device="cpu", bandwidth=0.8)
    wave = _clips()[1]  # 333 samples
    features = DacFeatureExtractor(sampling_rate=SR, hop_length=8)(wave, sampling_rate=SR, return_tensors="pt")
    assert features["input_values"].shape == (1, 1, 336)
    with torch.no_grad():
        expected = codec.model.encode(features["input_values"], bandwidth=0.8).audio_codes[0].numpy()
    np.testing.assert_array_equal(codec.encode([wave])[0], expected)
    assert expected.shape == (2, 42)


def test_xcodec_identity_ignores_where_the_model_lives(xcodec_path, tmp_path):
    """Sub-configs' bookkeeping keys (dtype, _name_or_path) stay out of config_sha; the semantic attention is in."""
    model = _tiny_model("xcodec")
    model.save_pretrained(tmp_path / "copy")
    loaded, copy = (make_codec("xcodec", model_id=p, device="cpu") for p in (xcodec_path, str(tmp_path / "copy")))
    built = XcodecCodec(model=model, device="cpu")
    assert loaded.identity()["config_sha"] == copy.identity()["config_sha"] == built.identity()["config_sha"]
    assert loaded.identity()["attn_implementation"] == "sdpa"
    assert loaded.identity() | {"model": "x"} == copy.identity() | {"model": "x"}
