"""Recipe grids chosen on validation: grid expansion, the choice and its tie-breaks, never chosen on test (unit and end
to end: permuted test labels change no choice), a 2 x 2 grid study's report, and `run --tune` on a CSV folder."""

import doctest
import random
from dataclasses import replace

import pytest
import yaml
from conftest import TINY_LM, write_csv_folder, write_wave
from typer.testing import CliRunner

from codec_bench.cli import app
from codec_bench.core import io
from codec_bench.core.errors import CodecBenchError
from codec_bench.formats import GridsFile, Record
from codec_bench.report import selection
from codec_bench.report import write as report_write
from codec_bench.report.selection import choose, select_records
from codec_bench.study import benchmark, grid, plan
from codec_bench.testing import permutation

runner = CliRunner()


def test_docstring_examples_hold():
    assert doctest.testmod(selection).failed == 0 and doctest.testmod(grid).failed == 0


def test_a_grid_expands_in_order_and_names_only_what_varies():
    entries = grid.expand_grid({"name": "g", "learning_rate": [1e-3, 3e-3], "batch_size": 8, "epochs": [5, 10],
                                "method": ["lora"]})
    assert [e["name"] for e in entries] == ["g-lr0.001-ep5-lora", "g-lr0.001-ep10-lora", "g-lr0.003-ep5-lora",
                                            "g-lr0.003-ep10-lora"]
    assert entries[1] == {"name": "g-lr0.001-ep10-lora", "learning_rate": 1e-3, "batch_size": 8, "epochs": 10, "method": "lora"}
    assert grid.expand_grid({"name": "plain", "epochs": 3}) == [{"name": "plain", "epochs": 3}]
    with pytest.raises(CodecBenchError, match="`epochs` is an empty list"):
        grid.expand_grid({"name": "g", "epochs": []})


def test_a_study_grid_becomes_named_recipes_and_select_needs_a_grid(tmp_path):
    raw = {"datasets": ["instruments"], "select": "validation",
           "recipes": [{"name": "g", "learning_rate": [1e-3, 3e-3], "epochs": [1, 2]}, {"name": "plain", "epochs": 1}]}
    study = plan.parse_study(raw)
    assert [r.name for r in study.recipes] == ["g-lr0.001-ep1", "g-lr0.001-ep2", "g-lr0.003-ep1", "g-lr0.003-ep2", "plain"]
    assert study.recipes[3].learning_rate == 3e-3 and study.recipes[3].epochs == 2
    assert study.grids == {"g": [r.name for r in study.recipes[:4]]} and study.select == "validation"
    assert plan.parse_study(raw | {"select": "none"}).select == "none"
    with pytest.raises(CodecBenchError, match="select: validation` chooses within recipe grids"):
        plan.parse_study(raw | {"recipes": [{"name": "plain"}]})
    with pytest.raises(CodecBenchError, match="recipe g-lr0.001: unknown key 'learning_rte'"):
        plan.parse_study(raw | {"recipes": [{"name": "g", "learning_rate": [1e-3], "learning_rte": 1}]})


def _records(rng: random.Random, recipes: list[str], seeds=(0, 1), folds=("1", "2"), codecs=("a", "b")) -> list[Record]:
    rows = []
    for fold in folds:
        for codec in codecs:
            for recipe in recipes:
                for seed in seeds:
                    for split in ("validation", "test"):
                        for method in ("llm_scoring", "llm_generation"):
                            rows.append({"dataset": "d", "task": "single_label", "domain": "sound", "protocol": "p", "fold": fold,
                                         "seed": seed, "codec": codec, "model": f"tiny-llama/{recipe}", "method": method,
                                         "split": split, "n_clips": 10, "headline": "accuracy", "predictions": "",
                                         "metrics": {"accuracy": rng.choice([0.5, 0.6, 0.7])},
                                         "choices": {"best_epoch": rng.choice([1, 2]),
                                                     "validation_loss": rng.choice([1.0, 2.0])}})
    rows += [r | {"method": "baseline_logmel_logreg", "model": "logmel-logreg", "codec": "none"} for r in rows[:2]]
    return [Record.from_json(r) for r in rows]


