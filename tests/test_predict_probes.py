"""``predict`` on a finished tiny run, the probe and zero-shot reference rows, and the probes on hand-made data."""

import shutil
from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import TINY_LM

from codec_bench.codecs import EmbeddedCodec, make_codec
from codec_bench.config import EvalConfig, ModelConfig, RunConfig, TrainConfig
from codec_bench.core import io
from codec_bench.core.errors import CodecBenchError
from codec_bench.data import manifest as manifests
from codec_bench.evaluation.probes import BaseRows, knn, linear_probe, run_probes, zero_shot_records
from codec_bench.evaluation.tuning import C_GRID, K_GRID
from codec_bench.study.fold import base_model
from codec_bench.study.pipeline import encode_tokens, run, write_prompts
from codec_bench.study.predict import format_table, predict

SIZES = {"train": 24, "validation": 8, "test": 8}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A finished single-label run (generated ``instruments``, embedded codec, tiny LM, one epoch)."""
    out = tmp_path_factory.mktemp("run")
    config = RunConfig(dataset="instruments", out=out, root=out / "data", dataset_options={"sizes": SIZES},
                       model=ModelConfig(dtype="float32", tiny_sizes=TINY_LM), train=TrainConfig(epochs=1, batch_size=8),
                       eval=EvalConfig(generation=False), baseline=False)
    run(config)
    run_dir = next((out / "instruments").glob("embedded-*"))
    return config, run_dir


@pytest.fixture(scope="module")
def run_inputs(tiny_run):
    """What the pipeline hands the probe hooks: manifest, fitted codec, codes, examples, base model."""
    config, run_dir = tiny_run
    manifest = manifests.load(config.out / "instruments" / "manifest")
    codec = make_codec("embedded")
    codec.load(run_dir / "codec.safetensors")
    codes = encode_tokens(config, manifest, codec)
    examples = write_prompts(manifest, codes, run_dir / "prompts")
    base = base_model(config, manifest, codec, run_dir)
    rows = BaseRows(base, "tiny-llama", "embedded", config.model.dtype, out=config.out)  # what the pipeline gives them
    return manifest, codec, codes, examples, rows


def test_predict_ranks_labels_and_reports_broken_files(tiny_run, tmp_path):
    config, run_dir = tiny_run
    clips = sorted((config.out / "data").rglob("*.wav"))[:3]
    for i, clip in enumerate(clips):
        shutil.copy(clip, tmp_path / f"clip{i}.wav")
    (tmp_path / "broken.wav").write_bytes(b"not audio")
    (tmp_path / "notes.txt").write_text("not an audio suffix: ignored")
    rows = predict(run_dir, [tmp_path], top_k=3)
    assert [r["path"].rsplit("/", 1)[1] for r in rows] == ["broken.wav", "clip0.wav", "clip1.wav", "clip2.wav"]
    assert rows[0]["top"] == [] and "cannot decode" in rows[0]["error"]
    classes = io.read_json(run_dir / "run.json")["classes"]
    for row in rows[1:]:
        probabilities = [t["probability"] for t in row["top"]]
        assert row["error"] is None and len(row["top"]) == 3 and {t["label"] for t in row["top"]} <= set(classes)
        assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1 + 1e-6
    assert format_table(rows).row_count == 4


def test_predict_needs_a_finished_run_folder(tmp_path):
    with pytest.raises(CodecBenchError, match="no run.json"):
        predict(tmp_path / "nowhere", [tmp_path])
    io.write_json(tmp_path / "run.json", {})
    with pytest.raises(CodecBenchError, match="no trained model"):
        predict(tmp_path, [tmp_path])


def test_probe_records_cover_every_method_and_split(tiny_run, run_inputs):
    config, run_dir = tiny_run
    manifest, codec, codes, examples, rows = run_inputs
    records = run_probes(rows, manifest, codec, codes, examples, run_dir / "probes")
    methods = {"probe_linear_codec", "probe_knn_codec", "probe_linear_llm", "probe_knn_llm"}
    assert {(r.method, r.split) for r in records} == {(m, s) for m in methods for s in ("validation", "test")}
    for record in records:
        assert set(record.metrics) == {"accuracy", "macro_f1"} and record.n_clips == len(examples[record.split])
        assert (config.out / record.predictions).is_file()
    assert {r.model for r in records if r.method.endswith("_codec")} == {"none"}
    assert run_probes(rows, manifest, codec, codes, examples, run_dir / "probes") == records  # cached
    # C and k chosen on validation, recorded; test answers dealt otherwise (one class for all) change no choice
    for record in records:
        setting, grid = ("C", C_GRID) if "_linear_" in record.method else ("k", K_GRID)
        assert record.choices[setting] in grid and list(record.choices[f"{setting}_validation"]) == [f"{v:g}" for v in grid]
        assert record.choices[f"{setting}_chosen_by"] == "validation accuracy"
    relabelled = dict(examples) | {"test": [replace(e, answer_items=(manifest.classes[0],)) for e in examples["test"]]}
    again = run_probes(rows, manifest, codec, codes, relabelled, run_dir / "probes-relabelled")
    assert [r.choices for r in again] == [r.choices for r in records]
    assert [r.metrics for r in again if r.split == "validation"] == [r.metrics for r in records if r.split == "validation"]


def test_zero_shot_records_score_the_base_model(tiny_run, run_inputs):
    config, run_dir = tiny_run
    manifest, codec, codes, examples, rows = run_inputs
    records = zero_shot_records(rows, manifest, codec, codes, examples, run_dir / "zero_shot")
    assert {(r.method, r.split) for r in records} == {("zero_shot", "validation"), ("zero_shot", "test")}
    assert all(r.model == "tiny-llama/base" for r in records)
    row = io.read_jsonl(config.out / records[0].predictions)[0]
    assert abs(sum(row["probabilities"].values()) - 1) < 1e-4


def test_embedded_codec_vectors_are_the_mean_of_the_code_centroids():
    codec = EmbeddedCodec(codebook_size=4)
    codec.state = {"centroids": torch.tensor([[0.0, 0.0], [1.0, 2.0], [3.0, -1.0], [5.0, 5.0]]),
                   "mean": torch.zeros(2), "std": torch.ones(2)}
    vector = codec.probe_vector(np.array([[1, 2, 2]]))  # three frames
    np.testing.assert_allclose(vector, [(1 + 3 + 3) / 3, (2 - 1 - 1) / 3])
    codec.num_codebooks = 2  # residual codebooks: a frame stands for the sum of its codebooks' centroids
    codec.state["centroids_1"] = torch.tensor([[0.5, 0.5], [-1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    vector = codec.probe_vector(np.array([[1, 2, 2], [0, 1, 0]]))
    np.testing.assert_allclose(vector, [(1.5 + 2 + 3.5) / 3, (2.5 - 1 - 0.5) / 3])


def test_knn_and_linear_probe_on_separable_points():
    train_x = np.array([[1.0, 0.1], [1.0, -0.1], [0.9, 0.0], [0.1, 1.0], [-0.1, 1.0], [0.0, 0.9]])
    train_labels = [("left",)] * 3 + [("up",)] * 3
    eval_x = np.array([[2.0, 0.3], [0.2, 3.0]])
    votes = knn(train_x, train_labels, eval_x, "single_label", ["left", "up"], k=3)
    np.testing.assert_allclose(votes, [[1, 0], [0, 1]])
    assert linear_probe(train_x, train_labels, eval_x, "single_label", ["left", "up"]).argmax(1).tolist() == [0, 1]
    multi = knn(train_x, [("a", "left"), ("a",), ("left",), ("up",), ("up",), ("a", "up")], eval_x, "multi_label",
                ["a", "left", "up"], k=3)
    np.testing.assert_allclose(multi, [[2 / 3, 2 / 3, 0], [1 / 3, 0, 1]])


def test_multi_label_predict_uses_the_thresholds_tuned_on_validation(tmp_path):
    config = RunConfig(dataset="mixtures", out=tmp_path, root=tmp_path / "data", dataset_options={"sizes": SIZES},
                       model=ModelConfig(dtype="float32", tiny_sizes=TINY_LM), train=TrainConfig(epochs=1, batch_size=8),
                       eval=EvalConfig(generation=False), baseline=False)
    records = run(config)
    run_dir = next((tmp_path / "mixtures").glob("embedded-*"))
    thresholds = io.read_json(run_dir / "eval" / "thresholds.json")
    assert set(thresholds) == set(io.read_json(run_dir / "run.json")["classes"])
    test = next(r for r in records if r.split == "test")
    evaluated = io.read_jsonl(tmp_path / test.predictions)[:3]
    clips = {c["id"]: c["path"] for c in io.read_jsonl(tmp_path / "mixtures" / "manifest" / "clips.jsonl")}
    rows = predict(run_dir, [clips[r["id"]] for r in evaluated], top_k=6)
    assert [row["labels"] for row in rows] == [done["prediction"] for done in evaluated]  # the evaluation's label sets
    at_half = [[t["label"] for t in row["top"] if t["probability"] >= 0.5] for row in rows]
    assert at_half != [sorted(row["labels"]) for row in rows]  # a default 0.5 threshold would predict other sets
    assert "predicted labels" in [c.header for c in format_table(rows).columns]
