"""Result records: held-out scores or generated answers -> metrics, a predictions file and one :class:`Record` per
split.

A record is what reports read (``report.aggregate``), serialised as a JSON object with the same keys as its
fields: dataset, task, domain, protocol, fold, seed, codec, model, method, split, clip count, metrics, the headline
metric and the path of its ``<split>_<method>_predictions.jsonl`` (one row per clip: id, labels, prediction,
per-class probabilities). Multi-label label sets follow a decision rule fitted on the validation split
(``decisions``), written next to the predictions (``thresholds.json``, ``calibration.json``), where ``predict``
finds it. For multi-label runs, :func:`score_multi_label_best` also picks the scoring method by cross-fitted
validation micro-F1 (see ``scoring``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from ..core import io
from ..core.errors import CodecBenchError
from ..core.finished import files_in, mark_done, reusable
from ..core.parallel import build_lock
from ..data.augment import is_augmented_id
from ..data.manifest import Manifest
from ..prompts import Example
from . import decisions
from .metrics import HEADLINE, apply_thresholds, aqa_metrics, label_matrix, multi_label_metrics, single_label_metrics
from .scoring import score_label_questions, score_label_sets, score_multi_label, score_single_label

MAX_LABEL_SETS = 512


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
class Record:
    """One evaluated run on one split of one fold (``to_json``: the object results files hold)."""

    dataset: str
    task: str
    domain: str
    protocol: str
    fold: str | None
    seed: int
    codec: str
    model: str
    method: str
    split: str
    n_clips: int
    metrics: dict[str, float]
    headline: str
    predictions: str  # the predictions file, relative to the output folder
    # what was chosen on validation: "scoring" (multi-label method), "decision_rule", "best_epoch", "epochs",
    # "selected_by", "stopped_early"; empty for rows that choose nothing
    choices: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, row: dict) -> Record:
        missing = {"seed": 0, "choices": {}}
        return cls(**{f.name: row.get(f.name, missing.get(f.name)) for f in fields(cls)})


@dataclass
class Predictions:
    """What a split's predictions file holds: the examples, their true labels, the predicted labels and, for
    scoring, ``probabilities: (n_examples, n_classes)``."""

    examples: Sequence[Example]
    labels: list[tuple[str, ...]]
    predicted: list[list[str]]
    probabilities: np.ndarray | None = None


def finished_records(folder: Path, what: str) -> list[Record] | None:
    """The records of ``folder`` when its done-marker vouches for them and every prediction file beside them;
    None (with a one-line message if something was there) when they must be computed again."""
    if reusable(folder / "done.json", what, folder / "records.json"):
        return [Record.from_json(row) for row in io.read_json(folder / "records.json")]
    return None


def cached_records(folder: Path, what: str, build: Callable[[], list[Record]]) -> list[Record]:
    """The records of ``folder``, built once by ``build()`` (which ends with :func:`finish_records`) under a lock:
    processes that need the same rows (the recipes of one codec and model, the folds' baseline) wait and reuse them."""
    with build_lock(folder, what):
        found = finished_records(folder, what)
        return found if found is not None else build()


def finish_records(folder: Path, records: list[Record]) -> list[Record]:
    """Write ``records.json`` and the done-marker over it and the prediction files; returns ``records``."""
    io.write_json(folder / "records.json", [r.to_json() for r in records])
    mark_done(folder / "done.json", files_in(folder, skip=("done.json",)), records=len(records))
    return records


MULTI_LABEL_METHODS = ("label_sets", "label_sets_normalised", "item_path", "label_questions")


def multi_label_scorer(method: str, model, encoder, classes: Sequence[str], label_sets: Sequence[tuple[str, ...]],
                       progress: bool = True) -> Callable[[Sequence[Example]], np.ndarray]:
    """``examples -> (n, C)`` per-label probabilities by ``method`` (see ``scoring``); ``label_sets``: the training
    split's distinct answers (of its own clips: the label sets that occur, not those of mixtures)."""
    if method == "item_path":
        return lambda ex: score_multi_label(model, encoder, ex, classes, progress=progress)
    if method in ("label_sets", "label_sets_normalised"):
        return lambda ex: score_label_sets(model, encoder, ex, classes, label_sets, progress, normalise=method != "label_sets")
    if method == "label_questions":
        return lambda ex: score_label_questions(model, encoder, ex, classes, progress)
    raise CodecBenchError(f"unknown multi-label scoring method {method!r}; one of {', '.join(MULTI_LABEL_METHODS)}")


def score_multi_label_best(model, encoder, examples: dict[str, list[Example]], splits: list[str], manifest: Manifest,
                           progress: bool, questions: bool = False) -> tuple[dict[str, np.ndarray], dict]:
    """Per-label probabilities from the scoring method with the best cross-fitted validation micro-F1 (each method
    with its best decision rule, see ``decisions``); ``questions``: the model was trained with label questions.
    Returns the scores per split and ``{"method", "validation_micro_f1": {method: F1}, "rules": {method: {rule:
    F1}}}``."""
    label_sets = sorted({e.answer_items for e in examples["train"] if not is_augmented_id(e.id)})  # sets that occur
    names = [m for m in MULTI_LABEL_METHODS if (m != "label_questions" or questions)
             and (not m.startswith("label_sets") or len(label_sets) <= MAX_LABEL_SETS)]
    methods = {m: multi_label_scorer(m, model, encoder, manifest.classes, label_sets, progress) for m in names}
    choice: dict = {"validation_micro_f1": {}, "rules": {}}
    scores_by_method: dict[str, dict[str, np.ndarray]] = {}
    if "validation" in splits and len(methods) > 1:
        truth = label_matrix([e.answer_items for e in examples["validation"]], manifest.classes)
        for name, method in methods.items():
            validation = method(examples["validation"])
            rules = {rule: decisions.cross_fitted_micro_f1(rule, truth, validation) for rule in decisions.RULES}
            choice["rules"][name] = rules
            choice["validation_micro_f1"][name] = max(rules.values())
            scores_by_method[name] = {"validation": validation}
        choice["method"] = max(choice["validation_micro_f1"], key=choice["validation_micro_f1"].get)
    else:
        choice["method"] = "label_questions" if questions else "label_sets" if "label_sets" in methods else "item_path"
    chosen = scores_by_method.get(choice["method"], {})
    return {s: chosen[s] if s in chosen else methods[choice["method"]](examples[s]) for s in splits}, choice


def label_scores(model, encoder, examples: dict[str, Sequence[Example]], splits: list[str], manifest: Manifest,
                 folder: Path, progress: bool, questions: bool = False) -> tuple[dict[str, np.ndarray], dict | None]:
    """Label-scoring probabilities per split: for multi-label tasks by the method with the best validation micro-F1
    (:func:`score_multi_label_best`, its choice written to ``folder/multi_label_scoring.json`` and returned), else
    the softmax over the classes (choice None)."""
    if manifest.task == "multi_label":
        scores, choice = score_multi_label_best(model, encoder, examples, splits, manifest, progress, questions=questions)
        io.write_json(folder / "multi_label_scoring.json", choice)
        return scores, choice
    return {s: score_single_label(model, encoder, examples[s], manifest.classes, progress=progress) for s in splits}, None


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
        io.write_json(folder / "thresholds.json", dict(zip(manifest.classes, decision.thresholds)))  # predict uses them
        if decision.calibration is not None:
            io.write_json(folder / "calibration.json", {c: list(ab) for c, ab in zip(manifest.classes, decision.calibration)})
        else:  # an earlier evaluation's calibration must not reach predict
            (folder / "calibration.json").unlink(missing_ok=True)
        io.write_json(folder / f"{run.method}_decision.json", {"rule": decision.rule, "cross_fitted_micro_f1": decision.cross_fitted_f1})
    records = []
    for split, probabilities in scores.items():
        truth = label_matrix(labels[split], manifest.classes)
        if manifest.task == "multi_label":
            probabilities = decision.calibrate(probabilities)
            predicted = apply_thresholds(probabilities, decision.thresholds)
            metrics = multi_label_metrics(truth, probabilities, predicted)
            predictions = [[c for c, on in zip(manifest.classes, row) if on] for row in predicted]
        else:
            predicted = probabilities.argmax(1)
            metrics = single_label_metrics(truth.argmax(1), predicted, len(manifest.classes))
            predictions = [[manifest.classes[i]] for i in predicted]
        records.append(_record(manifest, split, run, metrics, Predictions(examples[split], labels[split], predictions, probabilities),
                               folder, out))
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
        truth = np.array([index[l[0]] for l in labels])
        predicted = np.array([index[a[0]] if ok and len(a) == 1 else len(index) for a, ok in zip(answers, valid)])
        metrics = single_label_metrics(truth, predicted, len(manifest.classes))
    metrics["invalid_rate"] = float(1 - np.mean(valid))
    return _record(manifest, split, replace(run, method="llm_generation"), metrics,
                   Predictions(examples, labels, [list(a) for a in answers]), folder, out)


def _prediction_rows(classes: list[str], predictions: Predictions) -> Iterator[dict]:
    """One row per clip (streamed): id, labels, prediction and, for scoring, the probability of every class."""
    for i, example in enumerate(predictions.examples):
        row = {"id": example.id, "labels": list(predictions.labels[i]), "prediction": list(predictions.predicted[i])}
        if predictions.probabilities is not None:
            row["probabilities"] = {c: round(float(p), 6) for c, p in zip(classes, predictions.probabilities[i])}
        yield row


def _record(manifest: Manifest, split: str, run: RunName, metrics: dict, predictions: Predictions, folder: Path,
            out: Path) -> Record:
    path = folder / f"{split}_{run.method}_predictions.jsonl"
    io.write_jsonl(path, _prediction_rows(manifest.classes, predictions))
    if manifest.task == "aqa":
        annotators = {c.id: c.extra.get("answers") or list(c.labels) for c in manifest.clips}
        metrics = metrics | aqa_metrics([l[0] for l in predictions.labels], [p[0] if p else "" for p in predictions.predicted],
                                        [annotators.get(e.id, []) for e in predictions.examples])
    headline = HEADLINE[manifest.task] if HEADLINE[manifest.task] in metrics else next(iter(metrics))
    if manifest.task == "multi_label" and run.method == "llm_generation":
        headline = "micro_f1"
    return Record(dataset=manifest.dataset, task=manifest.task, domain=manifest.domain, protocol=manifest.protocol,
                  fold=manifest.fold, seed=run.seed, codec=run.codec, model=run.model, method=run.method, split=split,
                  n_clips=len(predictions.examples), metrics=metrics, headline=headline, predictions=str(path.relative_to(out)))
