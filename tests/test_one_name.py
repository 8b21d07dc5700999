"""One setting, one name, one default (issue 32): every setting of a run reaches the cell of a study file and the run of
a command line alike, under the same name; the defaults come from one function; ``--dry-run`` shows them with their
sources before any work; each command shows only the options it uses."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import _fake_corpora_speech as speech
import pytest
import yaml
from test_benchmark import TINY_LM
from typer.testing import CliRunner

from codec_bench import __version__, cli
from codec_bench.cli import app
from codec_bench.config import RENAMED_FLAGS, CodecConfig, ModelConfig, TrainConfig, run_settings, settings_table
from codec_bench.core import io
from codec_bench.core.errors import CodecBenchError
from codec_bench.core.settings import flag_of, key_of
from codec_bench.study import plan
from codec_bench.study.benchmark import run_study

runner = CliRunner()

# a value other than its default for every setting, and what else it needs to be valid (other settings, by key)
CHANGES = {
    "out": ("OUT2", {}), "root": ("ROOT2", {}), "protocol": ("arch", {}), "folds": (["2"], {}), "source": ("hub", {}),
    "baseline": (False, {}), "probes": (True, {}), "zero_shot": (True, {}), "blind": (False, {}), "fidelity": (True, {}),
    "fidelity_clips": (7, {}), "report_to": ("tensorboard", {}), "cache_root": ("CACHE", {}),
    "dataset_options": ({"sizes": {"train": 3}}, {}),
    "codec": ("encodec", {}), "codec_options": ({"n_mels": 32}, {}), "codec_model": ("some/codec", {}),
    "codec_dtype": ("bfloat16", {}), "codec_batch_size": (3, {}), "codec_num_workers": (1, {}), "max_seconds": (5.0, {}),
    "codec_label": ("c1", {}), "codebooks": ("sum", {"codec": "embedded"}), "patch": (2, {}),
    "bpe": (8, {"codec": "embedded"}),
    "model": ("org/llm", {}), "model_dtype": ("float16", {}), "offline": (True, {}), "tiny_sizes": (TINY_LM, {}),
    "add_speech_tokens": (True, {}), "model_label": ("m1", {}),
    "recipe": ("r2", {}), "method": ("lora", {}), "epochs": (2.0, {}), "learning_rate": (5e-3, {}), "batch_size": (3, {}),
    "grad_accum": (2, {}), "warmup_ratio": (0.2, {}), "weight_decay": (0.1, {}), "lora_rank": (4, {}), "lora_alpha": (8, {}),
    "bf16": (True, {}), "gradient_checkpointing": (True, {}), "label_questions": (True, {}), "mix": (1.0, {}),
    "shift": (1.0, {}), "question_position": ("after", {}), "keywords": (2.0, {}), "question_tags": (2.0, {}),
    "select_by": ("metric", {}),
    "patience": (2, {}), "seed": (3, {}), "num_workers": (1, {}), "max_steps": (5, {}),
    "generation": (False, {}), "generation_batch_size": (4, {}),
}
FIXED = {"dataset": "the dataset itself: run's argument, a study's entry name",
         "splits": "run only (--splits): a study evaluates both splits"}


def _study_place(key: str) -> tuple[str, str]:
    """Where a study file writes a setting: ``("top", key)`` or ``(list, field name in its entry)``."""
    if key == "seed":
        return "top", "seeds"
    for where, cls in (("top", plan.StudyConfig), ("datasets", plan.DatasetEntry), ("codecs", CodecConfig),
                       ("models", ModelConfig), ("recipes", TrainConfig)):
        for field in dataclasses.fields(cls):
            if key_of(field) == key and field.metadata.get("yaml", True):
                return where, field.name
    raise AssertionError(f"a study file cannot set {key}")


def _study_config(tmp_path: Path, given: dict) -> dict:
    raw = {"name": "s", "out": str(tmp_path / "OUT"), "datasets": [{"name": "esc50", "root": str(tmp_path / "ROOT"),
                                                                     "folds": ["1"]}],
           "recipes": [{"name": "r"}]}
    for key, value in given.items():
        where, name = _study_place(key)
        if where == "top":
            raw[name] = [value] if key == "seed" else value
        else:
            raw.setdefault(where, [{"name": "embedded"} if where == "codecs" else {"name": "tiny"}])
            raw[where][0][name] = value
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(raw))
    study = plan.load_study(path)
    cells = plan.study_cells(study)
    assert len(cells) == 1
    return settings_table(plan.cell_config(study, cells[0]))


def _command_line_config(tmp_path: Path, given: dict, monkeypatch) -> dict:
    seen = []
    monkeypatch.setattr(cli, "_print_settings", lambda config, title=None: seen.append(config))
    base = {"out": str(tmp_path / "OUT"), "root": str(tmp_path / "ROOT"), "folds": ["1"], "recipe": "r"}
    fields = {key: field for key, (_, field) in run_settings().items()}
    flags = []
    for key, value in (base | given).items():
        flag = flag_of(fields[key])
        if isinstance(value, bool):
            flags.append(flag if value else f"--no-{flag[2:]}")
        else:
            flags += [flag, str(value[0] if isinstance(value, list) else value)]
    result = runner.invoke(app, ["run", "esc50", *flags, "--dry-run"])
    assert result.exit_code == 0, (given, result.output, result.exception)
    return settings_table(seen[0])


def test_every_setting_reaches_the_cell_and_the_run_the_same_from_a_study_file_and_the_command_line(tmp_path, monkeypatch):
    """For every setting of the settings dataclasses: set it to a value other than its default in a study file and on
    the command line; both resolve to the same settings (the table run.json keeps), holding that value."""
    monkeypatch.chdir(tmp_path)
    for name in ("ROOT", "ROOT2"):
        (tmp_path / name).mkdir()
    assert set(CHANGES) | set(FIXED) == set(run_settings()), "a new setting needs a value in CHANGES"
    base_study, base_line = _study_config(tmp_path, {}), _command_line_config(tmp_path, {}, monkeypatch)
    assert {k: v["value"] for k, v in base_study.items()} == {k: v["value"] for k, v in base_line.items()}
    for key, (value, needs) in CHANGES.items():
        if isinstance(value, str) and value.isupper():
            value = str(tmp_path / value)
        given = needs | {key: value}
        if _study_place(key)[0] == "codecs":  # a study's codec entry names its codec; so does the command line then
            given = {"codec": "embedded"} | given
        study = _study_config(tmp_path, given)
        assert study[key]["value"] == value != base_study[key]["value"], key
        assert study[key]["source"] == "study file", key
        if run_settings()[key][1].metadata["cli"]:
            line = _command_line_config(tmp_path, given, monkeypatch)
            assert line[key] == {"value": value, "source": "command line"}, key
            assert {k: v["value"] for k, v in study.items()} == {k: v["value"] for k, v in line.items()}, key
        else:
            assert isinstance(value, dict), f"{key}: only a mapping may be a study file's alone"


def test_a_question_answering_study_with_blind_false_trains_no_blind_row(tmp_path):
    root = speech.clotho_aqa(tmp_path / "corpus")
    raw = {"name": "qa", "out": str(tmp_path / "out"), "datasets": [{"name": "clotho_aqa", "root": str(root)}],
           "models": [{"name": "tiny", "tiny_sizes": TINY_LM}], "recipes": [{"name": "r", "epochs": 1, "batch_size": 8}],
           "generation": False, "blind": False}
    path = tmp_path / "qa.yaml"
    path.write_text(yaml.safe_dump(raw))
    dry = runner.invoke(app, ["benchmark", str(path), "--dry-run"], env={"COLUMNS": "200"})
    assert dry.exit_code == 0, dry.output
    assert any(line.split()[:4] == ["blind", "│", "False", "│"] for line in dry.output.splitlines()), dry.output
    assert any("study file" in line and line.split()[0] == "blind" for line in dry.output.splitlines())
    out = run_study(path)
    records = [r for f in (out / "results").glob("*.json") for r in io.read_json(f)["records"]]
    assert records and {r["method"] for r in records} == {"llm_scoring"}  # neither blind row
    assert not list((out / "clotho_aqa").glob("blind__*"))
    card = io.read_json(next((out / "clotho_aqa").glob("*/run.json")))
    assert card["settings"]["blind"] == {"value": False, "source": "study file"}
    assert card["settings"]["epochs"] == {"value": 1.0, "source": "study file"}
    assert card["settings"]["codec"] == {"value": "logmel", "source": "task default"}  # as `run` defaults it
    kept = io.read_json(next((out / "clotho_aqa").glob("*/eval/records.json")))["settings"]
    assert kept == card["settings"]  # records.json keeps the table run.json keeps
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "## Settings" in report and "`blind False (study file)`" in report and "`codec logmel (task default)`" in report


def test_run_dry_run_shows_a_pretrained_llms_own_codec_and_lora_without_loading_anything(tmp_path):
    """The issue's first "done when": no network, no model, no torch imported."""
    code = ("import sys; from codec_bench.cli import app\n"
            "try:\n    app(['run', 'esc50', '--root', sys.argv[1], '--model', 'HKUSTAudio/Llasa-1B-Multilingual', '--dry-run'])\n"
            "except SystemExit:\n    pass\n"
            "print('heavy:', sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "no-such-corpus")], capture_output=True, text=True,
                          env={"HF_HUB_OFFLINE": "1", "COLUMNS": "200", "PATH": "", "PYTHONPATH": ":".join(sys.path)},
                          timeout=120)
    assert done.returncode == 0, done.stderr
    rows = {line.split("│")[0].strip(): [c.strip() for c in line.split("│")[1:]] for line in done.stdout.splitlines()
            if "│" in line}
    assert rows["codec"] == ["xcodec2", "model default"]
    assert rows["method"] == ["lora", "model default"] and rows["learning_rate"] == ["0.0002", "model default"]
    assert rows["model"] == ["HKUSTAudio/Llasa-1B-Multilingual", "command line"]
    assert "heavy: []" in done.stdout


