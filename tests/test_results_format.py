"""Results that travel: the files the evaluation writes follow the shipped JSON Schemas, and a predictions file
re-scored with a few lines of plain Python and numpy (no codec-bench code) gives back every metric its record
reports, for single-label, multi-label and question-answering runs, by label scoring and by generation."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import referencing

from codec_bench.core import io
from codec_bench.data.manifest import Clip, Manifest
from codec_bench.evaluation.records import RunName, finish_records, generation_record, scoring_records
from codec_bench.formats import FormatVersionError, RecordsFile, read_results
from codec_bench.formats.schema import SchemaError
from codec_bench.prompts import Example

# ---- re-scoring, as a reader without codec-bench would write it -------------------------------------------------


def average_precision(truth: np.ndarray, score: np.ndarray) -> float:
    """Area under the precision-recall steps, one step per distinct score (ties move together), summed from the
    lowest score up (scikit-learn's order: the same float to the bit with scikit-learn 1.9)."""
    order = np.argsort(-score, kind="stable")
    truth, score = truth[order], score[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(score)), len(score) - 1]
    hits = np.cumsum(truth)[last_of_tie]
    precision, recall = hits / (last_of_tie + 1), hits / hits[-1]
    return float(np.sum((np.diff(np.r_[0, recall]) * precision)[::-1]))


def same(again: dict, reported: dict) -> bool:
    """Every metric equal; mAP to 1e-12 (a float sum whose order other AP implementations may change)."""
    return set(again) == set(reported) and all(
        again[k] == pytest.approx(v, rel=1e-12, abs=0) if k == "map" else again[k] == v for k, v in reported.items())


def f1(tp, fp, fn):
    return 2 * tp / (2 * tp + fp + fn)


def rescore(rows: list[dict], task: str, classes: list[str]) -> dict[str, float]:
    """Every metric of a record from its predictions rows; ``classes``: the candidates (the probabilities' keys)."""
    truth = np.array([[c in r["labels"] for c in classes] for r in rows])
    if task == "multi_label":
        predicted = np.array([[c in r["prediction"] for c in classes] for r in rows])
    else:  # one label per clip: an answer of several items is no class
        predicted = np.array([[r["prediction"] == [c] for c in classes] for r in rows])
    tp, fp, fn = (truth & predicted).sum(0), (~truth & predicted).sum(0), (truth & ~predicted).sum(0)
    used = truth.any(0) | predicted.any(0)
    out = {"macro_f1": float(np.mean(f1(tp[used], fp[used], fn[used])))}
    if task == "multi_label":
        out["micro_f1"] = float(f1(tp.sum(), fp.sum(), fn.sum()))
        if "probabilities" in rows[0]:
            scores = np.array([[r["probabilities"][c] for c in classes] for r in rows])
            out["map"] = float(np.mean([average_precision(truth[:, c], scores[:, c]) for c in np.flatnonzero(truth.any(0))]))
        else:
            out["exact_match"] = float(np.mean([set(r["prediction"]) == set(r["labels"]) for r in rows]))
    else:
        out["accuracy"] = float(np.mean([r["prediction"] == r["labels"] for r in rows]))
    if "probabilities" not in rows[0]:
        out["invalid_rate"] = float(1 - np.mean([bool(r["prediction"]) and set(r["prediction"]) <= set(classes) for r in rows]))
    if task == "aqa":
        for form in ("yes_no", "open"):
            asked = [r for r in rows if r["form"] == form]
            if asked:
                out[f"{form}_accuracy"] = float(np.mean([r["prediction"] == r["labels"] for r in asked]))
        out["any_annotator_accuracy"] = float(np.mean([(r["prediction"] or [""])[0] in r["answers"] for r in rows]))
        out["unseen_answer_rate"] = float(np.mean([r["labels"][0] not in classes for r in rows]))  # never a candidate
    return out


# ---- the runs, written by the evaluation's own writers ------------------------------------------------------------

