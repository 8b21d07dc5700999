"""Token cache: written once, resumable at shard level, keyed by codec identity, skips recorded."""

import numpy as np
import pytest
from conftest import write_wave

from codec_bench.codecs.base import TokenCodec
from codec_bench.codecs.cache import TokenCache
from codec_bench.core import io
from codec_bench.core.errors import CodecBenchError
from codec_bench.data.manifest import Clip


class CountingCodec(TokenCodec):
    """Deterministic toy codec: one code per 20 ms, the frame's peak quantized to 8 levels; counts its clips."""

    name = "counting"

    def __init__(self, levels: int = 8, fail_after: int | None = None):
        self.sample_rate_hz, self.frame_rate_hz, self.num_codebooks, self.codebook_size = 16_000, 50.0, 1, levels
        self.encoded, self.fail_after = 0, fail_after

    def encode_preprocessed(self, items):
        if self.fail_after is not None and self.encoded >= self.fail_after:
            raise KeyboardInterrupt("killed")
        self.encoded += len(items)
        return [np.minimum(np.abs(w[: len(w) // 320 * 320]).reshape(-1, 320).max(1) * self.codebook_size, self.codebook_size - 1)
                .astype(np.int64)[None] for w in items]

    def identity(self):
        return {"codec": "counting", "levels": self.codebook_size}


def clips(tmp_path, n=6):
    return [Clip(f"c{i}", str(write_wave(tmp_path / f"c{i}.wav", seconds=0.2 + 0.02 * i, freq=200 + 50 * i)), ("x",), "train")
            for i in range(n)]


def test_build_then_load(tmp_path):
    codec, items = CountingCodec(), clips(tmp_path)
    cache = TokenCache(tmp_path / "cache", "toy", codec)
    assert cache.build(items, batch_size=2) == {"encoded": 6, "cached": 0, "skipped": 0, "truncated": 0}
    codes, errors = cache.load()
    assert set(codes) == {c.id for c in items} and not errors
    assert codes["c0"].shape == (1, 10) and codes["c5"].shape == (1, 15)
    again = CountingCodec()
    TokenCache(tmp_path / "cache", "toy", again).build(items)
    assert again.encoded == 0  # everything was cached


def test_killed_encode_resumes_without_recomputing(tmp_path):
    items = clips(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        TokenCache(tmp_path / "cache", "toy", CountingCodec(fail_after=4)).build(items, batch_size=2, shard_size=2)
    folder = TokenCache(tmp_path / "cache", "toy", CountingCodec()).folder
    assert len(list(folder.glob("shard-*.parquet"))) == 2
    (folder / "shard-r0-00099.parquet.tmp-1").write_bytes(b"half written")  # a partial file is never read
    resumed = CountingCodec()
    counts = TokenCache(tmp_path / "cache", "toy", resumed).build(items, batch_size=2, shard_size=2)
    assert resumed.encoded == 2 and counts["cached"] == 4
    codes, _ = TokenCache(tmp_path / "cache", "toy", resumed).load()
    fresh = CountingCodec()
    TokenCache(tmp_path / "fresh", "toy", fresh).build(items)
    reference, _ = TokenCache(tmp_path / "fresh", "toy", fresh).load()
    assert all(np.array_equal(codes[k], reference[k]) for k in reference)


def test_other_codec_config_gets_another_folder_and_tampering_is_caught(tmp_path):
    items = clips(tmp_path, 2)
    a, b = TokenCache(tmp_path / "c", "toy", CountingCodec(8)), TokenCache(tmp_path / "c", "toy", CountingCodec(16))
    assert a.folder != b.folder
    a.build(items)
    header = io.read_json(a.folder / "cache.json")
    header["identity"]["levels"] = 99
    io.write_json(a.folder / "cache.json", header)
    with pytest.raises(
        CodecBenchError, match=r"cache.json: cache built with identity.levels=99 \(this run: 8\); delete .* to rebuild it"
    ):
        TokenCache(tmp_path / "c", "toy", CountingCodec(8))


def test_max_seconds_is_part_of_the_folder_and_truncation_is_counted(tmp_path):
    items = [Clip("long", str(write_wave(tmp_path / "long.wav", seconds=1.0)), ("x",), "train")] + clips(tmp_path, 2)
    default, short = (
        TokenCache(tmp_path / "c", "toy", CountingCodec(), 30.0),
        TokenCache(tmp_path / "c", "toy", CountingCodec(), 0.5),
    )
    assert default.folder.name == CountingCodec().cache_key() and short.folder.name == f"{CountingCodec().cache_key()}-max0.5s"
    assert short.build(items)["truncated"] == 1  # announced by the pipeline with the count
    assert default.build(items)["truncated"] == 0
    assert short.load()[0]["long"].shape == (1, 25) and default.load()[0]["long"].shape == (1, 50)


def test_damaged_shards_and_header_are_rebuilt_not_trusted(tmp_path):
    items = clips(tmp_path, 4)
    cache = TokenCache(tmp_path / "c", "toy", CountingCodec())
    cache.build(items, batch_size=2, shard_size=2)
    first, second = sorted(cache.folder.glob("shard-*.parquet"))
    first.write_bytes(first.read_bytes()[:40])  # truncated: no Parquet footer
    (cache.folder / "cache.json").write_text('{"format_ver')
    again = CountingCodec()
    counts = TokenCache(tmp_path / "c", "toy", again).build(items, batch_size=2, shard_size=2)
    assert again.encoded == 2 and counts["cached"] == 2  # only the damaged shard's clips
    assert (cache.folder / "broken" / first.name).is_file() and io.read_json(cache.folder / "cache.json") == cache.header
    codes, _ = TokenCache(tmp_path / "c", "toy", CountingCodec()).load()
    assert len(codes) == 4


def test_bad_audio_is_a_recorded_skip(tmp_path):
    items = clips(tmp_path, 2)
    (tmp_path / "bad.wav").write_bytes(b"junk")
    items.append(Clip("bad", str(tmp_path / "bad.wav"), ("x",), "train"))
    cache = TokenCache(tmp_path / "cache", "toy", CountingCodec())
    assert cache.build(items)["skipped"] == 1
    codes, errors = cache.load()
    assert set(codes) == {"c0", "c1"} and "cannot decode" in errors["bad"]


def test_embedded_codec_with_residual_codebooks():
    """Codebook 0 is the one-codebook codec; each further codebook quantizes what is left, so the frames'
    reconstruction error falls; the state saves and loads; one-codebook cache keys are unchanged by the option."""
    import torch

    from codec_bench.codecs import EmbeddedCodec
    from codec_bench.codecs.embedded import centroid_key

    rng = np.random.default_rng(0)
    waves = [(rng.standard_normal(16_000) * np.sin(np.linspace(0, 50 * (i + 1), 16_000))).astype(np.float32) for i in range(20)]
    errors, first = [], None
    for books in (1, 2, 3):
        codec = EmbeddedCodec(codebook_size=16, num_codebooks=books)
        codec.fit(waves)
        codes = codec.encode(waves)
        assert codes[0].shape == (books, 50) and codes[0].max() < 16
        first = codes[0][0] if first is None else first
        np.testing.assert_array_equal(codes[0][0], first)
        error = 0.0
        for wave, code in zip(waves, codes):
            x = (codec._frames(wave) - codec.state["mean"]) / codec.state["std"]
            rebuilt = sum(codec.state[centroid_key(k)][torch.from_numpy(code[k])] for k in range(books))
            error += float(((x - rebuilt) ** 2).mean())
        errors.append(error)
    assert errors[0] > errors[1] > errors[2]
    assert EmbeddedCodec(num_codebooks=1).identity() == {k: v for k, v in EmbeddedCodec(num_codebooks=2).identity().items()
                                                         if k != "num_codebooks"}


def test_shards_also_close_at_a_value_budget(tmp_path, monkeypatch):
    import codec_bench.codecs.cache as cache_module

    monkeypatch.setattr(cache_module, "MAX_SHARD_VALUES", 30)  # each clip has 15 frames: two clips per shard
    clips = [Clip(f"c{i}", str(write_wave(tmp_path / f"c{i}.wav", seconds=0.3, seed=i)), ("a",), "train") for i in range(5)]
    cache = TokenCache(tmp_path / "cache", "toy", CountingCodec(), max_seconds=None)
    cache.build(clips, batch_size=1)
    assert len(list(cache.folder.glob("shard-*.parquet"))) == 3 and len(cache.load()[0]) == 5


def test_codes_are_read_lazily_by_row_group_within_a_budget(tmp_path):
    import pyarrow.parquet as pq
    import torch

    from codec_bench.codecs.cached_codes import CachedCodes

    rng = np.random.default_rng(0)
    items = {f"c{i:03d}": rng.integers(0, 8, (1, 50 + i)) for i in range(300)}
    cache = TokenCache(tmp_path / "cache", "toy", CountingCodec())
    assert cache.add(items.items(), shard_size=100) == 300
    shards = sorted(cache.folder.glob("shard-*.parquet"))
    assert len(shards) == 3 and all(pq.ParquetFile(s).num_row_groups > 1 for s in shards)  # groups of <= 64 rows
    small = CachedCodes(shards, budget_bytes=4096, open_files=1)
    assert len(small) == 300 and small.frames("c007") == 57 and small.num_codebooks("c007") == 1
    for clip_id in reversed(sorted(items)):
        np.testing.assert_array_equal(small[clip_id], items[clip_id])
        assert small._decoded_bytes <= 4096 + 64 * 350 * 8 and len(small._files) == 1  # one group over the budget at most
    some, _ = cache.load(["c001", "c299"])
    assert set(some) == {"c001", "c299"} and "c002" not in some
    loader = torch.utils.data.DataLoader(
        list(items), batch_size=50, num_workers=2, collate_fn=lambda ids: [small[i].sum() for i in ids]
    )
    assert [int(x) for batch in loader for x in batch] == [int(items[i].sum()) for i in items]  # forked workers read too


@pytest.mark.parametrize("max_fit_frames", [1000, 20, 10])  # all frames / drawn in memory / drawn in a second pass
def test_codec_fit_streams_and_draws_exactly_as_from_all_frames(max_fit_frames):
    from codec_bench.codecs import EmbeddedCodec

    rng = np.random.default_rng(0)
    waves = [rng.standard_normal(int(16_000 * s)).astype(np.float32) for s in (0.3, 0.05, 0.5, 0.2)]
    codec = EmbeddedCodec(max_fit_frames=max_fit_frames)
    everything = np.concatenate([codec._frames(w).numpy() for w in waves])  # 15 + 2 + 25 + 10 = 52 frames
    if len(everything) > max_fit_frames:
        everything = everything[np.random.default_rng(codec.seed).choice(len(everything), max_fit_frames, replace=False)]
    np.testing.assert_array_equal(codec.fit_frames(waves), everything)


def test_frame_statistics_stream_equal_numpy():
    from codec_bench.llm.projector import frame_statistics

    rng = np.random.default_rng(0)
    clips = [rng.normal(3, 2, (4, n)).astype(np.float32) for n in (5, 1, 0, 40)]
    frames = np.concatenate([c.T for c in clips]).astype(np.float64)
    mean, std = frame_statistics(iter(clips))
    np.testing.assert_allclose(mean, frames.mean(0), rtol=1e-12)
    np.testing.assert_allclose(std, frames.std(0), rtol=1e-12)


def test_a_mended_or_edited_file_is_encoded_again_and_read_from_its_new_codes(tmp_path):
    """A corrupt file replaced by a valid one, and a file edited in place: the cache notices (size and
    modification time), encodes them again and reads the new codes; unchanged clips stay cached."""
    import os

    codec, items = CountingCodec(), clips(tmp_path)
    (tmp_path / "c1.wav").write_bytes(b"not audio")
    cache = TokenCache(tmp_path / "cache", "toy", codec)
    cache.build(items)
    assert "c1" in cache.load([c.id for c in items])[1]  # skipped
    before = cache.load([c.id for c in items])[0]["c3"].copy()
    write_wave(tmp_path / "c1.wav", seconds=0.3, freq=400)  # mended
    write_wave(tmp_path / "c3.wav", seconds=0.4, freq=900)  # edited in place, same name
    os.utime(tmp_path / "c3.wav", ns=(1, 1))  # a modification time of its own even on a coarse clock
    again = CountingCodec()
    fresh = TokenCache(tmp_path / "cache", "toy", again)
    assert {c.id for c in fresh.changed(items)} == {"c1", "c3"}
    counts = fresh.build(items)
    assert again.encoded == 2 and counts["encoded"] == 2 and counts["cached"] == 4
    codes, errors = fresh.load([c.id for c in items])
    assert not errors and codes["c1"].shape == (1, 15) and codes["c3"].shape == (1, 20)
    assert not np.array_equal(codes["c3"][:, :before.shape[1]], before) or codes["c3"].shape != before.shape
    assert TokenCache(tmp_path / "cache", "toy", CountingCodec()).changed(items) == []
