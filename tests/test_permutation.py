"""The permutation test with power (``testing.permutation``): the test labels dealt otherwise (every clip another
label, the class balance changed) change no choice of a single-label, a multi-label or a question-answering run,
while the test figures change; and a selector that reads test fails the same check."""

import shutil
from dataclasses import replace

import _fake_corpora_speech as speech
import numpy as np
import pytest
import soundfile as sf
from conftest import write_wave
from typer.testing import CliRunner

from codec_bench.cli import app
from codec_bench.config import RunConfig
from codec_bench.core import io
from codec_bench.study import evaluate_stage
from codec_bench.study.pipeline import manifests_for
from codec_bench.testing import permutation
from codec_bench.testing.permutation import choices_under, deal_other_labels, differences

runner = CliRunner()
TONES = {"bell": 1200.0, "drum": 150.0, "horn": 500.0}


def test_every_label_moves_and_the_balance_changes():
    single = [("a",), ("a",), ("a",), ("b",), ("b",), ("b",), ("b",)]
    dealt = deal_other_labels(single, ["a", "b"])
    assert all(d != s for d, s in zip(dealt, single)) and dealt.count(("a",)) == 4
    multi = deal_other_labels([("a", "b"), ("c",), ("a",)], ["a", "b", "c"])
    assert multi == [("b", "c"), ("a",), ("b",)]
    answers = deal_other_labels([("yes",), ("yes",), ("no",), ("car",), ("bus",)], ["bus", "car", "no", "yes"])
    assert answers == [("no",), ("no",), ("yes",), ("bus",), ("car",)]
    with pytest.raises(ValueError, match="keeps their balance"):  # balanced: no dealing could change it
        deal_other_labels([("a",), ("b",)], ["a", "b"])


def _tone(path, labels, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(4800) / 16_000
    wave = sum(0.2 * np.sin(2 * np.pi * TONES[label] * t) for label in labels) + 0.01 * rng.standard_normal(len(t))
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, wave.astype(np.float32), 16_000)


def _single_label(root):
    """Two classes: 16 training and 6 validation clips, balanced; 7 test clips, 3 dog barks and 4 sirens (an odd
    number: a test figure p becomes 1 - p, never itself)."""
    rows = ["path,label,split"]
    plan = [("train", i % 2) for i in range(16)] + [("validation", i % 2) for i in range(6)]
    plan += [("test", i >= 3) for i in range(7)]
    for i, (split, siren) in enumerate(plan):
        label = "siren" if siren else "dog bark"
        write_wave(root / f"{i}.wav", seconds=0.3, freq=300 if siren else 900, seed=i)
        rows.append(f"{i}.wav,{label},{split}")
    (root / "metadata.csv").write_text("\n".join(rows) + "\n")
    return root


def _multi_label(root):
    """Three tones, one or two per clip: 18 training, 6 validation and 7 test clips."""
    sets = [("bell",), ("drum",), ("horn",), ("bell", "drum"), ("drum", "horn"), ("bell", "horn")]
    rows = ["path,labels,split"]
    plan = [("train", sets[i % 6]) for i in range(18)] + [("validation", sets[i % 6]) for i in range(6)]
    plan += [("test", s) for s in [("bell",), ("bell", "drum"), ("bell",), ("horn",), ("drum", "horn"), ("bell",), ("drum",)]]
    for i, (split, labels) in enumerate(plan):
        _tone(root / f"{i}.wav", labels, i)
        rows.append(f"{i}.wav,{';'.join(labels)},{split}")
    (root / "metadata.csv").write_text("\n".join(rows) + "\n")
    return root


def _questions(root):
    """A Clotho-AQA layout: 4 training, 2 validation and 3 test audio files, two questions each; the test files'
    answers: 2 "yes" and 1 "no", and "car", "car", "bus"."""
    answers = {"train": [("yes", "car"), ("no", "bus"), ("yes", "bus"), ("no", "car")], "val": [("yes", "car"), ("no", "bus")],
               "test": [("yes", "car"), ("no", "car"), ("yes", "bus")]}
    for split, files in answers.items():
        rows = []
        for n, (presence, source) in enumerate(files):
            name = f"{split}{n}.wav"
            speech.audio(root / "audio_files" / name)
            rows += [[name, "Is there a bird?", presence, "yes"]] * 3 + [[name, "What is making noise?", source, "yes"]] * 3
        speech._csv(root / f"clotho_aqa_{split}.csv", ["file_name", "QuestionText", "answer", "confidence"], rows)
    return root


