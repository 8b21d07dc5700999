"""Settings written once: defaults and help from one table, numeric bounds refused alike on the command line and in a
study file (one line, before any work), ``--out`` that names a file, the help panels of ``run``, ``resolve`` and
the task defaults it announces."""

from __future__ import annotations

import dataclasses

import pytest
from test_benchmark import study_yaml
from test_pipeline import _csv_folder
from typer.testing import CliRunner

from codec_bench import config as settings
from codec_bench.cli import app
from codec_bench.config import RECIPE_DEFAULTS, CodecConfig, DatasetLocation, RunConfig, TrainConfig, resolve
from codec_bench.core.errors import CodecBenchError
from codec_bench.core.settings import help_of
from codec_bench.study import plan

runner = CliRunner()


def _error(result) -> str:
    assert result.exit_code != 0, result.output
    return " ".join(str(result.exception).split())


@pytest.mark.parametrize("flags, message", [
    (["--epochs", "-1"], "--epochs -1: must be more than 0"),
    (["--batch-size", "0"], "--batch-size 0: must be at least 1"),
    (["--learning-rate", "0"], "--learning-rate 0: must be more than 0"),
    (["--grad-accum", "0"], "--grad-accum 0: must be at least 1"),
    (["--mix", "-1"], "--mix -1: must be at least 0"),
    (["--shift", "-0.5"], "--shift -0.5: must be at least 0"),
    (["--patience", "0"], "--patience 0: must be at least 1"),
    (["--max-seconds", "0"], "--max-seconds 0: must be more than 0"),
    (["--codec-num-workers", "-2"], "--codec-num-workers -2: must be at least 0"),
    (["--codec-batch-size", "0"], "--codec-batch-size 0: must be at least 1"),
])
def test_a_number_out_of_bounds_on_the_command_line_is_one_line_before_any_work(tmp_path, flags, message):
    root = _csv_folder(tmp_path / "data")
    result = runner.invoke(app, ["run", "csv", "--root", str(root), "--out", str(tmp_path / "out"), *flags])
    said = _error(result)
    assert message in said and "\n" not in str(result.exception)
    assert not (tmp_path / "out").exists()  # refused before anything ran


@pytest.mark.parametrize("recipe, message", [
    ({"epochs": -1}, "recipe r: epochs -1: must be more than 0"),
    ({"batch_size": 0}, "recipe r: batch_size 0: must be at least 1"),
    ({"warmup_ratio": 1.5}, "recipe r: warmup_ratio 1.5: must be at most 1"),
    ({"lora_rank": 0}, "recipe r: lora_rank 0: must be at least 1"),
])
def test_a_number_out_of_bounds_in_a_study_file_is_the_same_one_line(tmp_path, recipe, message):
    path = study_yaml(tmp_path, recipes=[{"name": "r", **recipe}])
    with pytest.raises(CodecBenchError) as err:
        plan.load_study(path)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_codec_bound_and_a_rule_across_fields_in_a_study_file(tmp_path):
    with pytest.raises(CodecBenchError, match="codec embedded: max_seconds 0: must be more than 0"):
        plan.load_study(study_yaml(tmp_path, codecs=[{"name": "embedded", "max_seconds": 0}]))
    with pytest.raises(CodecBenchError, match="codec logmel: logmel gives continuous features"):
        plan.load_study(study_yaml(tmp_path, codecs=[{"name": "logmel", "codebooks": "sum"}]))


@pytest.mark.parametrize("command", [
    ["run", "csv"], ["encode", "csv"], ["benchmark", "study.yaml"], ["demo"], ["report", "."],
])
def test_out_naming_a_file_is_one_line(tmp_path, command):
    (tmp_path / "a-file").write_text("not a folder")
    result = runner.invoke(app, [*command, "--out", str(tmp_path / "a-file")])
    assert "--out must be a folder" in _error(result)


def test_a_study_out_naming_a_file_is_one_line(tmp_path):
    (tmp_path / "a-file").write_text("")
    with pytest.raises(CodecBenchError, match="out must be a folder"):
        plan.load_study(study_yaml(tmp_path, out=str(tmp_path / "a-file")))


