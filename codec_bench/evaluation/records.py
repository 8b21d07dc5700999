"""Result records: held-out scores or generated answers -> metrics, a predictions file and one :class:`Record` per
split.

A record (``formats.Record``: dataset, task, domain, protocol, fold, seed, codec, model, method, split, clip
count, metrics, the headline metric and the path of its ``<split>_<method>_predictions.jsonl``, one row per clip:
id, labels, prediction, per-class probabilities; for question answering the audio clip, the question's form and
every annotator's answer: ``formats/schemas/prediction-v2.schema.json``) is what reports read. Labels are decided
on the probabilities as computed; the probabilities are written rounded to ``PROBABILITY_DIGITS`` and mAP is scored
on them as written, so the file re-scores to the record.
Multi-label label sets follow a decision rule fitted on the validation split (``decisions``), written next to
the predictions (``thresholds.json``, ``calibration.json``), where ``predict`` finds it. For multi-label runs,
:func:`score_multi_label_best` also picks the scoring method by cross-fitted validation micro-F1 (see ``scoring``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from ..config import RunConfig, settings_table
from ..core import io
from ..core.errors import CodecBenchError
from ..core.finished import files_in, mark_done, reusable
from ..core.parallel import build_lock
from ..data.augment import is_augmented_id
from ..data.clotho_aqa import audio_of
from ..data.manifest import Manifest
from ..formats import Calibration, DecisionFile, Record, RecordsFile, RecordsFolder, ScoringChoice, Thresholds
from ..formats.results import git_revision, json_settings, runtime_versions
from ..prompts import Example
from . import decisions
from .metrics import HEADLINE, YES_NO, apply_thresholds, aqa_metrics, label_matrix, multi_label_metrics, single_label_metrics
from .scoring import score_label_questions, score_label_sets, score_multi_label, score_single_label

MAX_LABEL_SETS = 512
PROBABILITY_DIGITS = 6  # decimals of the probabilities written (and scored): the file stays small


@dataclass(frozen=True)
class RunName:
    """Who produced a record: the codec and the model as results name them, the method (``llm_scoring``,
    ``llm_generation``, ``baseline_logmel_logreg``, ``probe_<probe>_<vectors>``, ``zero_shot``) and the training
    seed."""

    codec: str
    model: str
    method: str
    seed: int = 0


@dataclass
class Predictions:
    """What a split's predictions file holds: the examples, their true labels, the predicted labels and, for
    scoring, ``probabilities: (n_examples, n_classes)``."""

    examples: Sequence[Example]
    labels: list[tuple[str, ...]]
    predicted: list[list[str]]
    probabilities: np.ndarray | None = None


def finished_records(folder: Path, what: str, splits: Sequence[str] | None = None) -> list[Record] | None:
    """The records of ``folder`` when its done-marker vouches for them and every prediction file beside them;
    None (with a one-line message if something was there) when they must be computed again. ``splits``: the splits
    wanted; records that lack one (written by a validation-only run, ``EvalConfig.splits``) are computed again, and
    only the wanted splits' records are returned."""
    files = RecordsFolder(folder)
    if not reusable(files.done, what, files.records):
        return None
    records = RecordsFile.from_file(files.records).records
    if splits is None:
        return records
    if not set(splits) <= {r.split for r in records}:
        return None
    return [r for r in records if r.split in splits]


def cached_records(folder: Path, what: str, build: Callable[[], list[Record]],
                   splits: Sequence[str] | None = None) -> list[Record]:
    """The records of ``folder``, built once by ``build()`` (which ends with :func:`finish_records`) under a lock:
    processes that need the same rows (the recipes of one codec and model, the folds' baseline) wait and reuse them.
    ``splits``: as :func:`finished_records`."""
    with build_lock(folder, what):
        found = finished_records(folder, what, splits)
        return found if found is not None else build()


def finish_records(folder: Path, records: list[Record], settings: object = None) -> list[Record]:
    """Write ``records.json`` (with ``settings``, the effective settings of the run that made the records: for a run,
    each with its source as run.json holds them, ``config.settings_table``; the library versions and the git revision)
    and the done-marker over it and the prediction files; returns ``records``."""
    files = RecordsFolder(folder)
    table = settings_table(settings) if isinstance(settings, RunConfig) else json_settings(settings or {})
    RecordsFile(records, table, runtime_versions(), git_revision()).to_file(files.records)
    mark_done(files.done, files_in(folder, skip=(files.done.name,)), records=len(records))
    return records


MULTI_LABEL_METHODS = ("label_sets", "label_sets_normalised", "item_path", "label_questions")