def _manifest(task: str) -> Manifest:
    rng = np.random.default_rng(3)
    classes = {"single_label": ["cat", "dog", "siren"], "multi_label": ["bass", "drums", "piano", "voice"],
               "aqa": ["yes", "no", "dog", "rain"]}[task]
    clips = []
    for split, n in (("train", 6), ("validation", 24), ("test", 30)):
        for i in range(n):
            if task == "multi_label":
                labels = tuple(c for c in classes if rng.random() < 0.4) or (classes[i % 4],)
                clips.append(Clip(f"{split}{i}", "x.wav", labels, split))
            elif task == "aqa":
                answers = [str(rng.choice(classes)) for _ in range(3)]
                clips.append(Clip(f"{split}{i // 2}.wav#q{i % 2 + 1}", "x.wav", (answers[0],), split, extra={"answers": answers}))
            else:
                clips.append(Clip(f"{split}{i}", "x.wav", (classes[i % 3],), split))
    return Manifest("toy", task, "sound", "What is it?", classes, clips)


def _scores(n: int, classes: int, task: str, rng) -> np.ndarray:
    logits = rng.normal(size=(n, classes)) * 2
    if task == "multi_label":
        return 1 / (1 + np.exp(-logits))
    return np.exp(logits) / np.exp(logits).sum(1, keepdims=True)


def write_run(task: str, out: Path) -> list:
    """A run's ``eval/`` folder as the evaluation stage writes it: label scoring on validation and test, and
    generated answers (some outside the classes, some empty) on test."""
    rng = np.random.default_rng(0)
    manifest = _manifest(task)
    folder = out / "toy" / "run" / "eval"
    folder.mkdir(parents=True)
    examples = {s: [Example(c.id, "", c.labels) for c in manifest.split(s)] for s in ("validation", "test")}
    scores = {s: _scores(len(e), len(manifest.classes), task, rng) for s, e in examples.items()}
    scores["test"][:4] = scores["test"][4]  # ties between clips, which average precision must handle
    run = RunName("toy-codec", "tiny/full", "llm_scoring", seed=1)
    records = scoring_records(manifest, scores, examples, folder, run, out)
    vocabulary, most = manifest.classes + ["(unheard)"], 3 if task == "multi_label" else 2  # else: one item, as parsed
    answers = [tuple(sorted({str(a) for a in rng.choice(vocabulary, size=int(rng.integers(0, most)))})) for _ in examples["test"]]
    records.append(generation_record(manifest, "test", examples["test"], answers, folder, run, out))
    return finish_records(folder, records, {"dataset": "toy", "eval": {"generation_batch_size": 16}})


@pytest.mark.parametrize("task", ["single_label", "multi_label", "aqa"])
def test_rescoring_the_predictions_file_gives_every_reported_metric(tmp_path, task):
    records = write_run(task, tmp_path)
    classes = _manifest(task).classes
    assert {(r.split, r.method) for r in records} == {("validation", "llm_scoring"), ("test", "llm_scoring"),
                                                       ("test", "llm_generation")}
    for record in records:
        rows = [json.loads(line) for line in (tmp_path / record.predictions).read_text().splitlines()]
        assert len(rows) == record.n_clips
        if "probabilities" in rows[0]:
            assert list(rows[0]["probabilities"]) == classes  # every candidate's probability
        again = rescore(rows, task, classes)
        assert same(again, record.metrics), (record.split, record.method, again, record.metrics)


def test_aqa_rows_carry_the_question_its_clip_form_and_answers(tmp_path):
    write_run("aqa", tmp_path)
    row = io.read_jsonl(next(tmp_path.glob("toy/run/eval/test_llm_scoring_predictions.jsonl")))[0]
    assert row["id"] == "test0.wav#q1" and row["clip"] == "test0.wav" and len(row["answers"]) == 3
    assert row["form"] == ("yes_no" if row["labels"][0] in ("yes", "no") else "open")


# ---- the schemas, used as anyone would use them ---------------------------------------------------------------------

def shipped_validator(kind: str) -> jsonschema.Draft202012Validator:
    """A validator of the shipped schema file, with the package's other schemas as its references."""
    folder = files("codec_bench.formats") / "schemas"
    schemas = [json.loads(f.read_text()) for f in folder.iterdir() if f.name.endswith(".schema.json")]
    registry = referencing.Registry().with_resources((s["$id"], referencing.Resource.from_contents(s)) for s in schemas)
    return jsonschema.Draft202012Validator(json.loads((folder / f"{kind}-v2.schema.json").read_text()), registry=registry)