def test_encode_shows_no_training_evaluation_or_tracking_option(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    encode = runner.invoke(app, ["encode", "--help"]).output
    for flag in ("--blind", "--report-to", "--patch", "--bpe", "--epochs", "--learning-rate", "--probes", "--generation",
                 "--fidelity", "training log"):
        assert flag not in encode, flag
    for flag in ("--model", "--codec", "--codec-batch-size", "--cache-root", "--quiet", "--verbose"):
        assert flag in encode, flag
    benchmark = runner.invoke(app, ["benchmark", "--help"]).output
    assert all(flag in benchmark for flag in ("--probes", "--zero-shot", "--generation", "--blind", "--dry-run"))


@pytest.mark.parametrize("command", ["run", "encode", "prepare", "benchmark", "demo", "datasets", "tiny-models", "predict",
                                     "report"])
def test_every_command_takes_quiet_and_verbose(command, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    output = runner.invoke(app, [command, "--help"]).output
    assert "--quiet" in output and "-q" in output and "--verbose" in output and "-v" in output


def test_version_and_completion():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"codec-bench {__version__}"
    assert "--install-completion" in runner.invoke(app, ["--help"]).output


@pytest.mark.parametrize("old", sorted(RENAMED_FLAGS))
def test_a_renamed_flag_stops_with_one_line_naming_the_new_one(tmp_path, old):
    command = "prepare" if old == "--fold" else "run"
    result = runner.invoke(app, [command, "esc50", "--root", str(tmp_path), "--out", str(tmp_path / "out"), old, "1"])
    assert result.exit_code != 0
    assert str(result.exception) == (f"{old} is now {RENAMED_FLAGS[old]} (each setting has one name, its study-file key "
                                     "with dashes; docs/settings.md)")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("old, new", [("model_id", "model"), ("dtype", "dtype"), ("max_seconds", "max_seconds")])
def test_an_old_spelling_in_a_study_file_names_the_new_key(tmp_path, old, new):
    raw = {"datasets": [{"name": "instruments"}], "recipes": [{"name": "r"}],
           "codecs": [{"name": "xcodec2", "options": {old: "x" if old == "model_id" else 1}}]}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(CodecBenchError) as err:
        plan.load_study(tmp_path / "s.yaml")
    assert f"`options.{old}` is now `{new}`" in str(err.value) and "\n" not in str(err.value)


def test_benchmark_dry_run_checks_engine_options(tmp_path):
    raw = {"datasets": [{"name": "instruments"}], "recipes": [{"name": "r"}], "engine": "submitit",
           "engine_options": {"slurm_partiton": "gpu"}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(raw))
    result = runner.invoke(app, ["benchmark", str(tmp_path / "s.yaml"), "--dry-run"])
    assert result.exit_code != 0
    assert "does not take engine_options 'slurm_partiton'; did you mean 'slurm_partition'?" in str(result.exception)
    raw["engine_options"] = {"slurm_partition": "gpu", "timeout_min": 60}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(raw))
    assert runner.invoke(app, ["benchmark", str(tmp_path / "s.yaml"), "--dry-run"]).exit_code == 0


def test_a_study_cell_gets_the_defaults_run_gets(tmp_path):
    """A Llasa recipe that names no values trains LoRA at 2e-4 with xcodec2, as `run --model` would."""
    raw = {"datasets": [{"name": "instruments"}], "models": [{"name": "HKUSTAudio/Llasa-1B-Multilingual"}],
           "recipes": [{"name": "r"}], "out": str(tmp_path / "out")}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(raw))
    study = plan.load_study(tmp_path / "s.yaml")
    config = plan.cell_config(study, plan.study_cells(study)[0])
    assert (config.codec.name, config.train.method, config.train.learning_rate, config.train.epochs) == ("xcodec2", "lora",
                                                                                                          2e-4, 3)
    assert config.sources["method"] == "model default"
    assert json.dumps(settings_table(config))  # run.json takes it as it is


def test_the_settings_reference_is_up_to_date():
    from codec_bench.reference import PATH, settings_reference

    committed = Path(__file__).resolve().parents[1] / PATH
    assert committed.read_text(encoding="utf-8") == settings_reference(), "run `python -m codec_bench.reference`"
    assert "| `codec_dtype` | `--codec-dtype` | `codecs` entry `dtype` |" in committed.read_text(encoding="utf-8")


def test_encode_fills_the_cache_run_would_use_and_calls_a_feature_cache_so(tmp_path):
    from test_pipeline import _csv_folder

    root = _csv_folder(tmp_path / "data")
    result = runner.invoke(app, ["encode", "csv", "--root", str(root), "--out", str(tmp_path / "out")])
    said = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    assert "feature cache (a front-end's frames) of logmel for csv filled in" in said  # the tiny LM's single-label default
    result = runner.invoke(app, ["encode", "csv", "--root", str(root), "--out", str(tmp_path / "out"), "--codec", "embedded"])
    assert result.exit_code == 0 and "token cache of embedded for csv" in " ".join(result.output.split())