def multi_label_scorer(method: str, model, encoder, classes: Sequence[str],
                       label_sets: Sequence[tuple[str, ...]]) -> Callable[[Sequence[Example]], np.ndarray]:
    """``examples -> (n, C)`` per-label probabilities by ``method`` (see ``scoring``); ``label_sets``: the training
    split's distinct answers (of its own clips: the label sets that occur, not those of mixtures)."""
    if method == "item_path":
        return lambda ex: score_multi_label(model, encoder, ex, classes)
    if method in ("label_sets", "label_sets_normalised"):
        return lambda ex: score_label_sets(model, encoder, ex, classes, label_sets, normalise=method != "label_sets")
    if method == "label_questions":
        return lambda ex: score_label_questions(model, encoder, ex, classes)
    raise CodecBenchError(f"unknown multi-label scoring method {method!r}; one of {', '.join(MULTI_LABEL_METHODS)}")


def score_multi_label_best(model, encoder, examples: dict[str, list[Example]], splits: list[str], manifest: Manifest,
                           questions: bool = False) -> tuple[dict[str, np.ndarray], ScoringChoice]:
    """Per-label probabilities from the scoring method with the best cross-fitted validation micro-F1 (each method
    with its best decision rule, see ``decisions``); ``questions``: the model was trained with label questions.
    Returns the scores per split and the choice (the method, each method's figure and its rules')."""
    label_sets = sorted({e.answer_items for e in examples["train"] if not is_augmented_id(e.id)})  # sets that occur
    names = [m for m in MULTI_LABEL_METHODS if (m != "label_questions" or questions)
             and (not m.startswith("label_sets") or len(label_sets) <= MAX_LABEL_SETS)]
    methods = {m: multi_label_scorer(m, model, encoder, manifest.classes, label_sets) for m in names}
    f1: dict[str, float] = {}
    by_rule: dict[str, dict[str, float]] = {}
    scores_by_method: dict[str, dict[str, np.ndarray]] = {}
    if "validation" in splits and len(methods) > 1:
        truth = label_matrix([e.answer_items for e in examples["validation"]], manifest.classes)
        for name, method in methods.items():
            validation = method(examples["validation"])
            rules = {rule: decisions.cross_fitted_micro_f1(rule, truth, validation) for rule in decisions.RULES}
            by_rule[name] = rules
            f1[name] = max(rules.values())
            scores_by_method[name] = {"validation": validation}
        best = max(f1, key=f1.get)
    else:
        best = "label_questions" if questions else "label_sets" if "label_sets" in methods else "item_path"
    chosen = scores_by_method.get(best, {})
    return {s: chosen[s] if s in chosen else methods[best](examples[s]) for s in splits}, ScoringChoice(best, f1, by_rule)


def label_scores(model, encoder, examples: dict[str, Sequence[Example]], splits: list[str], manifest: Manifest,
                 folder: Path, questions: bool = False) -> tuple[dict[str, np.ndarray], ScoringChoice | None]:
    """Label-scoring probabilities per split: for multi-label tasks by the method with the best validation micro-F1
    (:func:`score_multi_label_best`, its choice written to ``folder/multi_label_scoring.json`` and returned), else
    the softmax over the classes (choice None)."""
    if manifest.task == "multi_label":
        scores, choice = score_multi_label_best(model, encoder, examples, splits, manifest, questions=questions)
        choice.to_file(RecordsFolder(folder).scoring_choice)
        return scores, choice
    return {s: score_single_label(model, encoder, examples[s], manifest.classes) for s in splits}, None


def scoring_records(manifest: Manifest, scores: dict[str, np.ndarray], examples: dict[str, Sequence[Example]], folder: Path,
                    run: RunName, out: Path) -> list[Record]:
    """Metrics and predictions from probabilities. Multi-label label sets follow the decision rule with the best
    cross-fitted validation micro-F1 (``decisions.choose``), fitted on validation: its thresholds
    (``thresholds.json``), its Platt calibration when it has one (``calibration.json``, the probabilities written
    are the calibrated ones) and the rule with every rule's figure (``<method>_decision.json``); ``predict`` reads
    them."""
    labels = {s: [e.answer_items for e in examples[s]] for s in scores}
    decision = decisions.Decision("fixed", np.full(len(manifest.classes), 0.5))  # no validation split: 0.5
    if manifest.task == "multi_label" and "validation" in scores:
        decision = decisions.choose(label_matrix(labels["validation"], manifest.classes), scores["validation"])
        files = RecordsFolder(folder)
        Thresholds.of(manifest.classes, decision.thresholds).to_file(files.thresholds)  # predict uses them
        if decision.calibration is not None:
            Calibration.of(manifest.classes, decision.calibration).to_file(files.calibration)
        else:  # an earlier evaluation's calibration must not reach predict
            files.calibration.unlink(missing_ok=True)
        DecisionFile(decision.rule, decision.cross_fitted_f1).to_file(files.decision(run.method))
    records = []
    for split, probabilities in scores.items():
        truth = label_matrix(labels[split], manifest.classes)
        # labels are decided on the probabilities as computed (as ``predict`` decides); the ranking metric (mAP) is
        # scored on the probabilities as written, so the file re-scores to the record
        if manifest.task == "multi_label":
            probabilities = decision.calibrate(probabilities)
            predicted = apply_thresholds(probabilities, decision.thresholds)
            written = np.round(probabilities, PROBABILITY_DIGITS)
            metrics = multi_label_metrics(truth, written, predicted)
            predictions = [[c for c, on in zip(manifest.classes, row) if on] for row in predicted]
        else:
            predicted = probabilities.argmax(1)
            written = np.round(probabilities, PROBABILITY_DIGITS)
            metrics = single_label_metrics(class_indices(labels[split], manifest.classes), predicted, len(manifest.classes))
            predictions = [[manifest.classes[i]] for i in predicted]
        records.append(
            _record(
                manifest,
                split,
                run,
                metrics,
                Predictions(examples[split], labels[split], predictions, written),
                folder,
                out,
            )
        )
        if manifest.task == "multi_label":
            records[-1].choices["decision_rule"] = decision.rule
    return records