@pytest.mark.parametrize("task", ["single_label", "multi_label", "aqa"])
def test_records_and_predictions_files_follow_the_shipped_schemas(tmp_path, task):
    write_run(task, tmp_path)
    content = io.read_json(tmp_path / "toy" / "run" / "eval" / "records.json")
    shipped_validator("records").validate(content)
    assert content["settings"]["eval"] == {"generation_batch_size": 16}
    assert set(content["versions"]) >= {"python", "torch", "transformers", "codec_bench"}
    for path in (tmp_path / "toy" / "run" / "eval").glob("*_predictions.jsonl"):
        for row in io.read_jsonl(path):
            shipped_validator("prediction").validate(row)


def test_a_report_validates_and_carries_each_runs_settings_and_versions(tmp_path):
    from codec_bench.report.write import report_folders

    write_run("single_label", tmp_path)
    report_folders([tmp_path])
    results = io.read_json(tmp_path / "results.json")
    shipped_validator("results").validate(results)
    assert results["runs"]["toy/run/eval"]["settings"]["dataset"] == "toy"
    assert {r["predictions"].rsplit("/", 1)[0] for r in results["records"]} == {"toy/run/eval"}
    row = next(r for r in results["aggregated"] if r["split"] == "test" and r["method"] == "llm_scoring")
    assert (row["n_clips"], row["seeds"], row["folds"]) == (30, [1], [None])
    assert len(row["metrics"]["accuracy"]["ci"]) == 2 and row["interval"]["level"] == 0.95
    assert read_results(tmp_path / "results.json").runs == results["runs"]


def test_a_file_that_breaks_its_schema_or_version_is_refused_in_one_line(tmp_path):
    write_run("single_label", tmp_path)
    path = tmp_path / "toy" / "run" / "eval" / "records.json"
    content = io.read_json(path)
    content["records"][0]["n_clips"] = "thirty"
    io.write_json(path, content)
    with pytest.raises(SchemaError, match=r"records\.json: .* at records/0/n_clips: 'thirty' is not of type 'integer'") as err:
        RecordsFile.from_file(path)
    assert "\n" not in str(err.value)
    io.write_json(path, content | {"format_version": 7})
    with pytest.raises(FormatVersionError, match=r"format_version 7; this codec-bench reads format_version 1 and 2"):
        RecordsFile.from_file(path)


# ---- the model card -------------------------------------------------------------------------------------------------

def read_model_card(path: Path) -> tuple[str, list]:
    """The model-index of a card as huggingface_hub's own parser reads it: (model name, EvalResult list)."""
    from huggingface_hub import ModelCard

    card = ModelCard.load(path)  # a local file: no network
    return card.data.model_name, card.data.eval_results


def test_a_trained_runs_model_card_carries_its_results_as_model_index(tmp_path):
    from codec_bench.formats import CodecCard, RunCard
    from codec_bench.study.evaluate_stage import write_model_card

    records = write_run("multi_label", tmp_path)
    run_dir = tmp_path / "toy" / "run"
    RunCard("toy", "multi_label", "What is it?", _manifest("multi_label").classes, CodecCard("embedded", {"codebooks": 2}),
            "HKUSTAudio/Llasa-1B", "full", 1).to_file(run_dir / "run.json")
    path = write_model_card(run_dir)
    assert path == run_dir / "README.md"
    name, results = read_model_card(path)
    assert name == "run"
    expected = {(r.split, r.method, metric, value) for r in records for metric, value in r.metrics.items()}
    assert {(e.dataset_split, e.metric_config, e.metric_type, e.metric_value) for e in results} == expected
    assert {(e.task_type, e.dataset_type, e.dataset_config) for e in results} == {("audio-classification", "toy", "official")}
    text = path.read_text()
    assert "base_model: HKUSTAudio/Llasa-1B" in text and "| test | llm_scoring | map |" in text