GRIDS = {"g": [{"name": f"g-{i}", "settings": {"epochs": 2 if i % 2 else 1, "method": "full"}} for i in range(4)]}


def test_permuted_test_figures_change_no_choice():
    rng = random.Random(0)
    records = _records(rng, [c["name"] for c in GRIDS["g"]])
    kept, choices = select_records(records, GRIDS)
    for _ in range(5):
        shuffled = [r.metrics for r in records if r.split == "test"]
        rng.shuffle(shuffled)
        permuted = [replace(r, metrics=shuffled.pop()) if r.split == "test" else r for r in records]
        assert select_records(permuted, GRIDS)[1] == choices
    assert len(choices) == 4  # 2 folds x 2 codecs
    chosen = {(c["fold"], c["codec"]): c["chosen"] for c in choices}
    llm = [r for r in kept if r.method.startswith("llm_")]
    assert {r.model for r in llm} == {"tiny-llama/g-chosen"}
    assert all(r.choices["recipe"] == chosen[(r.fold, r.codec)] for r in llm)
    assert len(llm) == 4 * 2 * 2 * 2  # per group: the chosen recipe's 2 seeds x 2 splits x 2 methods
    assert sum(r.method.startswith("baseline") for r in kept) == 2


def _row(recipe: str, split: str, accuracy: float, loss: float | None, seed: int = 0) -> Record:
    return Record("d", "single_label", "sound", "p", None, seed, "c", f"m/{recipe}", "llm_scoring", split, 10,
                  {"accuracy": accuracy}, "accuracy", "", {"validation_loss": loss})


def test_ties_go_to_the_lower_validation_loss_then_the_cheaper_recipe_then_the_order():
    grids = {"g": [{"name": "long", "settings": {"epochs": 4, "method": "full"}},
                   {"name": "mixed", "settings": {"epochs": 1, "mix": 3.0, "method": "full"}},
                   {"name": "short", "settings": {"epochs": 2, "method": "full"}},
                   {"name": "lora", "settings": {"epochs": 2, "method": "lora"}}]}
    names = [c["name"] for c in grids["g"]]
    # the mean over seeds decides first
    rows = [_row("long", "validation", 0.9, 1.0, 0), _row("long", "validation", 0.5, 1.0, 1),
            _row("short", "validation", 0.8, 1.0, 0), _row("short", "validation", 0.7, 1.0, 1)]
    assert choose(rows, grids)[0]["chosen"] == "short"
    assert choose(rows, grids)[0]["candidates"][0] == {"recipe": "long", "validation": pytest.approx(0.7), "validation_loss": 1.0,
                                                       "seeds": [0, 1], "cost": [4.0, 1]}
    same = [_row(n, "validation", 0.8, 1.0) for n in names]
    lower_loss = [r if r.model != "m/long" else _row("long", "validation", 0.8, 0.5) for r in same]
    assert choose(lower_loss, grids)[0]["chosen"] == "long"
    assert choose(same, grids)[0]["chosen"] == "lora"  # 2 epochs as short, but LoRA (mixed: 1 x (1 + 3) = 4 epochs' clips)
    assert choose([r for r in same if r.model != "m/lora"], grids)[0]["chosen"] == "short"
    missing_loss = [_row("long", "validation", 0.8, None), _row("short", "validation", 0.8, 3.0)]
    assert choose(missing_loss, grids)[0]["chosen"] == "short"


def test_grids_file_round_trip_and_merge(tmp_path):
    path = tmp_path / "grids.json"
    GridsFile("validation", {"a": [{"name": "a-1"}]}).to_file(path)
    GridsFile("validation", {"b": [{"name": "b-1"}]}).to_file(path, merge=True)
    assert list(GridsFile.from_file(path).selected()) == ["a", "b"] and list(selection.grids_of(tmp_path)) == ["a", "b"]
    GridsFile("none", {"a": [{"name": "a-1"}]}).to_file(path)
    assert GridsFile.from_file(path).selected() == {} and selection.grids_of(tmp_path) == {}
    GridsFile("none", {}).to_file(path)
    assert not path.exists() and GridsFile.from_file(path).selected() == {}


