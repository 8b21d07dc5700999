"""Result records: held-out scores or generated answers -> metrics, a predictions file and one :class:`Record` per
split.

A record is what reports read (``report.aggregate``), serialised as a JSON object with the same keys as its
fields: dataset, task, domain, protocol, fold, seed, codec, model, method, split, clip count, metrics, the headline
metric and the path of its ``<split>_<method>_predictions.jsonl`` (one row per clip: id, labels, prediction,
per-class probabilities). Multi-label thresholds are tuned on the validation split and written next to the
predictions (``thresholds.json``), where ``predict`` finds them. For multi-label runs,
:func:`score_multi_label_best` also picks the scoring method by validation micro-F1 (see ``scoring``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from ..core import io
from ..core.finished import files_in, mark_done, reusable
from ..data.manifest import Manifest
from ..prompts import Example
from .metrics import (
    HEADLINE,
    apply_thresholds,
    aqa_metrics,
    label_matrix,
    multi_label_metrics,
    single_label_metrics,
    tune_thresholds,
)
from .scoring import score_label_sets, score_multi_label

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

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, row: dict) -> Record:
        return cls(**{f.name: row.get(f.name, 0 if f.name == "seed" else None) for f in fields(cls)})


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


def finish_records(folder: Path, records: list[Record]) -> list[Record]:
    """Write ``records.json`` and the done-marker over it and the prediction files; returns ``records``."""
    io.write_json(folder / "records.json", [r.to_json() for r in records])
    mark_done(folder / "done.json", files_in(folder, skip=("done.json",)), records=len(records))
    return records


def score_multi_label_best(model, encoder, examples: dict[str, list[Example]], splits: list[str], manifest: Manifest,
                           progress: bool) -> tuple[dict[str, np.ndarray], dict]:
    """Per-label probabilities from the scoring method with the best validation micro-F1 (see ``scoring``)."""
    label_sets = sorted({e.answer_items for e in examples["train"]})
    methods = {"item_path": lambda ex: score_multi_label(model, encoder, ex, manifest.classes, progress=progress)}
    if len(label_sets) <= MAX_LABEL_SETS:
        methods["label_sets"] = lambda ex: score_label_sets(model, encoder, ex, manifest.classes, label_sets, progress)
    choice: dict = {"validation_micro_f1": {}}
    scores_by_method: dict[str, dict[str, np.ndarray]] = {}
    if "validation" in splits and len(methods) > 1:
        truth = label_matrix([e.answer_items for e in examples["validation"]], manifest.classes)
        for name, method in methods.items():
            validation = method(examples["validation"])
            predicted = apply_thresholds(validation, tune_thresholds(truth, validation))
            choice["validation_micro_f1"][name] = multi_label_metrics(truth, validation, predicted)["micro_f1"]
            scores_by_method[name] = {"validation": validation}
        choice["method"] = max(choice["validation_micro_f1"], key=choice["validation_micro_f1"].get)
    else:
        choice["method"] = "label_sets" if "label_sets" in methods else "item_path"
    chosen = scores_by_method.get(choice["method"], {})
    return {s: chosen[s] if s in chosen else methods[choice["method"]](examples[s]) for s in splits}, choice


def scoring_records(manifest: Manifest, scores: dict[str, np.ndarray], examples: dict[str, Sequence[Example]], folder: Path,
                    run: RunName, out: Path) -> list[Record]:
    """Metrics and predictions from probabilities; multi-label thresholds are tuned on validation."""
    labels = {s: [e.answer_items for e in examples[s]] for s in scores}
    thresholds = np.full(len(manifest.classes), 0.5)
    if manifest.task == "multi_label" and "validation" in scores:
        thresholds = tune_thresholds(label_matrix(labels["validation"], manifest.classes), scores["validation"])
        io.write_json(folder / "thresholds.json", dict(zip(manifest.classes, thresholds)))  # predict uses them
    records = []
    for split, probabilities in scores.items():
        truth = label_matrix(labels[split], manifest.classes)
        if manifest.task == "multi_label":
            predicted = apply_thresholds(probabilities, thresholds)
            metrics = multi_label_metrics(truth, probabilities, predicted)
            predictions = [[c for c, on in zip(manifest.classes, row) if on] for row in predicted]
        else:
            predicted = probabilities.argmax(1)
            metrics = single_label_metrics(truth.argmax(1), predicted, len(manifest.classes))
            predictions = [[manifest.classes[i]] for i in predicted]
        records.append(_record(manifest, split, run, metrics, Predictions(examples[split], labels[split], predictions, probabilities),
                               folder, out))
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
