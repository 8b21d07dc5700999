"""The bad inputs of issue 34, each fed as a new user would: a keywords file split by commas, question rows without
an answer, ``1e-3`` in a study file, ``--bpe`` without ``--codec`` where the task's codec is log-mel, ``run --tune``'s
console, a grid study's report without its validation records, and ``benchmark --dry-run`` on a root that does not
exist. Each answers in one line that names the file or setting and the fix, or keeps (and counts) what it cannot use
(docs/input-errors.md)."""

from __future__ import annotations

import _fake_corpora_speech as speech
import pytest
import yaml
from conftest import write_csv_folder
from typer.testing import CliRunner

from codec_bench.cli import app
from codec_bench.core import io
from codec_bench.core.errors import CodecBenchError
from codec_bench.data.clotho_aqa import load
from codec_bench.formats import OutFolder, RecordsFile
from codec_bench.study import plan

runner = CliRunner()


def _csv_folder(root, n=24):
    return write_csv_folder(root, n, ("dog_bark", "siren"))


# --- question answering files ----------------------------------------------------------------------------------

def test_keywords_separated_by_commas_are_refused_naming_the_row_and_the_separator(tmp_path):
    root = speech.clotho_aqa(tmp_path / "corpus")
    metadata = root / "clotho_aqa_metadata.csv"
    metadata.write_text("file_name,keywords\nbirds a.wav,birds;morning\nrain.wav,tone,low,sine\n", encoding="utf-8")
    with pytest.raises(CodecBenchError) as err:
        load(root)
    message = str(err.value)
    assert "\n" not in message and str(metadata) in message and "row 3 (rain.wav) has 4 fields, the header 2" in message
    assert "separate a file's keywords with ';'" in message and "rain.wav,tone;low;sine" in message
    metadata.write_text("file_name,keywords\nrain.wav,tone;low;sine,\n", encoding="utf-8")  # as said; a trailing comma is fine
    assert {tuple(c.extra["keywords"]) for c in load(root).clips if c.id.startswith("rain.wav")} == {("tone", "low", "sine")}


def test_question_rows_without_an_answer_are_dropped_with_a_count_naming_the_first(tmp_path, capsys):
    root = speech.clotho_aqa(tmp_path / "corpus")
    train = root / "clotho_aqa_train.csv"
    lines = train.read_text(encoding="utf-8").splitlines()
    for i in (2, 3, 5, 6, 8):  # rows 2, 3, 5, 6 and 8 of the file (1 is the header) lose their answer
        file_name, question, _, confidence = lines[i - 1].split(",")
        lines[i - 1] = ",".join([file_name, question, "", confidence])
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    total = len(lines) - 1
    capsys.readouterr()
    manifest = load(root)
    warning = " ".join(capsys.readouterr().err.split())
    assert f"{train}: 5 of {total} rows left out, each without a file name, question or answer" in warning
    assert "row 2 (birds a.wav: " in warning and "row 3 (" in warning and "row 5 (" in warning and ", ..." in warning
    first = [c for c in manifest.clips if c.id == "birds a.wav#q1"][0]
    assert len(first.extra["answers"]) == 1  # the question keeps the one answer it has
    lines[1] = "birds a.wav,Is it a bird, or not?,yes,yes"  # an unquoted comma would shift the answer: refused
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(CodecBenchError, match=r"row 2 \(birds a.wav\) has 5 fields, the header 4; quote a question"):
        load(root)


# --- settings --------------------------------------------------------------------------------------------------