# --- end to end -------------------------------------------------------------------------------------------------

def _csv_folder(root, n=24):
    return write_csv_folder(root, n)


def _odd_test_split(root):
    """One more test clip (a dog bark): 5 test clips, 3 to 2, so that dealing the labels otherwise changes the balance
    and every test accuracy (p becomes 1 - p, never itself on an odd count)."""
    write_wave(root / "dog_bark" / "extra.wav", seconds=0.3, freq=900, seed=99)
    with open(root / "metadata.csv", "a") as f:
        f.write("dog_bark/extra.wav,dog bark,test\n")
    return root


def _grid_study(folder, root):
    raw = {"name": "grid", "out": str(folder / "out"), "select": "validation", "generation": False,
           "datasets": [{"name": "csv", "root": str(root)}],
           "codecs": [{"name": "embedded", "options": {"codebook_size": 16}}],
           "models": [{"name": "tiny", "tiny_sizes": TINY_LM}],
           "recipes": [{"name": "g", "learning_rate": [1.0e-3, 3.0e-3], "epochs": [1, 2], "batch_size": 8}]}
    path = folder / "study.yaml"
    folder.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _run_choices(out) -> dict:
    return {p.parent.parent.name: [r["choices"] for r in io.read_json(p)["records"]]
            for p in sorted(out.glob("csv*/*/eval/records.json"))}


def test_a_grid_study_reports_the_recipe_chosen_on_validation_and_test_labels_change_no_choice(tmp_path, monkeypatch):
    root = _odd_test_split(_csv_folder(tmp_path / "data"))
    out = benchmark.run_study(_grid_study(tmp_path, root))
    results = io.read_json(out / "results.json")
    recipes = [f"g-lr{lr}-ep{ep}" for lr in ("0.001", "0.003") for ep in (1, 2)]
    [choice] = results["selection"]
    assert choice["grid"] == "g" and choice["metric"] == "accuracy" and choice["chosen"] in recipes
    assert [c["recipe"] for c in choice["candidates"]] == recipes
    assert choice["validation"] == max(c["validation"] for c in choice["candidates"])
    # the headline and the tests see the chosen recipe only
    llm = [r for r in results["records"] if r["method"] == "llm_scoring"]
    assert {(r["model"], r["split"]) for r in llm} == {("tiny-llama/g-chosen", "validation"), ("tiny-llama/g-chosen", "test")}
    assert all(r["choices"]["recipe"] == choice["chosen"] and r["choices"]["validation_loss"] is not None for r in llm)
    assert {r["model"] for r in results["aggregated"] if r["method"] == "llm_scoring"} == {"tiny-llama/g-chosen"}
    assert [c["llm"] for c in results["statistics"]["reference_checks"]] == ["llm_scoring"]
    report = (out / "report.md").read_text()
    assert "## Recipes chosen on validation" in report and all(r in report for r in recipes) and "✓" in report
    assert "Recipes chosen on validation" in (out / "report.html").read_text()
    # the same study with every test label dealt otherwise (the balance changed): every choice the same, on every run
    # and in the report
    before, after = permutation.relabel_csv_test(root)
    assert before != after
    permuted = benchmark.run_study(_grid_study(tmp_path / "permuted", root))
    assert _run_choices(permuted) == _run_choices(out) and len(_run_choices(out)) == 4
    again = io.read_json(permuted / "results.json")
    assert again["selection"] == results["selection"]
    assert [r["choices"] for r in again["records"]] == [r["choices"] for r in results["records"]]
    assert permutation.differences(permutation.choices_under(out), permutation.choices_under(permuted)) == []
    test_labels = [[row["labels"] for row in io.read_jsonl(folder / r["predictions"])]
                   for folder, found in ((out, results), (permuted, again))
                   for r in found["records"] if r["split"] == "test" and r["method"] == "llm_scoring"]
    assert all(a != b for a, b in zip(test_labels[0], test_labels[1]))  # the evaluation read every dealt label
    # a selector that reads test (the grid's recipe chosen on the test figures) fails the same check
    honest = selection.select_records

    def leaky(records, grids):
        swapped = [replace(r, split={"test": "validation", "validation": "test"}.get(r.split, r.split)) for r in records]
        return honest(swapped, grids)
    monkeypatch.setattr(report_write, "select_records", leaky)
    for folder in (out, permuted):
        report_write.report_folders([folder])
    assert "selection" in permutation.differences(permutation.choices_under(out), permutation.choices_under(permuted))


