"""The on-disk formats (``codec_bench.formats``): every object reads back what it wrote, writes the bytes the
dict-based writers wrote before it (old output folders still read), and reads files written before a field existed;
the run folder's names; a report leaves no lock file among the user's files."""

from __future__ import annotations

import numpy as np
import pytest

from codec_bench.core import io
from codec_bench.formats import (
    Calibration,
    CellResult,
    CodecCard,
    DecisionFile,
    FormatVersionError,
    OutFolder,
    Record,
    RecordsFile,
    ResultsFile,
    RunCard,
    RunFolder,
    ScoringChoice,
    Thresholds,
    TrainDone,
    read_results,
)

RECORD = Record(dataset="esc50", task="single_label", domain="sound", protocol="official", fold="1", seed=2, codec="dac",
                model="tiny/full", method="llm_scoring", split="test", n_clips=40, metrics={"accuracy": 0.75},
                headline="accuracy", predictions="esc50/run/eval/test_llm_scoring_predictions.jsonl",
                choices={"best_epoch": 3})


VERSIONS = {"python": "3.11.9", "torch": "2.4.0", "transformers": "5.23.0", "codec_bench": "0.1.0"}
AGGREGATED = {"dataset": "esc50", "task": "single_label", "domain": "sound", "protocol": "official", "codec": "dac",
              "model": "tiny/full", "method": "llm_scoring", "split": "test", "headline": "accuracy",
              "metrics": {"accuracy": {"mean": 0.75, "std": 0.0, "ci": [0.6, 0.875]}}, "n_folds": 1, "folds": ["1"],
              "n_seeds": 1, "seeds": [2], "n_units": 1, "n_clips": 40,
              "interval": {"level": 0.95, "resamples": 1000, "seed": 0, "draw": "whole clips", "combined": "mean"}}


def old_bytes(tmp_path, content) -> bytes:
    """What the dict-based writers wrote for ``content``."""
    io.write_json(tmp_path / "old.json", content)
    return (tmp_path / "old.json").read_bytes()


def test_records_file_round_trip_and_version_1_still_reads(tmp_path):
    written = RecordsFile([RECORD, RECORD], {"dataset": "esc50"}, VERSIONS, "abc")
    written.to_file(tmp_path / "records.json")
    assert RecordsFile.from_file(tmp_path / "records.json") == written
    assert io.read_json(tmp_path / "records.json")["format_version"] == 2
    io.write_json(tmp_path / "old.json", [RECORD.to_json(), RECORD.to_json()])  # format_version 1: a bare list
    assert RecordsFile.from_file(tmp_path / "old.json") == RecordsFile([RECORD, RECORD])


def test_a_record_written_before_seeds_and_choices_reads_with_their_defaults():
    row = {k: v for k, v in RECORD.to_json().items() if k not in ("seed", "choices")}
    assert Record.from_json(row) == Record(**{**row, "seed": 0, "choices": {}})


def test_a_damaged_records_file_raises_value_error(tmp_path):
    (tmp_path / "records.json").write_text('[{"dataset": "es')
    with pytest.raises(ValueError):
        RecordsFile.from_file(tmp_path / "records.json")
    io.write_json(tmp_path / "records.json", {"not": "a list"})
    with pytest.raises(ValueError):
        RecordsFile.from_file(tmp_path / "records.json")


def test_results_file_round_trip_and_version_1_still_reads(tmp_path):
    results = ResultsFile([RECORD], [AGGREGATED], {"bootstrap": {}}, [{"file": "x", "cell": {}, "error": "e"}],
                          runs={"esc50/run/eval": {"settings": {}, "versions": VERSIONS, "git_revision": None}},
                          versions=VERSIONS, git_revision="abc")
    results.to_file(tmp_path / "results.json")
    assert ResultsFile.from_file(tmp_path / "results.json") == results
    assert read_results(tmp_path / "results.json") == results
    old = {"format_version": 1, "records": [RECORD.to_json()], "aggregated": [{"dataset": "esc50"}],
           "statistics": {"bootstrap": {}}, "failed_cells": [{"file": "x", "cell": {}, "error": "e"}]}
    io.write_json(tmp_path / "old.json", old)
    assert read_results(tmp_path / "old.json") == ResultsFile([RECORD], [{"dataset": "esc50"}], {"bootstrap": {}},
                                                              [{"file": "x", "cell": {}, "error": "e"}])
    chosen = ResultsFile([RECORD], selection=[{"grid": "g", "chosen": "g-lr0.001"}], versions=VERSIONS)  # chosen on validation
    chosen.to_file(tmp_path / "chosen.json")
    assert ResultsFile.from_file(tmp_path / "chosen.json") == chosen


