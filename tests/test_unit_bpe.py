"""Acoustic BPE (``--bpe N``): frequent runs of codec units merged into new tokens, learned on the training split."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch
from conftest import TINY_LM

from codec_bench.config import CodecConfig, EvalConfig, ModelConfig, RunConfig, TrainConfig, codec_name
from codec_bench.core import io
from codec_bench.core.errors import CodecBenchError
from codec_bench.core.settings import build
from codec_bench.formats import RunCard, UnitMerges
from codec_bench.llm import unit_bpe, vocab
from codec_bench.llm.encoder import UnitBpePromptEncoder, prompt_encoder
from codec_bench.llm.model import build_tiny_llm, load_llm
from codec_bench.llm.unit_bpe import UnitBPE, interleaved_units, learn_merges, unit_token
from codec_bench.prompts import build_example
from codec_bench.report.write import report_folders
from codec_bench.study.pipeline import run
from codec_bench.study.plan import codec_tag
from codec_bench.study.predict import predict


def test_unit_bpe_docstring_example_holds():
    assert doctest.testmod(unit_bpe).failed == 0


def test_merges_shorten_repeated_runs_and_spell_back_exactly():
    rng = np.random.default_rng(0)
    motif = np.array([3, 9, 3, 9, 12])
    clips = [np.concatenate([motif, rng.integers(0, 16, 5), motif]) for _ in range(20)]
    merges = learn_merges(clips, units=16, merges=4)
    bpe = UnitBPE(16, merges)
    assert 0 < bpe.merged_units <= 4 and all(m[2] >= 16 for m in merges)
    for clip in clips + [np.array([15, 15, 0]), np.array([], dtype=np.int64)]:  # unseen units pass through as themselves
        ids = bpe.encode(clip)
        assert sum((bpe.spelling(int(i)) for i in ids), ()) == tuple(clip.tolist())
    assert len(bpe.encode(motif)) < len(motif)
    assert learn_merges(clips, units=16, merges=0) == [] and UnitBPE(16, []).encode(motif).tolist() == motif.tolist()


def test_units_interleave_codebooks_frame_by_frame_and_have_a_bound():
    codes = np.array([[1, 2, 3], [0, 5, 7]])  # 2 codebooks of 8 codes
    assert interleaved_units(codes, 8).tolist() == [1, 8, 2, 13, 3, 15]
    with pytest.raises(CodecBenchError, match="--bpe 0"):
        learn_merges([np.array([1, 2])], units=200_000, merges=4)


def test_unit_merges_round_trip_and_refuse_another_version(tmp_path):
    merges = UnitMerges(16, 4, [(3, 9, 16), (16, 16, 17)], 20, "abc")
    merges.to_file(tmp_path / "m.json")
    assert len((tmp_path / "m.json").read_text().splitlines()) == 1
    assert UnitMerges.from_file(tmp_path / "m.json") == merges
    io.write_json(tmp_path / "m.json", {"version": 99})
    with pytest.raises(CodecBenchError, match="delete the run folder"):
        UnitMerges.from_file(tmp_path / "m.json")
    with pytest.raises(CodecBenchError, match="follow the merges"):
        UnitBPE(16, [(3, 9, 17)])


def test_bpe_names_results_and_is_refused_where_there_are_no_speech_tokens():
    assert codec_name("embedded", bpe=64) == "embedded-bpe64" and codec_name("embedded", bpe=0) == "embedded"
    assert codec_tag(build(CodecConfig, {"name": "embedded", "bpe": 64}, "study.yaml")) == "embedded-bpe64"
    for bad in ({"name": "logmel", "bpe": 8}, {"name": "embedded", "bpe": 8, "patch": 2},
                {"name": "dac", "bpe": 8, "codebooks": "sum"}, {"name": "embedded", "bpe": -1}):
        with pytest.raises(CodecBenchError, match="bpe"):
            build(CodecConfig, bad, "study.yaml")


@torch.inference_mode()
def test_merged_units_are_tokens_whose_rows_start_as_the_mean_of_what_they_spell(tmp_path):
    folder = build_tiny_llm(tmp_path / "lm", 16, ["Which sound is this?", "cat"], seed=0, text_vocab_size=300, sizes=TINY_LM)
    model, tokenizer = load_llm(str(folder), "float32")
    bpe = UnitBPE(16, [(3, 9, 16), (16, 12, 17)])
    codes = {"x": np.array([[3, 9, 12, 3, 9, 1]])}
    with pytest.raises(CodecBenchError, match=r"no token <\|bpe_0\|>"):
        UnitBpePromptEncoder(tokenizer, 16, codes, 1, bpe)
    ids = vocab.add_unit_tokens(model, tokenizer, bpe)
    assert ids == [tokenizer.convert_tokens_to_ids(unit_token(k)) for k in (0, 1)]
    assert vocab.add_unit_tokens(model, tokenizer, bpe) == ids  # a second call adds nothing
    table = model.get_input_embeddings().weight
    spelled = [tokenizer.convert_tokens_to_ids(f"<|s_{u}|>") for u in (3, 9, 12)]
    torch.testing.assert_close(table[ids[1]], table[spelled].mean(0))
    encoder = prompt_encoder(tokenizer, _EmbeddedLike(), codes, units=bpe)
    example = build_example("x", "Which sound is this?", ["cat"])
    row = encoder.training_features(example)
    s = {u: tokenizer.convert_tokens_to_ids(f"<|s_{u}|>") for u in (1, 3, 9)}
    assert [i for i in row["input_ids"] if i in ids or i in s.values()] == [ids[1], ids[0], s[1]]  # (3 9 12)(3 9) 1
    assert encoder.audio_positions("x") == 3 and encoder.length(example) == len(row["input_ids"])


class _EmbeddedLike:
    """A one-codebook token codec of 16 codes, as ``prompt_encoder`` sees it."""

    codebook_size, num_codebooks, speech_tokens = 16, 1, 16


def test_a_bpe_run_learns_on_train_then_trains_evaluates_and_predicts_with_the_same_merges(tmp_path):
    config = RunConfig(dataset="instruments", out=tmp_path, root=tmp_path / "data", codec=CodecConfig("embedded", bpe=16),
                       train=TrainConfig(epochs=1, batch_size=8, method="lora"), model=ModelConfig(tiny_sizes=TINY_LM),
                       eval=EvalConfig(generation=True), baseline=False,
                       dataset_options={"sizes": {"train": 16, "validation": 8, "test": 8}})
    records = run(config)
    assert {(r.codec, r.method) for r in records} == {("embedded-bpe16", "llm_scoring"), ("embedded-bpe16", "llm_generation")}
    run_dir = next((tmp_path / "instruments").glob("embedded-*-bpe16__*"))
    assert RunCard.from_file(run_dir / "run.json").codec.bpe == 16
    merges = UnitMerges.from_file(run_dir / "unit-merges.json")
    assert merges.clips == 16 and merges.requested == 16 and len(merges.merges) > 0
    costs = records[0].costs
    assert costs["bpe"] == 16 and 0 < costs["positions_per_second"] < 50.0 and costs["mean_audio_positions"] < 50
    row = io.read_jsonl(tmp_path / next(r.predictions for r in records if r.method == "llm_scoring" and r.split == "test"))[0]
    path = next(c["path"] for c in io.read_jsonl(tmp_path / "instruments" / "manifest" / "clips.jsonl") if c["id"] == row["id"])
    top = predict(run_dir, [path], top_k=2)[0]["top"]
    assert [t["probability"] for t in top] == pytest.approx(sorted(row["probabilities"].values(), reverse=True)[:2], abs=1e-4)
    written = (run_dir / "unit-merges.json").stat().st_mtime_ns
    assert [r.metrics for r in run(config)] == [r.metrics for r in records]  # a rerun reuses everything
    assert (run_dir / "unit-merges.json").stat().st_mtime_ns == written
    assert "-bpe<n>" in report_folders([tmp_path])["report"].read_text()
