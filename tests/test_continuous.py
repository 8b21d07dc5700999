"""The continuous-input baseline: log-mel / XCodec2 latent frames through a trained projector into the LLM."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import TINY_LM, write_wave
from safetensors.torch import load_file

from codec_bench.codecs import make_codec
from codec_bench.codecs.base import FeatureFrontEnd
from codec_bench.codecs.cache import TokenCache
from codec_bench.codecs.features import log_mel
from codec_bench.codecs.logmel import LogMelFrames
from codec_bench.codecs.xcodec2_latents import Xcodec2Latents
from codec_bench.config import CodecConfig, EvalConfig, ModelConfig, RunConfig, TrainConfig
from codec_bench.core import io
from codec_bench.data.manifest import Clip
from codec_bench.evaluation.scoring import PrefixScorer, generate_answers
from codec_bench.llm.batches import LeftPadCollator
from codec_bench.llm.encoder import ContinuousPromptEncoder, PromptEncoder
from codec_bench.llm.model import load_trained
from codec_bench.llm.projector import PROJECTOR_FILE, attach_projector, embed_with_audio
from codec_bench.prompts import AUDIO_SLOT, build_example
from codec_bench.report.write import report_folders
from codec_bench.study.pipeline import run
from codec_bench.study.predict import predict
from codec_bench.testing.tiny_models import random_xcodec2, small_xcodec2_config


def test_logmel_frames_shape_and_rate():
    codec = make_codec("logmel")
    assert isinstance(codec, FeatureFrontEnd) and codec.feature_dim == 64 and codec.frame_rate_hz == 50
    features = codec.encode([np.zeros(16_000, np.float32), 0.1 * np.ones(8_000, np.float32)])
    assert [f.shape for f in features] == [(64, 50), (64, 25)] and features[0].dtype == np.float32


def test_float_features_round_trip_the_cache_and_shared_audio_is_encoded_once(tmp_path):
    wave = write_wave(tmp_path / "a.wav", seconds=0.5)
    other = write_wave(tmp_path / "b.wav", seconds=0.3, freq=880)
    clips = [Clip("a#q1", str(wave), ("yes",), "train"), Clip("a#q2", str(wave), ("no",), "train"),
             Clip("b#q1", str(other), ("yes",), "test")]

    class Counting(LogMelFrames):
        encoded = 0

        def encode_preprocessed(self, items):
            Counting.encoded += len(items)
            return super().encode_preprocessed(items)

    cache = TokenCache(tmp_path / "cache", "aqa", Counting(), max_seconds=None)
    counts = cache.build(clips)
    features, errors = cache.load()
    assert Counting.encoded == 2 and counts["encoded"] == 3 and not errors
    assert features["a#q1"].dtype == np.float32 and features["a#q1"].shape == (64, 25)
    np.testing.assert_array_equal(features["a#q1"], features["a#q2"])
    np.testing.assert_array_equal(features["b#q1"], LogMelFrames().encode([_read(other)])[0])
    assert io.read_json(cache.folder / "cache.json")["values"] == "float32"


def _read(path):
    import soundfile as sf

    return sf.read(path, dtype="float32")[0]


def _features(rng, frames, dim=8):
    return rng.standard_normal((dim, frames)).astype(np.float32)


def test_collator_places_frames_where_the_slot_was(tiny_lm):
    model, tokenizer = tiny_lm
    rng = np.random.default_rng(0)
    features = {"x": _features(rng, 3), "y": _features(rng, 5).astype(np.float16)}  # float16 storage too
    encoder = ContinuousPromptEncoder(tokenizer, features)
    examples = [build_example(i, "Which sound is this?", ["cat"]) for i in ("x", "y")]
    assert AUDIO_SLOT in examples[0].prompt
    rows = [encoder.training_features(e) for e in examples]
    batch = LeftPadCollator(encoder.pad_id)(rows)
    assert batch["audio_features"].shape == (2, 5, 8) and batch["audio_positions"].sum(1).tolist() == [3, 5]
    np.testing.assert_array_equal(batch["audio_features"][0, :3].numpy(), features["x"].T)
    assert batch["audio_features"].dtype == torch.float32
    np.testing.assert_array_equal(batch["audio_features"][1].numpy(), features["y"].T.astype(np.float32))
    assert batch["audio_features"][0, 3:].abs().sum() == 0
    for row, f in enumerate(rows):  # the True positions are the frames' placeholders, after the left padding
        start = batch["input_ids"].shape[1] - len(f["input_ids"]) + f["audio_start"]
        assert batch["audio_positions"][row].nonzero()[:, 0].tolist() == list(range(start, start + len(f["audio"])))
    # the text around the slot is the token prompt's text around the speech tokens
    token_prompt = PromptEncoder(tokenizer, 16, {"x": np.zeros((1, 3), int)}).prompt_ids(
        build_example("x", "Which sound is this?", ["cat"])
    )
    ids = rows[0]["input_ids"][: len(rows[0]["input_ids"]) - len(encoder.answer_ids(["cat"]))]
    assert ids[: rows[0]["audio_start"]] == token_prompt[: rows[0]["audio_start"]]
    assert ids[rows[0]["audio_start"] + 3:] == token_prompt[rows[0]["audio_start"] + 3:]


@torch.inference_mode()
def test_embeddings_replace_only_the_audio_positions(tiny_lm):
    model, _ = tiny_lm
    projector = attach_projector(model, 8)
    try:
        ids = torch.tensor([[5, 6, 7, 8, 9], [1, 2, 3, 4, 5]])
        where = torch.tensor([[0, 1, 1, 0, 0], [0, 0, 1, 1, 1]], dtype=torch.bool)
        audio = torch.randn(2, 3, 8)
        audio[0, 2] = 0
        out = embed_with_audio(model, ids, audio, where)
        plain = model.get_input_embeddings()(ids)
        torch.testing.assert_close(out[~where], plain[~where])
        torch.testing.assert_close(out[0, 1:3], projector(audio[0, :2]))
        torch.testing.assert_close(out[1, 2:5], projector(audio[1]))
    finally:
        del model.audio_projector


@torch.inference_mode()
def test_scoring_and_generation_from_embeddings_equal_the_token_path(tiny_lm):
    """A prefix given as embeddings (the continuous path) scores and generates exactly like the same ids."""
    model, tokenizer = tiny_lm
    rng = np.random.default_rng(0)
    audio = {str(i): rng.integers(0, 16, (1, n)) for i, n in enumerate((4, 9))}
    encoder = PromptEncoder(tokenizer, 16, audio)
    examples = [build_example(str(i), "Which sound is this?", ["cat"]) for i in range(2)]
    candidates = [encoder.answer_ids([c]) for c in ("cat", "dog bark", "siren")]
    for example in examples:
        ids = encoder.prompt_ids(example)
        embeds = model.get_input_embeddings()(torch.tensor(ids))
        by_ids, by_embeds = PrefixScorer(model, ids), PrefixScorer(model, embeds)
        np.testing.assert_allclose(by_embeds.score(candidates), by_ids.score(candidates), atol=1e-5)
        by_ids.extend(candidates[1][:1])
        by_embeds.extend(candidates[1][:1])
        np.testing.assert_allclose(by_embeds.score(candidates), by_ids.score(candidates), atol=1e-5)

    class EmbeddingPrompts(PromptEncoder):  # the continuous encoder's generation inputs, with embedded ids
        def prefix(self, model, example):
            return model.get_input_embeddings()(torch.tensor(self.prompt_ids(example)))

    from codec_bench.llm.encoder import ContinuousPromptEncoder as Continuous

    EmbeddingPrompts.generation_inputs = Continuous.generation_inputs
    assert generate_answers(model, EmbeddingPrompts(tokenizer, 16, audio), examples, max_new_tokens=6) == \
        generate_answers(model, encoder, examples, max_new_tokens=6)


def test_xcodec2_latents_are_what_the_quantizer_turns_into_the_codes(tmp_path):
    model = random_xcodec2(small_xcodec2_config(hidden=64, semantic=32, kernel=5))
    model.save_pretrained(tmp_path)
    latents_codec = make_codec("xcodec2-latents", model_id=str(tmp_path), device="cpu")
    codes_codec = make_codec("xcodec2", model_id=str(tmp_path), device="cpu")
    rng = np.random.default_rng(0)
    waves = [(0.3 * rng.standard_normal(n)).astype(np.float32) for n in (8000, 5000, 8000)]
    latents, codes = latents_codec.encode(waves), codes_codec.encode(waves)
    assert isinstance(latents_codec, Xcodec2Latents) and latents_codec.feature_dim == 96
    assert [l.shape for l in latents] == [(96, c.shape[1]) for c in codes] == [(96, 25), (96, 15), (96, 25)]
    with torch.inference_mode():
        for latent, code in zip(latents, codes):
            _, requantized = latents_codec.model.quantizer(torch.from_numpy(latent.T)[None])
            np.testing.assert_array_equal(requantized[0, :, 0].numpy(), code[0])
    alone = latents_codec.encode(waves[1:2])[0]
    np.testing.assert_allclose(alone, latents[1], atol=1e-5)
    assert latents_codec.cache_key() != codes_codec.cache_key()
    half = make_codec("xcodec2-latents", model_id=str(tmp_path), device="cpu", storage="float16")
    assert half.cache_key() != latents_codec.cache_key()
    clips = [Clip(f"c{i}", str(write_wave(tmp_path / f"c{i}.wav", seconds=0.3, seed=i)), ("a",), "train") for i in range(2)]
    cache = TokenCache(tmp_path / "cache", "toy", half, max_seconds=None)
    cache.build(clips)
    stored = cache.load()[0]
    assert io.read_json(cache.folder / "cache.json")["values"] == "float16" and stored["c0"].dtype == np.float16
    np.testing.assert_allclose(stored["c1"].astype(np.float32), half.encode([_read(clips[1].path)])[0], rtol=2e-3, atol=1e-4)


@pytest.mark.parametrize("method", ["full", "lora"])
def test_logmel_run_end_to_end(tmp_path, method):
    config = RunConfig(dataset="instruments", out=tmp_path, root=tmp_path / "data", codec=CodecConfig("logmel"),
                       train=TrainConfig(method=method, epochs=2, batch_size=8, learning_rate=3e-3),
                       model=ModelConfig(tiny_sizes=TINY_LM),
                       eval=EvalConfig(generation=True), dataset_options={"sizes": {"train": 20, "validation": 10, "test": 10}},
                       probes=True)
    records = run(config)
    rows = {(r.codec, r.method, r.split) for r in records}
    assert {
        ("logmel", "llm_scoring", "test"),
        ("logmel", "llm_generation", "test"),
        ("none", "baseline_logmel_logreg", "test"),
    } <= rows
    assert not any(r.method.startswith("probe") for r in records)  # no probes on continuous features
    report = (report_folders([tmp_path])["report"]).read_text()
    assert "logmel: continuous frames mapped into the LLM's input embeddings" in report
    run_dir = next((tmp_path / "instruments").glob("logmel-*"))
    saved = load_file(str(run_dir / "model" / PROJECTOR_FILE))
    assert saved["mean"].shape == (64,) and saved["std"].min() > 0
    if method == "full":  # the LLM's weights are saved as a plain LLM
        assert not any(k.startswith("audio_projector") for k in load_file(str(run_dir / "model" / "model.safetensors")))
    if method == "full":  # predict on a test clip gives the probabilities its evaluation wrote
        row = io.read_jsonl(tmp_path / next(r.predictions for r in records if r.method == "llm_scoring" and r.split == "test"))[0]
        path = next(
            c["path"] for c in io.read_jsonl(tmp_path / "instruments" / "manifest" / "clips.jsonl") if c["id"] == row["id"]
        )
        top = predict(run_dir, [path], top_k=3)[0]["top"]
        assert [t["probability"] for t in top] == pytest.approx(sorted(row["probabilities"].values(), reverse=True)[:3], abs=1e-4)
    model, _ = load_trained(run_dir / "model", config.model.dtype, config.model.offline)
    torch.testing.assert_close(model.audio_projector.net[0].weight, saved["net.0.weight"])
    initial = attach_projector(model, 64, seed=config.train.seed)
    assert not torch.allclose(initial.net[0].weight, saved["net.0.weight"])  # trained, not the initialisation


def test_baseline_features_come_from_a_cache_shared_by_every_run(tmp_path, monkeypatch):
    from codec_bench.evaluation import baseline

    clips = [Clip(f"c{i}", str(write_wave(tmp_path / f"c{i}.wav", seconds=0.2 + 0.1 * i, freq=300 + 200 * i)), ("a",), "train")
             for i in range(3)]
    cache = TokenCache(tmp_path / "cache", "toy", baseline.LogMelStats(), max_seconds=30.0)
    cache.build(clips, all_clips=True)
    features = cache.load()[0]
    for clip in clips:  # the cached vector is the baseline's feature vector: mean and std of the log-mel frames
        frames = log_mel(_read(clip.path)).numpy()
        np.testing.assert_allclose(features[clip.id][:, 0], np.concatenate([frames.mean(0), frames.std(0)]), rtol=1e-6)
    monkeypatch.setattr(baseline.LogMelStats, "preprocess", lambda *a: pytest.fail("decoded again"))
    assert TokenCache(tmp_path / "cache", "toy", baseline.LogMelStats(), max_seconds=30.0).build(clips)["encoded"] == 0


@torch.inference_mode()
def test_summed_codebooks_give_one_position_per_frame_with_the_rows_summed(tiny_lm):
    from codec_bench.llm.encoder import SummedCodesPromptEncoder

    model, tokenizer = tiny_lm
    codes = {"x": np.array([[1, 7, 0], [3, 3, 5]])}  # 2 codebooks of 8 codes: tokens <|s_k|> and <|s_{8 + k}|>
    encoder = SummedCodesPromptEncoder(tokenizer, codes, codebook_size=8, num_codebooks=2)
    example = build_example("x", "Which sound is this?", ["cat"])
    row = encoder.training_features(example)
    assert row["audio"].tolist() == [
        [tokenizer.convert_tokens_to_ids(f"<|s_{a}|>"), tokenizer.convert_tokens_to_ids(f"<|s_{8 + b}|>")]
        for a, b in [(1, 3), (7, 3), (0, 5)]
    ]
    interleaved = PromptEncoder(tokenizer, 8, codes, 2).training_features(example)
    assert len(interleaved["input_ids"]) - len(row["input_ids"]) == 3  # 6 tokens interleaved, 3 positions summed
    embeds = encoder.prefix(model, example)
    table = model.get_input_embeddings().weight
    start = row["audio_start"]
    torch.testing.assert_close(embeds[start: start + 3], table[torch.from_numpy(row["audio"])].sum(1))
    torch.testing.assert_close(embeds[:start], table[torch.tensor(row["input_ids"][:start])])


def test_summed_codebooks_run_end_to_end_with_a_multi_codebook_codec(tmp_path):
    from codec_bench.testing.tiny_models import tiny_codec_model

    tiny_codec_model("dac").save_pretrained(tmp_path / "dac")
    config = RunConfig(dataset="instruments", out=tmp_path, root=tmp_path / "data",
                       codec=CodecConfig("dac", {"model_id": str(tmp_path / "dac"), "num_quantizers": 2}, codebooks="sum"),
                       train=TrainConfig(epochs=1, batch_size=8), model=ModelConfig(tiny_sizes=TINY_LM),
                       eval=EvalConfig(generation=True), dataset_options={"sizes": {"train": 16, "validation": 8, "test": 8}},
                       baseline=False, zero_shot=True)
    records = run(config)
    assert {(r.codec, r.method) for r in records} == {("dac-sum", "llm_scoring"), ("dac-sum", "llm_generation")}
    run_dir = next((tmp_path / "instruments").glob("dac-*-sum__*"))
    assert AUDIO_SLOT in io.read_jsonl(run_dir / "prompts" / "test.jsonl")[0]["prompt"]
    row = io.read_jsonl(tmp_path / next(r.predictions for r in records if r.method == "llm_scoring" and r.split == "test"))[0]
    path = next(c["path"] for c in io.read_jsonl(tmp_path / "instruments" / "manifest" / "clips.jsonl") if c["id"] == row["id"])
    top = predict(run_dir, [path], top_k=2)[0]["top"]  # predict reads the mode from run.json
    assert [t["probability"] for t in top] == pytest.approx(sorted(row["probabilities"].values(), reverse=True)[:2], abs=1e-4)


@pytest.mark.parametrize("method", ["full", "lora"])
def test_killed_training_resumes_with_the_projector(tmp_path, monkeypatch, method):
    """A run killed mid-training resumes from its checkpoint, projector included, and ends where an uninterrupted
    run ends."""
    from conftest import CORPUS

    from codec_bench.llm.model import build_tiny_llm, load_llm
    from codec_bench.llm.train import AnswerOnlyTrainer, train

    lm = build_tiny_llm(tmp_path / "lm", 0, CORPUS, sizes=TINY_LM, text_vocab_size=300)
    rng = np.random.default_rng(0)
    features = {str(i): _features(rng, 4 + i % 3) for i in range(16)}
    examples = [build_example(str(i), "Which sound is this?", [["cat"], ["siren"]][i % 2]) for i in range(16)]
    config = TrainConfig(method=method, epochs=3, batch_size=8, learning_rate=3e-3)  # 2 steps per epoch

    def fresh():
        model, tokenizer = load_llm(str(lm), "float32")
        attach_projector(model, 8, list(features.values()))
        return model, tokenizer, ContinuousPromptEncoder(tokenizer, features)

    model, tokenizer, encoder = fresh()
    straight = train(model, tokenizer, encoder, examples, examples[:4], tmp_path / "straight", config)
    original, calls = AnswerOnlyTrainer.compute_loss, {"n": 0}

    def dies_in_epoch_three(self, *args, **kwargs):
        calls["n"] += self.model.training
        if calls["n"] == 5 and self.model.training:
            raise KeyboardInterrupt("killed")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(AnswerOnlyTrainer, "compute_loss", dies_in_epoch_three)
    model, tokenizer, encoder = fresh()
    with pytest.raises(KeyboardInterrupt):
        train(model, tokenizer, encoder, examples, examples[:4], tmp_path / "resumed", config)
    monkeypatch.setattr(AnswerOnlyTrainer, "compute_loss", original)
    model, tokenizer, encoder = fresh()
    resumed = train(model, tokenizer, encoder, examples, examples[:4], tmp_path / "resumed", config)
    a, b = load_file(str(straight / PROJECTOR_FILE)), load_file(str(resumed / PROJECTOR_FILE))
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5)
    assert not torch.allclose(a["net.0.weight"], fresh()[0].audio_projector.net[0].weight)  # trained, not initial


def test_continuous_features_under_fsdp_are_refused(tmp_path, monkeypatch):
    """`accelerate launch --config_file configs/accelerate/fsdp.yaml` sets ACCELERATE_USE_FSDP: the projector runs
    outside the sharded forward, so training stops with one line before any step."""
    from conftest import CORPUS

    from codec_bench.core.errors import CodecBenchError
    from codec_bench.llm.model import build_tiny_llm, load_llm
    from codec_bench.llm.train import train

    lm = build_tiny_llm(tmp_path / "lm", 0, CORPUS, sizes=TINY_LM, text_vocab_size=300)
    model, tokenizer = load_llm(str(lm), "float32")
    features = {str(i): _features(np.random.default_rng(i), 4) for i in range(4)}
    attach_projector(model, 8, list(features.values()))
    examples = [build_example(str(i), "Which sound is this?", ["cat"]) for i in range(4)]
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    with pytest.raises(CodecBenchError, match="projected outside the wrapped forward, which FSDP shards"):
        train(model, tokenizer, ContinuousPromptEncoder(tokenizer, features), examples, [], tmp_path / "run",
              TrainConfig(max_steps=1, batch_size=2))
    assert not list((tmp_path / "run").rglob("checkpoint-*"))