def _no_test_figure(out, output: str) -> None:
    """A choosing run's results, report and console: validation figures only, and test never evaluated."""
    results = io.read_json(out / "results.json")
    assert {r["split"] for r in results["records"]} == {"validation"}
    assert {r["split"] for r in results["aggregated"]} == {"validation"}
    assert not list(out.glob("csv/**/test_*_predictions.jsonl"))  # not computed, not only hidden
    for text in ((out / "report.md").read_text(), (out / "report.html").read_text(), output):
        flat = " ".join(text.split())
        assert "Validation figures only" in flat and "on the test split" not in flat and "(test)" not in flat
    assert "on the validation split" in (out / "report.md").read_text()


def test_run_tune_on_a_csv_folder_chooses_on_validation_only_then_tests_the_choice(tmp_path):
    root = _csv_folder(tmp_path / "data")
    out = tmp_path / "out"
    command = ["run", "csv", "--root", str(root), "--out", str(out), "--epochs", "1", "--no-generation", "--tune",
               "--batch-size", "8", "--codec", "embedded"]
    result = runner.invoke(app, command, env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    runs = sorted(p.name.split("__")[-1] for p in (out / "csv").glob("embedded-*__tiny-llama__tune-*"))
    assert runs == ["tune-lr0.001-ep1", "tune-lr0.001-ep2", "tune-lr0.003-ep1", "tune-lr0.003-ep2"]
    chosen = io.read_json(out / "results.json")["selection"]
    _no_test_figure(out, result.output)
    # the same command with --splits all: the trained models reused, the same choice, now with its test figures
    markers = {p: p.stat().st_mtime_ns for p in (out / "csv").glob("*/model/train_done.json")}
    again = runner.invoke(app, command + ["--splits", "all"])
    assert again.exit_code == 0, again.output
    assert len(markers) == 4 and all(p.stat().st_mtime_ns == t for p, t in markers.items())
    results = io.read_json(out / "results.json")
    assert results["selection"] == chosen
    assert results["selection"][0]["chosen"] in runs and len(results["selection"][0]["candidates"]) == 4
    assert {r["model"] for r in results["records"] if r["method"] == "llm_scoring"} == {"tiny-llama/tune-chosen"}
    assert {r["split"] for r in results["records"]} == {"validation", "test"}
    assert "on the test split" in (out / "report.md").read_text()
    # choosing again hides test once more, although its records are on disk
    hidden = runner.invoke(app, command, env={"COLUMNS": "300"})
    assert hidden.exit_code == 0, hidden.output
    assert {r["split"] for r in io.read_json(out / "results.json")["records"]} == {"validation"}
    wrong = runner.invoke(app, ["run", "csv", "--root", str(root), "--out", str(out), "--tune", "--learning-rate", "1e-3"])
    assert wrong.exit_code != 0 and "drop --learning-rate" in str(wrong.exception)


def test_tune_grid_is_in_the_help():
    result = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "300"})
    help_text = " ".join(result.output.split())
    assert "--tune" in help_text and "0.001, 0.003" in help_text and "0.0001, 0.0002, 0.0005" in help_text


def test_the_grid_example_config_validates():
    from pathlib import Path

    study = plan.load_study(Path(__file__).resolve().parents[1] / "configs" / "grid-example.yaml")
    assert study.select == "validation" and list(study.grids) == ["full"] and len(plan.study_cells(study)) == 8
