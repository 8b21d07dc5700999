"""Frame patching (``--patch K``): k frames -> one LLM position, for token codecs and continuous front-ends."""

from __future__ import annotations

import doctest
from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import TINY_LM

from codec_bench.codecs import make_codec
from codec_bench.config import CodecConfig, EvalConfig, ModelConfig, RunConfig, TrainConfig, codec_name
from codec_bench.core import io
from codec_bench.core.errors import CodecBenchError
from codec_bench.core.settings import build
from codec_bench.formats import Record, RunCard
from codec_bench.llm import patching
from codec_bench.llm.batches import LeftPadCollator
from codec_bench.llm.encoder import ContinuousPromptEncoder, PromptEncoder, SummedCodesPromptEncoder
from codec_bench.llm.patching import patch_frames, patch_token_ids
from codec_bench.prompts import build_example
from codec_bench.report import costs as report_costs
from codec_bench.report.write import report_folders
from codec_bench.study import costs
from codec_bench.study.pipeline import run
from codec_bench.study.predict import predict


def test_patching_and_costs_docstring_examples_hold():
    assert all(doctest.testmod(module).failed == 0 for module in (patching, costs, report_costs))


def test_costs_round_trip_and_a_record_without_them_keeps_its_bytes():
    record = Record("d", "single_label", "sound", "p", "1", 0, "embedded-p2", "tiny/full", "llm_scoring", "test", 4,
                    {"accuracy": 0.5}, "accuracy", "x.jsonl")
    assert "costs" not in record.to_json() and Record.from_json(record.to_json()) == record
    costed = replace(record, costs={"bitrate_bps": 400.0, "positions_per_second": 25.0})
    assert Record.from_json(costed.to_json()) == costed


def test_bitrate_of_token_codecs_and_none_for_features():
    assert make_codec("embedded", codebook_size=1024).bitrate_bps == 500.0 and make_codec("logmel").bitrate_bps is None


def test_token_patches_pinned_for_summed_and_interleaved_codebooks():
    ids = np.array([[1, 2, 3, 4, 5], [11, 12, 13, 14, 15]])  # 2 codebooks, 5 frames
    assert patch_token_ids(ids, 2, sum_codebooks=True).tolist() == [[1, 2, 11, 12], [3, 4, 13, 14], [5, -1, 15, -1]]
    assert patch_token_ids(ids, 2, sum_codebooks=False).tolist() == [[1, 2], [11, 12], [3, 4], [13, 14], [5, -1], [15, -1]]
    assert patch_token_ids(ids, 1, sum_codebooks=True).tolist() == ids.T.tolist()  # the unpatched summed frames
    assert patch_token_ids(ids[:, :0], 3, sum_codebooks=True).shape == (0, 6)


def test_frame_patches_concatenate_and_repeat_the_last_frame():
    frames = np.arange(10, dtype=np.float16).reshape(5, 2)
    patched = patch_frames(frames, 4)
    assert patched.dtype == np.float16 and patched.shape == (2, 8)
    assert patched.tolist() == [[0, 1, 2, 3, 4, 5, 6, 7], [8, 9, 8, 9, 8, 9, 8, 9]]
    assert patch_frames(frames[:0], 2).shape == (0, 4)