def _twice(tmp_path, build, relabel, run):
    """Run on the data as built and on a copy with its test labels dealt otherwise; the two output folders."""
    original = build(tmp_path / "data")
    dealt = tmp_path / "dealt"
    shutil.copytree(original, dealt)
    before, after = relabel(dealt)
    assert before != after
    return run(original, tmp_path / "out"), run(dealt, tmp_path / "out-dealt")


def _cli(dataset, *options):
    def run(root, out):
        result = runner.invoke(app, ["run", dataset, "--root", str(root), "--out", str(out), "--no-generation", *options])
        assert result.exit_code == 0, result.output
        return out
    return run


def _test_labels(out) -> list[list[list[str]]]:
    """The labels of every test predictions file, as the evaluation read them."""
    return [[row["labels"] for row in io.read_jsonl(path)] for path in sorted(out.rglob("test_*_predictions.jsonl"))]


def _assert_same_choices(a, b):
    found = choices_under(a)
    assert differences(found, choices_under(b)) == []
    assert _test_labels(a) != _test_labels(b)  # the evaluation saw the dealt labels
    return found


def test_single_label_choices_survive_dealt_test_labels(tmp_path):
    run = _cli("csv", "--codec", "embedded", "--epochs", "2", "--select-by", "metric", "--batch-size", "8", "--probes")
    found = _assert_same_choices(*_twice(tmp_path, _single_label, permutation.relabel_csv_test, run))
    llm = [c for k, c in found.items() if "|llm_scoring|" in k]
    assert llm and all("best_epoch" in c for c in llm)
    assert any("C" in c for c in found.values()) and any("k" in c for c in found.values())


def test_multi_label_choices_survive_dealt_test_labels(tmp_path):
    run = _cli("csv", "--codec", "embedded", "--mix", "0", "--epochs", "1", "--batch-size", "8")
    found = _assert_same_choices(*_twice(tmp_path, _multi_label, permutation.relabel_csv_test, run))
    names = {k.rsplit("/", 1)[-1] for k in found}
    assert {"thresholds.json", "multi_label_scoring.json", "llm_scoring_decision.json"} <= names
    assert any("decision_rule" in c and "scoring" in c for c in found.values() if isinstance(c, dict))


def test_question_answering_choices_survive_dealt_test_answers(tmp_path):
    run = _cli("clotho_aqa", "--epochs", "1", "--keywords", "0")
    found = _assert_same_choices(*_twice(tmp_path, _questions, permutation.relabel_clotho_test, run))
    assert {k.split("|")[1] for k in found if "|" in k} >= {"llm_scoring", "baseline_blind_llm", "baseline_majority_by_form"}


def _baseline_only(root, out):
    config = RunConfig(dataset="csv", root=root, out=out)
    [manifest] = manifests_for(config)
    evaluate_stage.run_baseline(config, manifest, out / "csv" / "baseline")
    return out


@pytest.mark.parametrize("build", [_single_label, _multi_label])
def test_a_selector_that_reads_test_fails_the_check(tmp_path, monkeypatch, build):
    honest = _twice(tmp_path / "honest", build, permutation.relabel_csv_test, _baseline_only)
    assert differences(choices_under(honest[0]), choices_under(honest[1])) == []
    # the leaky selector: the log-mel regression's C (and, multi-label, its decision rule) chosen on the test clips
    real = evaluate_stage._baseline_records

    def leaky(config, manifest, folder):
        test_as_validation = [replace(c, split="validation") for c in manifest.split("test")]
        clips = [c for c in manifest.clips if c.split != "validation"] + test_as_validation
        return real(config, replace(manifest, clips=clips), folder)
    monkeypatch.setattr(evaluate_stage, "_baseline_records", leaky)
    caught = _twice(tmp_path / "leaky", build, permutation.relabel_csv_test, _baseline_only)
    assert differences(choices_under(caught[0]), choices_under(caught[1])) != []
