"""The statistics of a report, from the prediction files the records name: a 95 % bootstrap interval on every test
metric, paired tests for the comparison of runs and for the check against the reference rows (Holm-corrected over
the datasets of one comparison), and the calibration of label scoring. The methods are in
``evaluation.statistics``, ``evaluation.paired_tests`` and ``evaluation.calibration``; here they meet the records.

Everything is data (JSON-ready dicts, kept in results.json under ``"statistics"``); ``tables`` and ``figures``
render it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..data.clotho_aqa import audio_of
from ..evaluation import statistics as stats
from ..evaluation.blind import BLIND_METHOD
from ..evaluation.calibration import expected_calibration_error, reliability
from ..evaluation.metrics import YES_NO, label_matrix
from ..evaluation.paired_tests import Comparison, holm, paired_test
from ..evaluation.statistics import Unit
from .aggregate import GROUP_KEYS, cells_by_run, compare_runs, ordered_datasets, read_predictions, run_labels

ALPHA = 0.05  # a Holm-adjusted p-value below this is "significantly above / below"
REFERENCE_PREFIX = "baseline_"  # the reference rows an LLM run is checked against


def group_key(row: dict) -> tuple:
    return tuple(row[k] for k in GROUP_KEYS)


def load_units(records: list[dict], out_dir: Path, classes_by_dataset: dict[str, list[str]],
               split: str = "test") -> dict[tuple, list[Unit]]:
    """Aggregation group (``GROUP_KEYS``) -> its (fold, seed) units on ``split``, read from the prediction files."""
    units: dict[tuple, list[Unit]] = defaultdict(list)
    for record in records:
        if record["split"] != split or not record.get("predictions"):
            continue
        rows = read_predictions(out_dir, record)
        if rows:
            classes = classes_by_dataset.get(record["dataset"]) or sorted({label for row in rows for label in row["labels"]})
            units[group_key(record)].append(unit_from_rows(rows, classes, record))
    return units


def unit_from_rows(rows: list[dict], classes: list[str], record: dict) -> Unit:
    """A predictions file's rows (``{"id", "labels", "prediction"[, "probabilities"]}``) as a :class:`Unit`."""
    seed = 0 if record.get("seed") is None else record["seed"]
    ids = [row["id"] for row in rows]
    has_scores = "probabilities" in rows[0]
    if record["task"] == "multi_label":
        truth, predicted = (
            label_matrix([r["labels"] for r in rows], classes),
            label_matrix([r["prediction"] for r in rows], classes),
        )
        scores = np.array([[r["probabilities"].get(c, 0.0) for c in classes] for r in rows]) if has_scores else None
        return Unit(record.get("fold"), seed, ids, truth, predicted, len(classes), scores)
    known = list(classes) + sorted({r["labels"][0] for r in rows} - set(classes))  # an answer outside the manifest
    index = {label: i for i, label in enumerate(known)}
    truth = np.array([index[r["labels"][0]] for r in rows])
    predicted = np.array([index.get(r["prediction"][0], len(known)) if len(r["prediction"]) == 1 else len(known) for r in rows])
    scores = np.array([[r["probabilities"].get(c, 0.0) for c in known] for r in rows]) if has_scores else None
    if record["task"] == "aqa":  # a question's audio clip is drawn with all its questions
        yes_no = np.array([r["labels"][0] in YES_NO for r in rows])
        return Unit(record.get("fold"), seed, ids, truth, predicted, len(known), scores,
                    stats.group_codes([audio_of(i) for i in ids]), yes_no)
    return Unit(record.get("fold"), seed, ids, truth, predicted, len(known), scores)


def add_intervals(aggregated: list[dict], units: dict[tuple, list[Unit]], split: str = "test") -> None:
    """Put ``"ci": [low, high]`` (the metric's units) into every metric of the ``split`` rows that the prediction
    files can recompute, and the bootstrap's settings into ``row["interval"]``."""
    for row in aggregated:
        members = units.get(group_key(row), [])
        if row["split"] != split or len(members) != row["n_units"]:
            continue
        for name, metric in row["metrics"].items():
            if stats.supported(name, members):
                metric["ci"] = list(stats.interval(stats.bootstrap(name, [members], key=row["dataset"])[0]))
        row["interval"] = bootstrap_settings(members)


def bootstrap_settings(members: list[Unit]) -> dict:
    return {"level": stats.LEVEL, "resamples": stats.RESAMPLES, "seed": stats.SEED,
            "draw": "audio clips whole, with all their questions" if members[0].groups is not None else
            "whole clips" if members[0].multi_label else "clips stratified by true class",
            "combined": "within each fold, the mean over folds and seeds"}


def paired_headline_test(row_a: dict | None, row_b: dict | None, units: dict[tuple, list[Unit]]) -> Comparison:
    """The paired test of B against A on the headline metric; the difference is that of the recorded means, in
    percentage points (as the tables show it)."""
    if row_a is None or row_b is None:
        return Comparison(math.nan, why="a run is missing")
    metric = row_a["headline"]
    difference = 100 * (headline_value(row_b)["mean"] - headline_value(row_a)["mean"])
    units_a, units_b = units.get(group_key(row_a), []), units.get(group_key(row_b), [])
    if not units_a or not units_b or len(units_a) != row_a["n_units"] or len(units_b) != row_b["n_units"]:
        return Comparison(difference, why="no prediction files")
    result = paired_test(metric, units_a, units_b, key=row_a["dataset"])
    return Comparison(difference, 100 * result.low, 100 * result.high, result.p, result.test, result.n_clips, result.why)