@pytest.mark.parametrize("status, records, error", [("ok", [RECORD], None), ("failed", [], "RuntimeError: boom")])
def test_cell_result_round_trip_and_version_1_still_reads(tmp_path, status, records, error):
    cell = CellResult({"name": "c", "seed": 0}, status, records, error, 1.5, {"python": "3.11"}, "abc")
    cell.to_file(tmp_path / "c.json")
    assert CellResult.from_file(tmp_path / "c.json") == cell == read_results(tmp_path / "c.json")
    old = {"format_version": 1, "cell": {"name": "c", "seed": 0}, "status": status, "records": [r.to_json() for r in records],
           "error": error, "wall_seconds": 1.5, "versions": {"python": "3.11"}, "git_revision": "abc"}
    io.write_json(tmp_path / "old.json", old)
    assert read_results(tmp_path / "old.json") == cell


def test_another_results_version_is_refused_in_one_line(tmp_path):
    io.write_json(tmp_path / "future.json", {"format_version": 3, "records": []})
    with pytest.raises(FormatVersionError, match="format_version 3") as err:
        read_results(tmp_path / "future.json")
    assert err.value.version == 3 and "\n" not in str(err.value)
    io.write_json(tmp_path / "records.json", {"format_version": 3, "records": []})
    with pytest.raises(FormatVersionError, match="reads format_version 1 and 2"):
        RecordsFile.from_file(tmp_path / "records.json")


@pytest.mark.parametrize("state", [None, "codec.safetensors"])
def test_run_card_round_trip_and_bytes(tmp_path, state):
    card = RunCard("esc50", "multi_label", "Which sounds?", ["cat", "dog"],
                   CodecCard("embedded", {"codebooks": 2}, 10.0, "embedded-1234", "sum", state), "tiny", "full", 1)
    card.to_file(tmp_path / "run.json")
    assert RunCard.from_file(tmp_path / "run.json") == card
    codec = {"name": "embedded", "options": {"codebooks": 2}, "max_seconds": 10.0, "key": "embedded-1234", "codebooks": "sum"}
    old = {"dataset": "esc50", "task": "multi_label", "instruction": "Which sounds?", "classes": ["cat", "dog"],
           "codec": codec | ({"state": state} if state else {}), "model": "tiny", "recipe": "full", "seed": 1}
    assert (tmp_path / "run.json").read_bytes() == old_bytes(tmp_path, old)
    assert card.codec_state(tmp_path) == tmp_path / "codec.safetensors"


def test_an_old_run_card_reads_with_defaults():
    card = RunCard.from_json({"dataset": "d", "task": "single_label", "instruction": "i", "classes": ["a"],
                              "codec": {"name": "embedded"}, "model": "m", "recipe": "r"})
    assert (card.codec.codebooks, card.codec.options, card.codec.state, card.seed) == ("interleave", {}, None, 0)