def generation_record(manifest: Manifest, split: str, examples: Sequence[Example], answers: list[tuple[str, ...]],
                      folder: Path, run: RunName, out: Path) -> Record:
    """Exact-match metrics of generated answers (an answer outside the classes counts as wrong)."""
    labels = [e.answer_items for e in examples]
    index = {c: i for i, c in enumerate(manifest.classes)}
    valid = [all(a in index for a in answer) and len(answer) > 0 for answer in answers]
    if manifest.task == "multi_label":
        truth, predicted = label_matrix(labels, manifest.classes), label_matrix(answers, manifest.classes)
        metrics = {k: v for k, v in multi_label_metrics(truth, predicted, predicted).items() if k != "map"}
        metrics["exact_match"] = float(np.mean([set(a) == set(l) for a, l in zip(answers, labels)]))
    else:
        truth = class_indices(labels, manifest.classes)
        predicted = np.array([index[a[0]] if ok and len(a) == 1 else len(index) for a, ok in zip(answers, valid)])
        metrics = single_label_metrics(truth, predicted, len(manifest.classes))
    metrics["invalid_rate"] = float(1 - np.mean(valid))
    return _record(manifest, split, replace(run, method="llm_generation"), metrics,
                   Predictions(examples, labels, [list(a) for a in answers]), folder, out)


def class_indices(labels: Sequence[Sequence[str]], classes: Sequence[str]) -> np.ndarray:
    """``(n,) int``: each example's (first) label's index in ``classes``, -1 for a label outside them (a question's
    answer no training question has: no prediction equals it, so it is scored wrong)."""
    index = {c: i for i, c in enumerate(classes)}
    return np.array([index.get(l[0], -1) if l else -1 for l in labels], dtype=int)


def _prediction_rows(manifest: Manifest, predictions: Predictions) -> Iterator[dict]:
    """One row per clip (streamed): id, labels, prediction and, for scoring, the probability of every class (already
    rounded); question answering adds the audio clip, the question's form and every annotator's answer."""
    annotators = {c.id: c.extra.get("answers") or list(c.labels) for c in manifest.clips} if manifest.task == "aqa" else {}
    for i, example in enumerate(predictions.examples):
        row = {"id": example.id, "labels": list(predictions.labels[i]), "prediction": list(predictions.predicted[i])}
        if predictions.probabilities is not None:
            row["probabilities"] = {c: float(p) for c, p in zip(manifest.classes, predictions.probabilities[i])}
        if manifest.task == "aqa":
            row |= {"clip": audio_of(example.id), "form": "yes_no" if row["labels"][0] in YES_NO else "open",
                    "answers": list(annotators.get(example.id, []))}
        yield row


def _record(manifest: Manifest, split: str, run: RunName, metrics: dict, predictions: Predictions, folder: Path,
            out: Path) -> Record:
    path = RecordsFolder(folder).predictions(split, run.method)
    io.write_jsonl(path, _prediction_rows(manifest, predictions))
    if manifest.task == "aqa":
        annotators = {c.id: c.extra.get("answers") or list(c.labels) for c in manifest.clips}
        metrics = metrics | aqa_metrics([l[0] for l in predictions.labels], [p[0] if p else "" for p in predictions.predicted],
                                        [annotators.get(e.id, []) for e in predictions.examples])
        known = set(manifest.classes)  # the training answers: a question answered otherwise can never be right
        metrics["unseen_answer_rate"] = float(np.mean([l[0] not in known for l in predictions.labels]))
    headline = HEADLINE[manifest.task] if HEADLINE[manifest.task] in metrics else next(iter(metrics))
    if manifest.task == "multi_label" and run.method == "llm_generation":
        headline = "micro_f1"
    return Record(dataset=manifest.dataset, task=manifest.task, domain=manifest.domain, protocol=manifest.protocol,
                  fold=manifest.fold, seed=run.seed, codec=run.codec, model=run.model, method=run.method, split=split,
                  n_clips=len(predictions.examples), metrics=metrics, headline=headline, predictions=str(path.relative_to(out)))