def test_a_study_reads_1e_3_as_the_number_meant(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text("datasets: [instruments]\nselect: validation\n"
                    "recipes:\n  - {name: g, learning_rate: [1e-3, 3e-3], weight_decay: 1e-2}\n", encoding="utf-8")
    assert yaml.safe_load(path.read_text())["recipes"][0]["learning_rate"] == ["1e-3", "3e-3"]  # YAML 1.1: text
    study = plan.load_study(path)
    assert [(r.name, r.learning_rate, r.weight_decay) for r in study.recipes] == [("g-lr0.001", 1e-3, 1e-2),
                                                                                   ("g-lr0.003", 3e-3, 1e-2)]
    # the same names as 1.0e-3 gives, so a study's cells do not change with the notation
    path.write_text(path.read_text().replace("1e-3", "1.0e-3").replace("3e-3", "3.0e-3"), encoding="utf-8")
    assert [r.name for r in plan.load_study(path).recipes] == ["g-lr0.001", "g-lr0.003"]
    for bad, message in (("fast", "learning_rate must be float, got 'fast'"), ("-1e-3", "learning_rate -0.001: must be "
                                                                                       "more than 0")):
        path.write_text(f"datasets: [instruments]\nrecipes:\n  - {{name: r, learning_rate: {bad}}}\n", encoding="utf-8")
        with pytest.raises(CodecBenchError, match=message):
            plan.load_study(path)


def test_bpe_without_a_codec_names_the_tasks_default_codec_and_the_fix(tmp_path):
    root = _csv_folder(tmp_path / "data")
    result = runner.invoke(app, ["run", "csv", "--root", str(root), "--out", str(tmp_path / "out"), "--bpe", "5"])
    assert result.exit_code != 0 and isinstance(result.exception, CodecBenchError)
    message = str(result.exception)
    assert message.startswith("--bpe 5: ") and "\n" not in message
    assert "the default codec of a single-label dataset with the tiny LM is logmel" in message
    assert "pass --codec embedded (or another token codec)" in message


# --- grids chosen on validation --------------------------------------------------------------------------------

def _drop_validation(out, keep: int = 0) -> list:
    """Rewrite every tune run's records.json without its validation records, but for the first ``keep`` runs."""
    folders = sorted(p.parent for p in out.glob("csv/*__tune-*/eval/records.json"))
    for folder in folders[keep:]:
        path = folder / "records.json"
        RecordsFile([r for r in RecordsFile.from_file(path).records if r.split != "validation"]).to_file(path)
    return folders


def test_tune_says_the_chosen_recipe_and_a_report_without_validation_keeps_the_grids_rows(tmp_path):
    root = _csv_folder(tmp_path / "data")
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", "csv", "--root", str(root), "--out", str(out), "--epochs", "1", "--no-generation",
                                 "--tune", "--batch-size", "8", "--codec", "embedded", "--splits", "all"])
    assert result.exit_code == 0, result.output
    [choice] = io.read_json(out / "results.json")["selection"]
    said = " ".join(result.output.split())
    assert (f"csv, {choice['codec']}, tiny-llama: chose {choice['chosen']} of grid tune on validation (accuracy "
            f"{100 * choice['validation']:.1f} %, of 4 recipes)") in said
    # one recipe's validation records gone: chosen among the other three, and said
    folders = _drop_validation(out, keep=3)
    again = runner.invoke(app, ["report", str(out)])
    assert again.exit_code == 0, again.output
    said = " ".join(again.output.split())
    assert f"tune: 1 recipe(s) without a validation record of label scoring ({folders[3].parent.name.split('__')[-1]}" in said
    assert "chosen among the other 3" in said
    # every validation record gone: nothing chosen, every recipe's rows shown unchosen, one line saying why and how
    _drop_validation(out)
    again = runner.invoke(app, ["report", str(out)])
    assert again.exit_code == 0, again.output
    said = " ".join(again.output.split())
    assert "tune: 4 recipe(s) without a validation record of label scoring" in said
    assert "not chosen: its rows are shown unchosen, one per recipe" in said and "remove those runs' eval/ folders" in said
    results = io.read_json(out / "results.json")
    [unchosen] = results["selection"]
    assert unchosen["chosen"] is None and len(unchosen["missing"]) == 4
    shown = {r["model"] for r in results["records"] if r["method"] == "llm_scoring"}
    assert shown == {f"tiny-llama/{f.parent.name.split('__')[-1]}" for f in folders} and len(shown) == 4
    report = (out / "report.md").read_text()
    assert "not chosen (no validation record)" in report and "no validation" in report
    assert (OutFolder(out).grids).is_file()


# --- benchmark --dry-run ---------------------------------------------------------------------------------------

def test_dry_run_checks_roots_layouts_and_recipes_one_line_each(tmp_path):
    good = _csv_folder(tmp_path / "data")
    empty = tmp_path / "empty"
    empty.mkdir()
    study = tmp_path / "study.yaml"

    def dry_run(datasets: list, recipes: list, models: tuple = ("tiny",)):
        study.write_text(yaml.safe_dump({"datasets": datasets, "recipes": recipes, "models": list(models)}), encoding="utf-8")
        result = runner.invoke(app, ["benchmark", str(study), "--dry-run"])
        return result, [" ".join(line.split()) for line in result.output.split(f"{study}: ")[1:]]

    result, lines = dry_run([{"name": "esc50", "root": str(tmp_path / "nowhere")}, {"name": "csv", "root": str(empty)}],
                            [{"name": "plain", "epochs": 1}])
    assert result.exit_code != 0 and isinstance(result.exception, CodecBenchError)
    assert str(result.exception) == f"{study}: --dry-run found 2 problems (above, one per line); fix them before the study runs"
    assert lines == [f"dataset esc50: root {tmp_path / 'nowhere'} is not a folder; set its `root` to the unpacked corpus "
                     "(`codec-bench datasets` shows each corpus's layout)",  # said once, not once per fold
                     f"dataset csv: {empty / 'metadata.csv'}: metadata.csv not found; create it with columns "
                     "path,label[,split]. (`codec-bench datasets` shows the expected layout)"]
    assert "esc50-official-fold5__logmel__tiny-llama__plain__seed0" in result.output  # the cells are still listed
    result, lines = dry_run([{"name": "csv", "root": str(good)}], [{"name": "plain"}, {"name": "mixed", "mix": 1.0}],
                            ("tiny", str(tmp_path / "no-model")))
    assert result.exit_code != 0 and "found 2 problems" in str(result.exception)
    assert lines[-1].startswith("recipe mixed on csv: --mix 1: mixtures unite labels, which only multi-label datasets allow")
    assert f"{tmp_path / 'no-model'}: no such folder ({study}: model); pass an existing local model folder" in " ".join(
        result.output.split())
    result, lines = dry_run([{"name": "csv", "root": str(good)}], [{"name": "plain"}])
    assert result.exit_code == 0, result.output
    assert lines == ["roots, layouts and settings checked; nothing to fix"]