def test_decision_files_round_trip_and_bytes(tmp_path):
    classes = ["cat", "dog"]
    thresholds = np.array([0.25, 0.7])
    Thresholds.of(classes, thresholds).to_file(tmp_path / "thresholds.json")
    assert Thresholds.from_file(tmp_path / "thresholds.json") == Thresholds({"cat": 0.25, "dog": 0.7})
    assert (tmp_path / "thresholds.json").read_bytes() == old_bytes(tmp_path, dict(zip(classes, thresholds)))

    platt = np.array([[1.5, -0.25], [0.5, 0.125]])
    Calibration.of(classes, platt).to_file(tmp_path / "calibration.json")
    calibration = Calibration.from_file(tmp_path / "calibration.json")
    assert calibration == Calibration.of(classes, platt) and np.array_equal(calibration.matrix(classes), platt)
    assert (tmp_path / "calibration.json").read_bytes() == old_bytes(tmp_path, {c: list(ab) for c, ab in zip(classes, platt)})

    choice = ScoringChoice("label_sets", {"label_sets": 0.5, "item_path": 0.4}, {"label_sets": {"global": 0.5}})
    choice.to_file(tmp_path / "multi_label_scoring.json")
    assert ScoringChoice.from_file(tmp_path / "multi_label_scoring.json") == choice
    old = {"validation_micro_f1": {"label_sets": 0.5, "item_path": 0.4}, "rules": {"label_sets": {"global": 0.5}},
           "method": "label_sets"}
    assert (tmp_path / "multi_label_scoring.json").read_bytes() == old_bytes(tmp_path, old)

    DecisionFile("per_label", {"global": 0.4, "per_label": 0.5}).to_file(tmp_path / "d.json")
    assert DecisionFile.from_file(tmp_path / "d.json") == DecisionFile("per_label", {"global": 0.4, "per_label": 0.5})


def test_train_done_round_trip_and_old_markers(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    done = TrainDone(config={"epochs": 2}, train_loss=1.25, steps=6, seconds=3.0, selected_by="metric", best_epoch=2,
                     best_validation_loss=1.5,
                     validation=[{"epoch": 1, "loss": 2.0, "metric": 0.5}, {"epoch": 2, "loss": 1.5, "metric": 0.75}])
    done.to_file(tmp_path / "train_done.json", [tmp_path / "model.safetensors"])
    again = TrainDone.from_file(tmp_path / "train_done.json")
    assert again.files["model.safetensors"]["bytes"] == 7
    assert again == TrainDone(**{**done.__dict__, "files": again.files})
    assert again.choices() == {"best_epoch": 2, "epochs": 2, "selected_by": "metric", "stopped_early": False,
                               "validation_loss": 1.5}
    io.write_json(tmp_path / "old.json", {"config": {}, "steps": 4, "files": {}})  # before epoch selection existed
    assert TrainDone.from_file(tmp_path / "old.json").choices() == {"best_epoch": None, "epochs": 0, "selected_by": "loss",
                                                                    "stopped_early": False, "validation_loss": None}


def test_run_folder_names(tmp_path):
    run = RunFolder(tmp_path / "esc50" / "run")
    assert run.run_card.name == "run.json" and run.train_done == run.path / "model" / "train_done.json"
    assert run.eval.records == run.path / "eval" / "records.json" and run.prompt_file("train") == run.prompts / "train.jsonl"
    assert run.eval.predictions("test", "llm_scoring").name == "test_llm_scoring_predictions.jsonl"
    assert [run.eval.thresholds.name, run.eval.calibration.name, run.eval.scoring_choice.name] == [
        "thresholds.json", "calibration.json", "multi_label_scoring.json"]


def test_out_folder_finds_records_with_a_done_marker_only(tmp_path):
    out = OutFolder(tmp_path)
    for folder in ("esc50/run/eval", "esc50/baseline", "esc50/probes__a__b", "esc50/zero_shot__a__b", "esc50/other"):
        RecordsFile([RECORD]).to_file(tmp_path / folder / "records.json")
        (tmp_path / folder / "done.json").write_text("{}")
    (tmp_path / "esc50" / "probes__a__b" / "done.json").unlink()
    assert [f.path.relative_to(tmp_path).as_posix() for f in out.records_folders()] == [
        "esc50/run/eval", "esc50/baseline", "esc50/zero_shot__a__b"]


def test_a_report_leaves_no_lock_among_the_users_files(tmp_path, monkeypatch):
    from test_report import fake_run

    from codec_bench.report.write import report_folders

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fake_run(tmp_path / "run", "esc50", 60)
    paths = report_folders([tmp_path / "run"], tmp_path / "report")
    found = sorted(p.name for p in (tmp_path / "report").iterdir())
    assert found == sorted(p.name for p in paths.values()) and not [n for n in found if n.startswith(".")]
    assert not list((tmp_path / "run").glob(".*lock*"))
    assert list((tmp_path / "cache" / "codec-bench" / "locks").glob("report.md-*.lock"))
