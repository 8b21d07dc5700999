"""Result records -> aggregated rows: means and spreads over folds and seeds, run names, comparisons, per-class F1.

A record is one evaluated run on one fold and one training seed (written by the evaluation stage, see
``evaluation.records``). Everything here is data; ``tables`` and ``figures`` turn it into Markdown and PNGs.
Every headline metric is "higher is better".
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from ..core.errors import CodecBenchError
from ..core.io import read_jsonl
from ..evaluation.metrics import HEADLINE, label_matrix, mean_std
from ..formats import schema

GROUP_KEYS = ("dataset", "task", "domain", "protocol", "codec", "model", "method", "split")

DOMAIN_ORDER = ("sound", "music", "speech")

DOMAIN_COLOURS = {"sound": "#1b9e77", "music": "#d95f02", "speech": "#7570b3"}
OTHER_DOMAIN_COLOUR = "#666666"
OUT_OF_CLASSES = "(other)"  # column for generated answers that are not one of the classes
COMPARED_PARTS = ("codec", "model", "recipe", "folder")  # a run pair differing in exactly one of these is compared
SOURCE_MARK = " @ "  # "<model> @ <folder>": runs kept apart by the folder they come from (report --compare)


def aggregate(records: list[dict]) -> list[dict]:
    """Group records by ``GROUP_KEYS`` -> one dict per group with mean and sample std per metric.

    The unit of the mean is one (fold, training seed) pair: mean and sample std (ddof=1) are taken over all
    units of the group, so the std mixes the spread over folds with the spread over seeds (a record without
    ``seed`` has seed 0). Output keys: the group keys, ``headline``, ``metrics: {name: {"mean", "std"}}``
    (only metrics that every unit reports), ``n_folds``/``folds`` and ``n_seeds``/``seeds`` (distinct ids in
    order of first appearance), ``n_units`` (records averaged) and ``n_clips`` (clips per seed summed over
    folds, each fold counted once). Groups keep the order of first appearance. The same (fold, seed) twice
    in one group raises: it would be counted twice in the mean.
    """
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for record in records:
        groups[tuple(record[k] for k in GROUP_KEYS)].append(record)
    return [_aggregate_group(key, members) for key, members in groups.items()]


def _seed(record: dict) -> Any:
    return 0 if record.get("seed") is None else record["seed"]


def _aggregate_group(key: tuple, members: list[dict]) -> dict:
    units = [(m.get("fold"), _seed(m)) for m in members]
    if len(set(units)) != len(units):
        raise CodecBenchError(f"duplicate fold and seed in results for {dict(zip(GROUP_KEYS, key))}: "
                              f"(fold, seed) units {units}")
    names = [n for n in members[0]["metrics"] if all(n in m["metrics"] for m in members)]
    metrics = {}
    for name in names:
        mean, std = mean_std([m["metrics"][name] for m in members])
        metrics[name] = {"mean": mean, "std": std}
    clips_per_fold: dict[Any, int] = {}
    for m in members:  # seeds of one fold see the same clips: count them once
        clips_per_fold[m.get("fold")] = max(clips_per_fold.get(m.get("fold"), 0), int(m["n_clips"]))
    # one headline per task, so every cell of a dataset's row shows the same metric (n/a where a run lacks it)
    headline = HEADLINE.get(members[0]["task"]) or members[0].get("headline")
    folds, seeds = list(clips_per_fold), list(dict.fromkeys(seed for _, seed in units))
    return {**dict(zip(GROUP_KEYS, key)), "headline": headline, "metrics": metrics, "n_folds": len(folds),
            "n_seeds": len(seeds), "n_units": len(members), "n_clips": sum(clips_per_fold.values()),
            "folds": folds, "seeds": seeds}


def n_units(row: dict) -> int:
    return row.get("n_units", row["n_folds"])  # rows aggregated before seeds had one unit per fold


def distinct_runs(rows: list[dict]) -> list[tuple[str, str, str]]:
    """Distinct ``(method, codec, model)`` in order of first appearance."""
    return list(dict.fromkeys((r["method"], r["codec"], r["model"]) for r in rows))


def run_labels(rows: list[dict]) -> dict[tuple[str, str, str], str]:
    """``(method, codec, model)`` -> column name, leaving out the codec and/or model when all LLM runs share it
    (a baseline column is named by its method alone, unless it belongs to one LLM run's codec and model: the blind
    LLM of question answering, named as the LLM runs are)."""
    runs = distinct_runs(rows)
    llm_runs = [run for run in runs if not run[0].startswith("baseline_")]  # a baseline's method names it
    same_codec = len({codec for _, codec, _ in llm_runs}) <= 1
    same_model = len({model for _, _, model in llm_runs}) <= 1
    of_llm = {run[1:] for run in llm_runs}
    return {run: _with_source(run[0], run[2]) if run[0].startswith("baseline_") and run[1:] not in of_llm else
            " · ".join([run[0]] + ([] if same_codec else [run[1]]) + ([] if same_model else [run[2]]))
            for run in runs}


def _with_source(name: str, model: str) -> str:
    source = split_source(model)[1]
    return f"{name}{SOURCE_MARK}{source}" if source else name


def split_source(model: str) -> tuple[str, str]:
    """``"<model>@<source>"`` (a run from one of several folders compared, ``report --compare``) -> (model, source);
    ``source`` is "" for a model without it."""
    model, _, source = model.partition(SOURCE_MARK)
    return model, source


def ordered_datasets(rows: list[dict]) -> list[tuple[str, str]]:
    """Distinct ``(dataset, domain)`` ordered sound, music, speech, other domains, then first appearance."""
    seen = list(dict.fromkeys((r["dataset"], r["domain"]) for r in rows))
    rank = {d: i for i, d in enumerate(DOMAIN_ORDER)}
    return sorted(seen, key=lambda dd: (rank.get(dd[1], len(rank)), dd[1] if dd[1] not in rank else ""))


def cells_by_run(rows: list[dict]) -> dict[tuple[str, tuple], dict]:
    """``(dataset, run)`` -> the aggregated row; several protocols of one dataset in one split raise."""
    cells: dict[tuple[str, tuple], dict] = {}
    for row in rows:
        key = (row["dataset"], (row["method"], row["codec"], row["model"]))
        if key in cells:
            raise CodecBenchError(f"{key[0]} has two results for run {key[1]} in split {row['split']!r} "
                                  f"(protocols {cells[key]['protocol']!r} and {row['protocol']!r}); report them apart")
        cells[key] = row
    return cells


def headline_percent(row: dict) -> tuple[float, float]:
    """Headline mean and std in percent (``nan`` when the run lacks its headline metric)."""
    value = row["metrics"].get(row["headline"])
    return (math.nan, math.nan) if value is None else (100 * value["mean"], 100 * value["std"])


def run_parts(run: tuple[str, str, str]) -> tuple[str, str, str, str, str]:
    """``(method, codec, "<model tag>/<recipe>[ @ <source>]")`` -> ``(method, codec, model tag, recipe, source)``."""
    method, codec, model = run
    model, source = split_source(model)
    tag, recipe = model.rsplit("/", 1) if "/" in model else (model, "")
    return method, codec, tag, recipe, source


def compare_runs(aggregated: list[dict], split: str = "test") -> list[dict]:
    """Every pair of LLM runs with the same method that differ in exactly one of codec, model tag, recipe and
    source folder; and, between source folders (``report A B --compare``), the pair of a folder's only run of a
    method with another folder's only run of it, whatever else differs (``differs`` then names every part).

    -> ``{"differs": "codec" | "model" | "recipe", "a": label, "b": label, "runs": [run A, run B] (method, codec,
    model), "per_dataset": {dataset: B − A},
    "mean": mean over those datasets}``, differences of the headline mean in percentage points, only over
    datasets where both runs have a headline value. Pairs in order of first appearance (A before B); pairs
    without a shared dataset are left out.
    """
    rows = [r for r in aggregated if r["split"] == split]
    labels, cells = run_labels(rows), cells_by_run(rows)
    llm_runs = [run for run in labels if not run[0].startswith("baseline_")]
    runs_per_source = Counter((run_parts(run)[0], run_parts(run)[4]) for run in llm_runs)
    comparisons = []
    for i, run_a in enumerate(llm_runs):
        for run_b in llm_runs[i + 1:]:
            parts_a, parts_b = run_parts(run_a), run_parts(run_b)
            differs = [name for name, x, y in zip(COMPARED_PARTS, parts_a[1:], parts_b[1:]) if x != y]
            alone = runs_per_source[(parts_a[0], parts_a[4])] == runs_per_source[(parts_b[0], parts_b[4])] == 1
            if parts_a[0] != parts_b[0] or not (len(differs) == 1 or ("folder" in differs and alone)):
                continue
            per_dataset = {}
            for dataset, _ in ordered_datasets(rows):
                if (dataset, run_a) in cells and (dataset, run_b) in cells:
                    diff = headline_percent(cells[(dataset, run_b)])[0] - headline_percent(cells[(dataset, run_a)])[0]
                    if not math.isnan(diff):
                        per_dataset[dataset] = diff
            if per_dataset:
                comparisons.append(
                    {
                        "differs": " and ".join(differs),
                        "a": labels[run_a],
                        "b": labels[run_b],
                        "runs": [list(run_a), list(run_b)],
                        "per_dataset": per_dataset,
                        "mean": float(np.mean(list(per_dataset.values()))),
                    }
                )
    return comparisons


def per_class_f1(rows: list[dict], classes: list[str]) -> dict[str, float]:
    """Prediction rows (``{"labels": [...], "prediction": [...]}``) -> F1 per class, one-vs-rest.

    Works for single- and multi-label rows. A class that is neither true nor predicted anywhere gets ``nan``
    (F1 is 0/0 there).
    """
    truth = label_matrix([row["labels"] for row in rows], classes)
    predicted = label_matrix([row["prediction"] for row in rows], classes)
    scores = f1_score(truth, predicted, average=None, zero_division=np.nan) if rows else np.full(len(classes), np.nan)
    return {cls: float(score) for cls, score in zip(classes, scores)}


def per_class_f1_by_dataset(records: list[dict], out_dir: str | Path, classes_by_dataset: dict[str, list[str]],
                            split: str = "test") -> dict[str, dict]:
    """dataset -> ``{"classes": [...], "runs": {run label: {class: F1}}}`` from the prediction files of every run
    on ``split`` that has one; rows of all folds and seeds are pooled, as in the confusion matrices."""
    rows = [r for r in records if r["split"] == split]
    labels = run_labels(rows)
    pooled: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r.get("predictions") and r["task"] in ("single_label", "multi_label", "aqa"):
            pooled[r["dataset"]][labels[(r["method"], r["codec"], r["model"])]].extend(read_predictions(Path(out_dir), r))
    tables = {}
    for dataset, _ in ordered_datasets(rows):
        if dataset in pooled:
            seen = sorted({label for run_rows in pooled[dataset].values() for row in run_rows for label in row["labels"]})
            classes = classes_by_dataset.get(dataset) or seen
            if any(r["task"] == "aqa" for r in rows if r["dataset"] == dataset):  # an open vocabulary: the answers here
                predicted = {p for run_rows in pooled[dataset].values() for row in run_rows for p in row["prediction"]}
                classes = [c for c in classes if c in set(seen) | predicted]
            tables[dataset] = {"classes": classes, "runs": {label: per_class_f1(run_rows, classes)
                                                            for label, run_rows in pooled[dataset].items()}}
    return tables


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text)


def read_predictions(out_dir: Path, record: dict) -> list[dict]:
    """The rows of a record's predictions file, the first checked against the shipped schema (``formats.schema``)."""
    path = out_dir / record["predictions"]
    if not path.is_file():
        raise CodecBenchError(f"{path}: predictions file named in the results is missing; rerun evaluation")
    rows = read_jsonl(path)
    if rows:
        schema.check("prediction", rows[0], f"{path} line 1")
    return rows
