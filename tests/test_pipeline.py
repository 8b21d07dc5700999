"""End to end on the CPU: the demo at a reduced size through the CLI, resume, the CSV dataset, XCodec2 + LoRA."""

import json

import pytest
import torch
from conftest import CORPUS, TINY_LM, write_wave
from typer.testing import CliRunner

from codec_bench.cli import app
from codec_bench.codecs import make_codec
from codec_bench.codecs.cache import TokenCache
from codec_bench.config import CodecConfig, EvalConfig, ModelConfig, RunConfig, TrainConfig
from codec_bench.core import io
from codec_bench.llm.encoder import PromptEncoder
from codec_bench.llm.model import build_tiny_llm, load_llm, load_trained
from codec_bench.llm.train import AnswerOnlyTrainer, train
from codec_bench.prompts import build_example, render
from codec_bench.study.pipeline import run

runner = CliRunner()


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    result = runner.invoke(app, ["demo", "--quick", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_demo_writes_a_report_on_held_out_clips(demo_out):
    results = io.read_json(demo_out / "results.json")
    test_rows = {(r["dataset"], r["method"]): r for r in results["records"] if r["split"] == "test"}
    assert {("instruments", "llm_scoring"), ("instruments", "llm_generation"), ("instruments", "baseline_logmel_logreg"),
            ("mixtures", "llm_scoring"), ("mixtures", "baseline_logmel_logreg")} <= set(test_rows)
    assert set(test_rows[("instruments", "llm_scoring")]["metrics"]) == {"accuracy", "macro_f1"}
    assert set(test_rows[("mixtures", "llm_scoring")]["metrics"]) == {"micro_f1", "macro_f1", "map"}
    for name in ("report.md", "radar.png", "confusion_instruments_llm_scoring.png"):
        assert (demo_out / name).stat().st_size > 0
    # the scored clips are the test split and none of them was trained on
    run_dir = next((demo_out / "instruments").glob("embedded-*"))
    train_ids = {r["id"] for r in io.read_jsonl(run_dir / "prompts" / "train.jsonl")}
    scored = io.read_jsonl(demo_out / test_rows[("instruments", "llm_scoring")]["predictions"])
    assert len(scored) == 40 and not train_ids & {r["id"] for r in scored}
    assert abs(sum(scored[0]["probabilities"].values()) - 1) < 1e-4


def test_demo_runs_have_model_cards_and_predictions_that_rescore_to_their_records(demo_out):
    from test_results_format import read_model_card, rescore, same

    results = io.read_json(demo_out / "results.json")
    for run_dir in [p for p in demo_out.glob("*/embedded-*") if (p / "run.json").is_file()]:
        name, evaluated = read_model_card(run_dir / "README.md")
        records = io.read_json(run_dir / "eval" / "records.json")["records"]
        assert name == run_dir.name and len(evaluated) == sum(len(r["metrics"]) for r in records)
    for record in results["records"]:
        rows = io.read_jsonl(demo_out / record["predictions"])
        classes = io.read_json(demo_out / record["dataset"] / "manifest" / "info.json")["classes"]
        assert same(rescore(rows, record["task"], classes), record["metrics"]), (record["dataset"], record["method"])


def test_demo_rerun_resumes_without_recomputing(demo_out):
    done = next((demo_out / "instruments").glob("embedded-*")) / "model" / "train_done.json"
    before = done.stat().st_mtime_ns
    result = runner.invoke(app, ["demo", "--quick", "--out", str(demo_out)])
    assert result.exit_code == 0, result.output
    assert done.stat().st_mtime_ns == before
    assert "0 encoded" in result.output or "from cache" in result.output


def test_killed_training_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    lm = build_tiny_llm(tmp_path / "lm", 16, CORPUS, sizes=TINY_LM, text_vocab_size=300)
    model, tokenizer = load_llm(str(lm), "float32")
    encoder = PromptEncoder(tokenizer, 16, {str(i): torch.randint(0, 16, (1, 6)).numpy() for i in range(16)})
    examples = [build_example(str(i), "Which sound is this?", [["cat"], ["siren"]][i % 2]) for i in range(16)]
    config = TrainConfig(epochs=3, batch_size=8, learning_rate=1e-3)  # 2 steps per epoch, a checkpoint each epoch
    calls = {"n": 0}
    original = AnswerOnlyTrainer.compute_loss

    def dies_in_epoch_three(self, *args, **kwargs):
        calls["n"] += self.model.training
        if calls["n"] == 5 and self.model.training:  # the first step of epoch 3
            raise KeyboardInterrupt("killed")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(AnswerOnlyTrainer, "compute_loss", dies_in_epoch_three)
    with pytest.raises(KeyboardInterrupt):
        train(model, tokenizer, encoder, examples, examples[:4], tmp_path / "run", config)
    assert not (tmp_path / "run" / "model" / "train_done.json").exists()
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    monkeypatch.setattr(AnswerOnlyTrainer, "compute_loss", original)
    model, _ = load_llm(str(lm), "float32")
    final = train(model, tokenizer, encoder, examples, examples[:4], tmp_path / "run", config)
    state = json.loads((tmp_path / "run" / "checkpoints" / "checkpoint-6" / "trainer_state.json").read_text())
    assert io.read_json(final / "train_done.json")["steps"] == 6
    assert len([h for h in state["log_history"] if "eval_loss" in h]) == 3  # epochs 1-2 from before, 3 after resume


def _csv_folder(root, n=12):
    rows = ["path,label,split"]
    for i in range(n):
        label = ["dog bark", "siren"][i % 2]
        split = ["train", "train", "train", "train", "validation", "test"][i % 6] if i < 12 else "train"
        rows.append(f"{label.replace(' ', '_')}/{i}.wav,{label},{split}")
        write_wave(root / label.replace(" ", "_") / f"{i}.wav", seconds=0.3, rate=44_100 if i % 3 == 0 else 16_000,
                   channels=2 if i % 4 == 0 else 1, freq=300 if label == "siren" else 900, seed=i)
    (root / "metadata.csv").write_text("\n".join(rows) + "\n")
    return root


def test_run_on_a_csv_folder_with_the_cli(tmp_path):
    root = _csv_folder(tmp_path / "data")
    (root / "siren" / "bad.wav").write_bytes(b"not audio")
    with open(root / "metadata.csv", "a") as f:
        f.write("siren/bad.wav,siren,train\n")
    result = runner.invoke(
        app, ["run", "csv", "--root", str(root), "--out", str(tmp_path / "out"), "--epochs", "1", "--no-generation"]
    )
    assert result.exit_code == 0, result.output
    assert "1 clips could not be encoded and are left out" in " ".join(result.output.split())
    records = io.read_json(tmp_path / "out" / "results.json")["records"]
    assert {r["method"] for r in records} == {"llm_scoring", "baseline_logmel_logreg"}
    assert {r["n_clips"] for r in records if r["split"] == "test"} == {2}


def test_cli_errors_are_one_line_with_exit_code_2(tmp_path):
    import sys

    from codec_bench.cli import main

    argv = sys.argv
    sys.argv = ["codec-bench", "prepare", "esc50", "--root", str(tmp_path)]
    try:
        with pytest.raises(SystemExit) as exit_info:
            main()
    finally:
        sys.argv = argv
    assert exit_info.value.code == 2


def test_datasets_command_lists_every_dataset():
    result = runner.invoke(app, ["datasets"])
    assert result.exit_code == 0
    for name in ("esc50", "urbansound8k", "fsd50k", "ravdess", "timit", "csv", "instruments", "clotho_aqa"):
        assert name in result.output


def test_xcodec2_tokens_and_lora_on_a_llasa_layout_model(tmp_path):
    from test_xcodec2 import tiny_model

    tiny_model().save_pretrained(tmp_path / "xcodec2")
    lm = build_tiny_llm(tmp_path / "llasa-tiny", 65_536, CORPUS, sizes=TINY_LM, text_vocab_size=300)
    config = RunConfig(
        dataset="csv", out=tmp_path / "out", root=_csv_folder(tmp_path / "data"),
        codec=CodecConfig("xcodec2", {"model_id": str(tmp_path / "xcodec2"), "device": "cpu"}, batch_size=4),
        model=ModelConfig(name=str(lm), dtype="float32"), train=TrainConfig(method="lora", max_steps=2, batch_size=4),
        eval=EvalConfig(generation=False), baseline=False,
    )
    records = run(config)
    assert {(r.method, r.split) for r in records} == {("llm_scoring", "validation"), ("llm_scoring", "test")}
    assert records[0].codec == "xcodec2"
    run_dir = next((tmp_path / "out" / "csv").glob("xcodec2-*"))
    assert (run_dir / "model" / "adapter_config.json").is_file() and (run_dir / "model" / "adapter_model.safetensors").is_file()
    row = io.read_jsonl(run_dir / "prompts" / "test.jsonl")[0]
    codes, _ = TokenCache(config.cache_folder, "csv", make_codec("xcodec2", **config.codec.options), 30.0).load([row["id"]])
    assert render(row["prompt"], codes[row["id"]], 65536).count("<|s_") == 15  # 0.3 s at 50 tokens/s
    model, _ = load_trained(run_dir / "model", config.model.dtype, config.model.offline)
    assert not hasattr(model, "peft_config")  # adapter merged for evaluation


def test_reference_rows_and_predict_through_the_cli(tmp_path):
    root = _csv_folder(tmp_path / "data")
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", "csv", "--root", str(root), "--out", str(out), "--epochs", "1", "--no-generation",
                                 "--probes", "--zero-shot", "--codec", "embedded"])
    assert result.exit_code == 0, result.output
    methods = {r["method"] for r in io.read_json(out / "results.json")["records"]}
    assert {"zero_shot", "probe_linear_codec", "probe_knn_codec", "probe_linear_llm", "probe_knn_llm", "llm_scoring"} <= methods
    run_dir = next((out / "csv").glob("embedded-*__tiny-llama__full"))
    result = runner.invoke(app, ["predict", str(run_dir), str(root / "siren"), "--top-k", "2", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert len(rows) == 6 and all(len(r["top"]) == 2 and r["error"] is None for r in rows)