@pytest.mark.parametrize("frames", [1, 4, 5, 7])
@pytest.mark.parametrize("patch", [1, 2, 4])
def test_positions_per_clip_divide_by_the_patch(tiny_lm, frames, patch):
    _, tokenizer = tiny_lm
    codes = {"x": np.arange(2 * frames).reshape(2, frames) % 8}
    example = build_example("x", "Which sound is this?", ["cat"])
    positions = -(-frames // patch)
    summed = SummedCodesPromptEncoder(tokenizer, codes, 8, 2, patch, sum_codebooks=True)
    interleaved = SummedCodesPromptEncoder(tokenizer, codes, 8, 2, patch, sum_codebooks=False)
    assert summed.audio_positions("x") == len(summed.training_features(example)["audio"]) == positions
    assert interleaved.audio_positions("x") == len(interleaved.training_features(example)["audio"]) == 2 * positions
    assert summed.length(example) == len(summed.training_features(example)["input_ids"])
    features = ContinuousPromptEncoder(tokenizer, {"x": np.ones((3, frames), np.float32)}, patch)
    row = features.training_features(example)
    assert features.audio_positions("x") == len(row["audio"]) == positions and row["audio"].shape[1] == 3 * patch


@torch.inference_mode()
def test_a_patch_embeds_as_the_sum_of_its_frames_rows(tiny_lm):
    model, tokenizer = tiny_lm
    codes = {"x": np.array([[1, 7, 0]])}  # one codebook of 16 codes, 3 frames -> patches (1, 7) and (0)
    encoder = SummedCodesPromptEncoder(tokenizer, codes, 16, 1, patch=2)
    example = build_example("x", "Which sound is this?", ["cat"])
    row = encoder.training_features(example)
    s = [tokenizer.convert_tokens_to_ids(f"<|s_{k}|>") for k in (1, 7, 0)]
    assert row["audio"].tolist() == [[s[0], s[1]], [s[2], -1]]
    table = model.get_input_embeddings().weight
    start = row["audio_start"]
    embeds = encoder.prefix(model, example)
    torch.testing.assert_close(embeds[start], table[s[0]] + table[s[1]])
    torch.testing.assert_close(embeds[start + 1], table[s[2]])  # the missing id adds nothing
    plain = PromptEncoder(tokenizer, 16, codes).training_features(example)
    assert len(plain["input_ids"]) - len(row["input_ids"]) == 1  # 3 tokens -> 2 positions
    batch = LeftPadCollator(encoder.pad_id)([row, encoder.training_features(example)])
    assert batch["audio_features"].shape == (2, 2, 2) and int(batch["audio_positions"].sum()) == 4


def test_patch_names_results_and_run_folders_and_has_a_bound():
    assert codec_name("embedded", patch=2) == "embedded-p2" and codec_name("dac", codebooks="sum", patch=4) == "dac-sum-p4"
    assert codec_name("embedded") == "embedded" and codec_name("embedded", label="mine", patch=2) == "mine"
    with pytest.raises(CodecBenchError, match="patch"):
        build(CodecConfig, {"name": "embedded", "patch": 0}, "study.yaml")


def _config(tmp_path, codec: str, patch: int) -> RunConfig:
    return RunConfig(dataset="instruments", out=tmp_path, root=tmp_path / "data", codec=CodecConfig(codec, patch=patch),
                     train=TrainConfig(epochs=1, batch_size=8), model=ModelConfig(tiny_sizes=TINY_LM),
                     eval=EvalConfig(generation=True), baseline=False,
                     dataset_options={"sizes": {"train": 16, "validation": 8, "test": 8}})


@pytest.mark.parametrize("codec", ["embedded", "logmel"])
def test_a_patch_2_run_trains_evaluates_and_predicts_with_the_same_transform(tmp_path, codec):
    records = run(_config(tmp_path, codec, 2))
    assert {(r.codec, r.method) for r in records} == {(f"{codec}-p2", "llm_scoring"), (f"{codec}-p2", "llm_generation")}
    run_dir = next((tmp_path / "instruments").glob(f"{codec}-*-p2__*"))
    assert RunCard.from_file(run_dir / "run.json").codec.patch == 2
    row = io.read_jsonl(tmp_path / next(r.predictions for r in records if r.method == "llm_scoring" and r.split == "test"))[0]
    path = next(c["path"] for c in io.read_jsonl(tmp_path / "instruments" / "manifest" / "clips.jsonl") if c["id"] == row["id"])
    top = predict(run_dir, [path], top_k=2)[0]["top"]
    assert [t["probability"] for t in top] == pytest.approx(sorted(row["probabilities"].values(), reverse=True)[:2], abs=1e-4)
    costs = records[0].costs
    assert costs["positions_per_second"] == 25.0 and costs["patch"] == 2
    assert costs["bitrate_bps"] == (400.0 if codec == "embedded" else None)  # 50 frames/s x log2(256) bits
    assert costs["mean_audio_positions"] > 0 and costs["train_seconds_per_epoch"] > 0 and costs["scoring_seconds_per_clip"] > 0
    assert all(r.costs == costs for r in records)
    paths = report_folders([tmp_path])
    assert paths["costs"].is_file() and "## Accuracy against cost" in paths["report"].read_text()
    if codec == "logmel":  # the projector reads two 64-bin frames at once
        from safetensors.torch import load_file

        assert load_file(str(run_dir / "model" / "audio_projector.safetensors"))["mean"].shape == (128,)


def _row(codec: str, mean: float, ci: list[float] | None) -> dict:
    return {"dataset": "d", "task": "single_label", "domain": "sound", "protocol": "p", "codec": codec, "model": "tiny/full",
            "method": "llm_scoring", "split": "test", "headline": "accuracy", "metrics": {"accuracy": {"mean": mean, "std": 0.0,
                                                                                                         "ci": ci}}}


def test_cost_points_average_the_folds_and_mark_the_pareto_fronts():
    aggregated = [_row("embedded", 0.8, [0.7, 0.9]), _row("embedded-p2", 0.8, None), _row("logmel", 0.9, [0.85, 0.95])]
    costs = {"embedded": [50.0, 400.0], "embedded-p2": [25.0, 400.0], "logmel": [50.0, None]}
    records = [row | {"fold": fold, "costs": {"positions_per_second": costs[row["codec"]][0],
                                               "bitrate_bps": costs[row["codec"]][1], "train_seconds_per_epoch": t, "patch": 1}}
               for row in aggregated for fold, t in (("1", 1.0), ("2", 3.0))]
    points = report_costs.cost_points(aggregated, records)
    assert [p["train_seconds_per_epoch"] for p in points] == [2.0, 2.0, 2.0]
    assert [p["pareto_positions_per_second"] for p in points] == [False, True, True]  # p2 as good for half the positions
    assert [p["pareto_bitrate_bps"] for p in points] == [True, True, False]  # equal cost and value: neither beats
    table = report_costs.costs_markdown(points)
    assert "| d | embedded-p2 | tiny/full | accuracy 80.0 | 25.0 | 400 |" in table and "[85.0, 95.0]" in table
    assert report_costs.cost_figure(points).axes[0].get_xlabel().startswith("LLM audio positions")
    assert report_costs.cost_points(aggregated, [{k: v for k, v in r.items() if k != "costs"} for r in records]) == []


def test_a_study_sweeps_the_patch_as_codec_entries_with_their_own_cells(tmp_path):
    import yaml

    from codec_bench.study import plan

    raw = {"name": "p", "out": str(tmp_path / "out"), "datasets": [{"name": "instruments"}],
           "codecs": [{"name": "embedded", "patch": k} for k in (1, 2, 4)] + [{"name": "logmel", "patch": 2}],
           "models": [{"name": "tiny"}], "recipes": [{"name": "full"}]}
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(raw))
    study = plan.load_study(tmp_path / "study.yaml")
    names = [plan.cell_name(study, cell) for cell in plan.study_cells(study)]
    assert [name.split("__")[1] for name in names] == ["embedded", "embedded-p2", "embedded-p4", "logmel-p2"]
    assert [plan.cell_config(study, cell).codec.patch for cell in plan.study_cells(study)] == [1, 2, 4, 2]