def holm_adjusted(tests: dict[str, Comparison]) -> dict[str, dict]:
    """dataset -> the test as a dict with ``p_holm`` (Holm over the datasets with a p-value), ``datasets`` (how
    many) and ``verdict``: "above", "below", "not distinguishable" or "cannot tell"."""
    testable = [d for d, t in tests.items() if t.p is not None and not math.isnan(t.p)]
    adjusted = dict(zip(testable, holm([tests[d].p for d in testable]))) if testable else {}
    out = {}
    for dataset, test in tests.items():
        p = adjusted.get(dataset)
        verdict = ("cannot tell" if p is None else "not distinguishable" if p >= ALPHA
                   else "above" if test.difference > 0 else "below")
        out[dataset] = asdict(test) | {"p_holm": p, "datasets": len(testable), "verdict": verdict}
    return out


def comparisons_with_tests(aggregated: list[dict], units: dict[tuple, list[Unit]], split: str = "test") -> list[dict]:
    """``compare_runs`` with ``"tests": {dataset: holm_adjusted test}`` added to every pair."""
    rows = [r for r in aggregated if r["split"] == split]
    cells = cells_by_run(rows)
    comparisons = compare_runs(aggregated, split)
    for comparison in comparisons:
        run_a, run_b = map(tuple, comparison["runs"])
        comparison["tests"] = holm_adjusted({d: paired_headline_test(cells.get((d, run_a)), cells.get((d, run_b)), units)
                                             for d in comparison["per_dataset"]})
    return comparisons


def reference_checks(aggregated: list[dict], units: dict[tuple, list[Unit]], split: str = "test") -> list[dict]:
    """Every LLM run against every reference row on every dataset both have (a reference row of one codec and model,
    the blind LLM, only against the LLM runs of that codec and model): ``{"dataset", "headline", "llm", "reference",
    "llm_value", "reference_value", "test"}`` (values: the headline's ``{"mean", "std"[, "ci"]}``; the test of the LLM
    run against the reference row, Holm over the datasets of the pair; ``test["unit"]``: what was counted, clips or
    questions)."""
    rows = [r for r in aggregated if r["split"] == split]
    labels, cells = run_labels(rows), cells_by_run(rows)
    datasets = [d for d, _ in ordered_datasets(rows)]
    checks = []
    for llm_run in (run for run in labels if run[0].startswith("llm_")):
        for reference in (run for run in labels if run[0].startswith(REFERENCE_PREFIX) and tied(run, llm_run)):
            shared = [d for d in datasets if (d, llm_run) in cells and (d, reference) in cells]
            tests = holm_adjusted({d: paired_headline_test(cells[(d, reference)], cells[(d, llm_run)], units) for d in shared})
            checks += [{"dataset": d, "headline": cells[(d, llm_run)]["headline"], "llm": labels[llm_run],
                        "reference": labels[reference], "llm_value": headline_value(cells[(d, llm_run)]),
                        "reference_value": headline_value(cells[(d, reference)]),
                        "test": tests[d] | {"unit": "questions" if cells[(d, llm_run)]["task"] == "aqa" else "clips"}}
                       for d in shared]
    return checks


def tied(reference: tuple, llm_run: tuple) -> bool:
    """Whether a reference row ``(method, codec, model)`` is checked against ``llm_run``: a row of no codec (the
    log-mel baseline, the majority answer) against every run; the blind LLM only against its own codec and model."""
    return reference[0] != BLIND_METHOD or tuple(reference[1:]) == tuple(llm_run[1:])


def headline_value(row: dict) -> dict:
    return row["metrics"].get(row["headline"], {"mean": math.nan, "std": math.nan})


def calibration(aggregated: list[dict], units: dict[tuple, list[Unit]], split: str = "test") -> dict[str, dict]:
    """dataset -> run label -> ``{"ece", "clips", "bins"}`` for every single-label (or question-answering) run with
    label probabilities (folds and seeds pooled; ``bins``: ``evaluation.calibration.reliability``)."""
    rows = [r for r in aggregated if r["split"] == split and r["task"] in ("single_label", "aqa")]
    labels = run_labels([r for r in aggregated if r["split"] == split])
    out: dict[str, dict] = {}
    for dataset, _ in ordered_datasets(rows):
        for row in (r for r in rows if r["dataset"] == dataset):
            members = [u for u in units.get(group_key(row), []) if u.scores is not None]
            if not members:
                continue
            probabilities = np.concatenate([u.scores for u in members])
            truth = np.concatenate([u.truth for u in members])
            out.setdefault(dataset, {})[labels[(row["method"], row["codec"], row["model"])]] = {
                "ece": expected_calibration_error(probabilities, truth), "clips": int(truth.size),
                "bins": reliability(probabilities, truth)}
    return out


def analyse(records: list[dict], aggregated: list[dict], out_dir: str | Path, classes_by_dataset: dict[str, list[str]],
            split: str = "test") -> dict:
    """Intervals into ``aggregated`` (in place) and ``{"bootstrap", "comparisons", "reference_checks",
    "calibration"}`` for the report."""
    units = load_units(records, Path(out_dir), classes_by_dataset, split)
    add_intervals(aggregated, units, split)
    return {"bootstrap": {"level": stats.LEVEL, "resamples": stats.RESAMPLES, "seed": stats.SEED, "alpha": ALPHA},
            "comparisons": comparisons_with_tests(aggregated, units, split),
            "reference_checks": reference_checks(aggregated, units, split),
            "calibration": calibration(aggregated, units, split)}