def test_run_help_groups_its_options_in_panels(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    result = runner.invoke(app, ["run", "--help"])
    assert result.exit_code == 0
    panels, name = {}, None
    for line in result.output.splitlines():
        if line.startswith("╭─ "):
            name = line[3:].split(" ─")[0]
            panels[name] = []
        elif name and line.startswith("│ --"):
            panels[name].append(line[2:].split()[0])
    assert list(panels) == ["Arguments", "Options", "Data", "Codec", "Model", "Training", "Evaluation", "Output"]
    expected = {"Data": "--root", "Codec": "--codec-dtype", "Model": "--model", "Training": "--epochs",
                "Evaluation": "--generation", "Output": "--out"}
    for panel, flag in expected.items():
        assert flag in panels[panel], (panel, panels[panel])
    assert "--seeds" in panels["Training"] and "--stage" in panels["Output"]


def test_recipe_defaults_and_help_come_from_one_table(monkeypatch):
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    assert {k: fields[k].default for k in RECIPE_DEFAULTS["embedded"]} == RECIPE_DEFAULTS["embedded"]
    assert "(default: 15 for the tiny LM, 3 otherwise;" in help_of(fields["epochs"])
    monkeypatch.setitem(RECIPE_DEFAULTS["pretrained"], "epochs", 4)
    epochs = ("(default: 15 for the tiny LM, 4 otherwise; 25 for a single-label dataset with the tiny LM; 30 for an "
              "aqa dataset with the tiny LM)")
    assert epochs in help_of(fields["epochs"])
    assert settings.auto_defaults("some/llm")["epochs"] == 4
    codec = {f.name: f for f in dataclasses.fields(CodecConfig)}["name"]
    assert ("(default: embedded; xcodec2 for a Llasa model; logmel for a multi-label or single-label or aqa dataset with "
            "the tiny LM)") in help_of(codec)
    position = "(default: before; after for an aqa dataset with the tiny LM)"
    assert position in help_of({f.name: f for f in dataclasses.fields(TrainConfig)}["question_position"])
    patch = {f.name: f for f in dataclasses.fields(CodecConfig)}["patch"]
    assert "(default: 1; 4 for an aqa dataset with the tiny LM)" in help_of(patch)


def test_resolve_is_pure_and_applies_the_task_defaults(tmp_path):
    values = {"dataset": "csv", "out": tmp_path, "model": "tiny", "codec_dtype": "bfloat16"}

    def resolved(changes: dict | None = None, task: str | None = None) -> RunConfig:
        return resolve([("command line", values | (changes or {}))], task)

    plain, multi = resolved(), resolved(task="multi_label")
    assert resolved() == plain  # nothing in values changed
    assert (plain.codec.name, plain.train.mix, plain.train.epochs) == ("embedded", 0.0, 15)
    assert (multi.codec.name, multi.train.mix) == ("logmel", 3.0)
    assert multi.sources["codec"] == "task default" and plain.sources["codec"] == "built-in default"
    assert plain.sources["codec_dtype"] == "command line"
    single = resolved(task="single_label")  # chosen on the real-audio suite's validation splits
    assert (single.codec.name, single.train.mix, single.train.epochs) == ("logmel", 0.0, 25)
    assert resolved({"model": "org/llm"}, "single_label").codec.name == "embedded"
    aqa = resolved(task="aqa")  # chosen on the validation split of a real-audio AQA set (bench/real_audio_aqa.py)
    assert (aqa.codec.name, aqa.codec.patch, aqa.train.question_position, aqa.train.keywords, aqa.train.epochs) == (
        "logmel", 4, "after", 1.0, 30)
    assert aqa.train.learning_rate == 3e-4
    assert (plain.codec.patch, multi.codec.patch, single.codec.patch) == (1, 1, 1)
    assert resolved({"patch": 2}, "aqa").codec.patch == 2  # a value given is kept
    tokens = resolved({"codec": "embedded", "bpe": 64}, "aqa")  # BPE merges unpatched tokens
    assert (tokens.codec.patch, tokens.codec.bpe) == (1, 64)
    assert (plain.train.question_position, plain.train.keywords) == ("before", 0.0)
    assert resolved({"keywords": 0.0}, "aqa").train.keywords == 0.0  # a value given is kept
    assert "dtype" not in plain.codec.options  # the embedded codec takes no dtype
    pretrained = resolved({"model": "org/llm", "bf16": True})
    assert (pretrained.train.method, pretrained.train.epochs, pretrained.model.dtype) == ("lora", 3, "bfloat16")
    assert pretrained.sources["method"] == "model default"


def test_a_pretrained_llm_defaults_to_the_codec_it_was_trained_with():
    llasa = resolve([("command line", {"dataset": "esc50", "model": "HKUSTAudio/Llasa-1B-Multilingual"})], "single_label")
    assert (llasa.codec.name, llasa.train.method, llasa.sources["codec"]) == ("xcodec2", "lora", "model default")
    assert settings.model_codec("/models/llasa-3b/") == "xcodec2" and settings.model_codec("Qwen/Qwen2.5-0.5B") is None
    other = resolve([("command line", {"dataset": "esc50", "model": "Qwen/Qwen2.5-0.5B"})], "single_label")
    assert (other.codec.name, other.sources["codec"]) == ("embedded", "built-in default")  # documented rule
    given = resolve([("command line", {"dataset": "esc50", "model": "HKUSTAudio/Llasa-1B", "codec": "encodec"})])
    assert (given.codec.name, given.sources["codec"]) == ("encodec", "command line")


def test_a_run_and_a_study_dataset_share_the_location_fields():
    location = {f.name for f in dataclasses.fields(DatasetLocation)}
    assert location <= {f.name for f in dataclasses.fields(RunConfig)}
    assert location <= {f.name for f in dataclasses.fields(plan.DatasetEntry)}


def test_a_single_label_corpus_announces_its_defaults_with_the_tiny_lm(tmp_path):
    root = _csv_folder(tmp_path / "data")
    result = runner.invoke(app, ["run", "csv", "--root", str(root), "--out", str(tmp_path / "auto"), "--stage", "encode"])
    said = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    assert "single-label dataset with the tiny LM: --codec logmel --epochs 25 by default" in said
    assert "give --codec embedded --epochs 15 to override" in said
    result = runner.invoke(app, ["run", "csv", "--root", str(root), "--out", str(tmp_path / "given"), "--stage", "encode",
                                 "--epochs", "2"])
    said = " ".join(result.output.split())
    assert result.exit_code == 0 and "--codec logmel by default" in said and "--epochs 25" not in said
