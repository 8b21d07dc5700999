"""Results records -> means over folds and seeds and markdown tables; ``write_report`` also draws the figures
(``report_figures``) and the HTML page (``report_html``).

A record is one evaluated run on one fold and one training seed (written by the evaluation stage); see
``aggregate`` for its keys and ``load_results`` for the files records are read from.
Every headline metric is "higher is better". Every file is written under a temporary name and renamed, so a file
that exists is complete.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from codec_bench.core.errors import CodecBenchError
from codec_bench.core.io import read_jsonl, write_json, write_text
from codec_bench.evaluation.metrics import HEADLINE, mean_std
from codec_bench.report.results import RESULTS_FORMAT_VERSION
GROUP_KEYS = ("dataset", "task", "domain", "protocol", "codec", "model", "method", "split")
DOMAIN_ORDER = ("sound", "music", "speech")
DOMAIN_COLOURS = {"sound": "#1b9e77", "music": "#d95f02", "speech": "#7570b3"}
OTHER_DOMAIN_COLOUR = "#666666"
OUT_OF_CLASSES = "(other)"  # column for generated answers that are not one of the classes
COMPARED_PARTS = ("codec", "model", "recipe")  # a run pair differing in exactly one of these is compared


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


def _n_units(row: dict) -> int:
    return row.get("n_units", row["n_folds"])  # rows aggregated before seeds had one unit per fold


def _runs(rows: list[dict]) -> list[tuple[str, str, str]]:
    """Distinct ``(method, codec, model)`` in order of first appearance."""
    return list(dict.fromkeys((r["method"], r["codec"], r["model"]) for r in rows))


def run_labels(rows: list[dict]) -> dict[tuple[str, str, str], str]:
    """``(method, codec, model)`` -> column name, leaving out the codec and/or model when all LLM runs share it
    (a baseline column is named by its method alone)."""
    runs = _runs(rows)
    llm_runs = [run for run in runs if not run[0].startswith("baseline_")]  # a baseline's method names it
    same_codec = len({codec for _, codec, _ in llm_runs}) <= 1
    same_model = len({model for _, _, model in llm_runs}) <= 1
    return {run: run[0] if run[0].startswith("baseline_") else
            " · ".join([run[0]] + ([] if same_codec else [run[1]]) + ([] if same_model else [run[2]]))
            for run in runs}


def _datasets(rows: list[dict]) -> list[tuple[str, str]]:
    """Distinct ``(dataset, domain)`` ordered sound, music, speech, other domains, then first appearance."""
    seen = list(dict.fromkeys((r["dataset"], r["domain"]) for r in rows))
    rank = {d: i for i, d in enumerate(DOMAIN_ORDER)}
    return sorted(seen, key=lambda dd: (rank.get(dd[1], len(rank)), dd[1] if dd[1] not in rank else ""))


def _headline_by_cell(rows: list[dict]) -> dict[tuple[str, tuple], dict]:
    """``(dataset, run)`` -> the aggregated row; several protocols of one dataset in one split raise."""
    cells: dict[tuple[str, tuple], dict] = {}
    for row in rows:
        key = (row["dataset"], (row["method"], row["codec"], row["model"]))
        if key in cells:
            raise CodecBenchError(f"{key[0]} has two results for run {key[1]} in split {row['split']!r} "
                                  f"(protocols {cells[key]['protocol']!r} and {row['protocol']!r}); report them apart")
        cells[key] = row
    return cells


def _headline(row: dict) -> tuple[float, float]:
    """Headline mean and std in percent (``nan`` when the run lacks its headline metric)."""
    value = row["metrics"].get(row["headline"])
    return (math.nan, math.nan) if value is None else (100 * value["mean"], 100 * value["std"])


def _cell(row: dict | None) -> str:
    if row is None:
        return "–"
    mean, std = _headline(row)
    if math.isnan(mean):
        return "n/a"
    return f"{mean:.1f} ± {std:.1f}" if _n_units(row) > 1 else f"{mean:.1f}"


def baseline_losses(aggregated: list[dict], split: str = "test") -> list[str]:
    """One markdown line per (dataset, LLM run, baseline run) where the LLM run's headline mean is lower."""
    rows = [r for r in aggregated if r["split"] == split]
    labels, cells = run_labels(rows), _headline_by_cell(rows)
    lines = []
    for dataset, _ in _datasets(rows):
        present = [(run, cells[(dataset, run)]) for run in labels if (dataset, run) in cells]
        for llm_run, llm in (p for p in present if p[0][0].startswith("llm_")):
            for base_run, base in (p for p in present if p[0][0].startswith("baseline_")):
                llm_mean, base_mean = _headline(llm)[0], _headline(base)[0]
                if llm_mean < base_mean:
                    lines.append(f"**{dataset}**: {labels[llm_run]} ({llm_mean:.1f}) is below "
                                 f"{labels[base_run]} ({base_mean:.1f})")
    return lines


def markdown_table(aggregated: list[dict], split: str = "test") -> str:
    """Datasets x runs table of the headline metric in percent ("mean ± std" over (fold, seed) units when
    there are several), followed by one line per dataset where an LLM run scores below a baseline run."""
    rows = [r for r in aggregated if r["split"] == split]
    if not rows:
        return f"_No results for split {split!r}._\n"
    labels, cells = run_labels(rows), _headline_by_cell(rows)
    lines = ["| dataset | metric | " + " | ".join(labels.values()) + " |", "|---|---|" + "---|" * len(labels)]
    for dataset, _ in _datasets(rows):
        headline = next(r["headline"] for r in rows if r["dataset"] == dataset)
        row_cells = [_cell(cells.get((dataset, run))) for run in labels]
        lines.append(f"| {dataset} | {headline} | " + " | ".join(row_cells) + " |")
    losses = baseline_losses(aggregated, split)
    return "\n".join(lines) + "\n" + ("\n" + "\n\n".join(losses) + "\n" if losses else "")


def per_class_f1(rows: list[dict], classes: list[str]) -> dict[str, float]:
    """Prediction rows (``{"labels": [...], "prediction": [...]}``) -> F1 per class, one-vs-rest.

    Works for single- and multi-label rows. A class that is neither true nor predicted anywhere gets ``nan``
    (F1 is 0/0 there).
    """
    scores = {}
    for cls in classes:
        truth = np.array([cls in row["labels"] for row in rows])
        pred = np.array([cls in row["prediction"] for row in rows])
        tp, fp, fn = np.sum(truth & pred), np.sum(~truth & pred), np.sum(truth & ~pred)
        scores[cls] = float(2 * tp / (2 * tp + fp + fn)) if tp + fp + fn else math.nan
    return scores


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text)


def _read_predictions(out_dir: Path, record: dict) -> list[dict]:
    path = out_dir / record["predictions"]
    if not path.is_file():
        raise CodecBenchError(f"{path}: predictions file named in the results is missing; rerun evaluation")
    return read_jsonl(path)


def _clip_counts(aggregated: list[dict], split: str = "test") -> list[str]:
    """One markdown bullet per dataset: test clips per run (summed over folds), folds and seeds per run, and
    whether runs differ."""
    rows = [r for r in aggregated if r["split"] == split]
    lines = []
    for dataset, _ in _datasets(rows):
        mine = [r for r in rows if r["dataset"] == dataset]
        counts = sorted({r["n_clips"] for r in mine})
        folds = sorted({r["n_folds"] for r in mine})
        seeds = sorted({r.get("n_seeds", 1) for r in mine})
        text = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}–{counts[-1]} (differs between runs)"
        lines.append(f"- **{dataset}**: {text} {split} clips over {'/'.join(map(str, folds))} fold(s) "
                     f"× {'/'.join(map(str, seeds))} seed(s)")
    return lines


def metrics_table(aggregated: list[dict], split: str = "test") -> str:
    """Every metric of every run, one small table per dataset (percent, mean ± std over folds and seeds)."""
    rows = [r for r in aggregated if r["split"] == split]
    labels = run_labels(rows)
    parts = []
    for dataset, _ in _datasets(rows):
        members = [r for r in rows if r["dataset"] == dataset]
        names = list(dict.fromkeys(m for r in members for m in r["metrics"]))
        lines = [f"**{dataset}** ({split})", "", "| run | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for r in members:
            values = [r["metrics"].get(m) for m in names]
            cells = ["–" if v is None else (f"{100 * v['mean']:.1f} ± {100 * v['std']:.1f}" if _n_units(r) > 1 else f"{100 * v['mean']:.1f}")
                     for v in values]
            lines.append(f"| {labels[(r['method'], r['codec'], r['model'])]} | " + " | ".join(cells) + " |")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def _run_parts(run: tuple[str, str, str]) -> tuple[str, str, str, str]:
    """``(method, codec, "<model tag>/<recipe>")`` -> ``(method, codec, model tag, recipe)``."""
    method, codec, model = run
    tag, recipe = model.rsplit("/", 1) if "/" in model else (model, "")
    return method, codec, tag, recipe


def compare_runs(aggregated: list[dict], split: str = "test") -> list[dict]:
    """Every pair of LLM runs with the same method that differ in exactly one of codec, model tag and recipe.

    -> ``{"differs": "codec" | "model" | "recipe", "a": label, "b": label, "per_dataset": {dataset: B − A},
    "mean": mean over those datasets}``, differences of the headline mean in percentage points, only over
    datasets where both runs have a headline value. Pairs in order of first appearance (A before B); pairs
    without a shared dataset are left out.
    """
    rows = [r for r in aggregated if r["split"] == split]
    labels, cells = run_labels(rows), _headline_by_cell(rows)
    llm_runs = [run for run in labels if not run[0].startswith("baseline_")]
    comparisons = []
    for i, run_a in enumerate(llm_runs):
        for run_b in llm_runs[i + 1:]:
            parts_a, parts_b = _run_parts(run_a), _run_parts(run_b)
            differs = [name for name, x, y in zip(COMPARED_PARTS, parts_a[1:], parts_b[1:]) if x != y]
            if parts_a[0] != parts_b[0] or len(differs) != 1:
                continue
            per_dataset = {}
            for dataset, _ in _datasets(rows):
                if (dataset, run_a) in cells and (dataset, run_b) in cells:
                    diff = _headline(cells[(dataset, run_b)])[0] - _headline(cells[(dataset, run_a)])[0]
                    if not math.isnan(diff):
                        per_dataset[dataset] = diff
            if per_dataset:
                comparisons.append({"differs": differs[0], "a": labels[run_a], "b": labels[run_b],
                                    "per_dataset": per_dataset, "mean": float(np.mean(list(per_dataset.values())))})
    return comparisons


def comparison_markdown(aggregated: list[dict], split: str = "test") -> str:
    """``compare_runs`` as one table: a row per run pair, B − A per dataset and their mean (percentage points)."""
    comparisons = compare_runs(aggregated, split)
    if not comparisons:
        return "_No pair of runs differs in exactly one of codec, model and recipe._\n"
    datasets = [d for d, _ in _datasets([r for r in aggregated if r["split"] == split])]
    lines = ["| differs in | run A | run B | " + " | ".join(f"{d} (B − A)" for d in datasets) + " | mean |",
             "|---|---|---|" + "---|" * (len(datasets) + 1)]
    for c in comparisons:
        diffs = [f"{c['per_dataset'][d]:+.1f}" if d in c["per_dataset"] else "–" for d in datasets]
        lines.append(f"| {c['differs']} | {c['a']} | {c['b']} | " + " | ".join(diffs) + f" | {c['mean']:+.1f} |")
    return "\n".join(lines) + "\n"


def grid_markdown(aggregated: list[dict], split: str = "test") -> str:
    """Codec x model tables, one per dataset and LLM method (headline metric, percent): the shape of a codec
    comparison study. Empty unless the LLM runs span at least two codecs and two models."""
    rows = [r for r in aggregated if r["split"] == split and r["method"].startswith("llm_")]
    codecs, models = list(dict.fromkeys(r["codec"] for r in rows)), list(dict.fromkeys(r["model"] for r in rows))
    if len(codecs) < 2 or len(models) < 2:
        return ""
    cells = _headline_by_cell(rows)
    blocks = []
    for dataset, _ in _datasets(rows):
        for method in dict.fromkeys(r["method"] for r in rows if r["dataset"] == dataset):
            headline = next(r["headline"] for r in rows if r["dataset"] == dataset and r["method"] == method)
            lines = [f"**{dataset}**, {method}, {headline}:", "", "| codec | " + " | ".join(models) + " |",
                     "|---|" + "---|" * len(models)]
            lines += [f"| {codec} | " + " | ".join(_cell(cells.get((dataset, (method, codec, model)))) for model in models) + " |"
                      for codec in codecs]
            blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def per_class_f1_by_dataset(records: list[dict], out_dir: str | Path, classes_by_dataset: dict[str, list[str]],
                            split: str = "test") -> dict[str, dict]:
    """dataset -> ``{"classes": [...], "runs": {run label: {class: F1}}}`` from the prediction files of every run
    on ``split`` that has one; rows of all folds and seeds are pooled, as in the confusion matrices."""
    rows = [r for r in records if r["split"] == split]
    labels = run_labels(rows)
    pooled: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r.get("predictions") and r["task"] in ("single_label", "multi_label"):
            pooled[r["dataset"]][labels[(r["method"], r["codec"], r["model"])]].extend(_read_predictions(Path(out_dir), r))
    tables = {}
    for dataset, _ in _datasets(rows):
        if dataset in pooled:
            seen = sorted({label for run_rows in pooled[dataset].values() for row in run_rows for label in row["labels"]})
            classes = classes_by_dataset.get(dataset) or seen
            tables[dataset] = {"classes": classes, "runs": {label: per_class_f1(run_rows, classes)
                                                            for label, run_rows in pooled[dataset].items()}}
    return tables


def per_class_markdown(tables: dict[str, dict], split: str = "test") -> str:
    """``per_class_f1_by_dataset`` as one table per dataset: a row per class, a column per run, F1 in percent
    ("n/a" where a class is neither true nor predicted)."""
    if not tables:
        return "_No prediction files to compute per-class F1 from._\n"
    parts = []
    for dataset, table in tables.items():
        runs = list(table["runs"])
        lines = [f"**{dataset}** ({split}; folds and seeds pooled)", "", "| class | " + " | ".join(runs) + " |",
                 "|---|" + "---|" * len(runs)]
        for cls in table["classes"]:
            values = [table["runs"][run][cls] for run in runs]
            lines.append(f"| {cls} | " + " | ".join("n/a" if math.isnan(v) else f"{100 * v:.1f}" for v in values) + " |")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def failed_cells_markdown(failed_cells: list[dict], skipped_files: list[str | Path] = ()) -> str:
    """One bullet per failed cell (its name, else its scalar settings, and its error line) and per skipped file."""
    lines = []
    for failed in failed_cells:
        cell = failed.get("cell") or {}
        name = cell.get("name") or ", ".join(f"{k}={v}" for k, v in cell.items()
                                             if isinstance(v, (str, int, float))) or failed.get("file")
        lines.append(f"- {name}: `{failed['error']}`")
    lines += [f"- skipped (not valid JSON): {file}" for file in skipped_files]
    return "\n".join(lines) + "\n" if lines else "_None._\n"


def continuous_note(aggregated: list[dict]) -> str:
    """A line naming the runs whose LLM read continuous frames through a projector rather than codec tokens."""
    from ..codecs import CODECS
    continuous = [n for n, factory in CODECS.items() if getattr(factory, "continuous", False)]
    found = sorted({r["codec"] for r in aggregated if any(r["codec"] == n or r["codec"].startswith(f"{n}-") for n in continuous)})
    if not found:
        return ""
    return (f"\n{', '.join(found)}: continuous frames mapped into the LLM's input embeddings by a projector trained "
            "with it (the spectrogram-input baseline), not codec tokens.\n")


def report_sections(aggregated: list[dict], per_class: dict[str, dict], failed_cells: list[dict] = (),
                    skipped_files: list[str | Path] = (), split: str = "test") -> list[tuple[str, str]]:
    """The text of the report as ``(heading, markdown body)`` pairs, shared by report.md and report.html
    (figures are added by each writer)."""
    units = "folds and training seeds: one value per (fold, seed) unit"
    sections = [("", f"Headline metric per dataset on the {split} split, in percent (mean ± sample std over "
                     f"{units}).\n\n" + markdown_table(aggregated, split) + continuous_note(aggregated)),
                ("Comparison of runs", "Pairs of runs that differ in exactly one of codec, model and recipe: "
                 "difference B − A of the headline mean, in percentage points.\n\n" + comparison_markdown(aggregated, split)),
                ("All metrics", metrics_table(aggregated, split)),
                ("Per-class F1", per_class_markdown(per_class, split)),
                ("Clips", "\n".join(_clip_counts(aggregated, split)) + "\n")]
    grid = grid_markdown(aggregated, split)
    if grid:
        sections.insert(1, ("Codecs x models", grid))
    if failed_cells or skipped_files:
        sections.append(("Failed cells", failed_cells_markdown(list(failed_cells), list(skipped_files))))
    return sections


def write_report(records: list[dict], out_dir: str | Path, classes_by_dataset: dict[str, list[str]],
                 failed_cells: list[dict] = (), skipped_files: list[str | Path] = ()) -> dict[str, Path]:
    """Write results.json, report.md, report.html, radar.png and confusion_<dataset>_<method>.png into ``out_dir``.

    Prediction paths in the records are relative to ``out_dir``. ``failed_cells`` and ``skipped_files`` come
    from ``load_results`` and are listed under "Failed cells". Returns ``{"results", "report", "html",
    "radar", <confusion stem>: path}``. A dataset missing from ``classes_by_dataset`` uses the sorted labels seen.
    """
    from codec_bench.report.figures import confusion_figures, radar_plot, save_figure  # they build on this module
    from codec_bench.report.html import write_html_report
    out_dir = Path(out_dir)
    aggregated = aggregate(records)
    paths = {"results": out_dir / "results.json", "report": out_dir / "report.md", "radar": out_dir / "radar.png"}
    write_json(paths["results"], {"format_version": RESULTS_FORMAT_VERSION, "records": records,
                                  "aggregated": aggregated, "failed_cells": list(failed_cells)})
    radar_plot(aggregated, paths["radar"])
    for stem, figure in confusion_figures(records, out_dir, classes_by_dataset).items():
        paths[stem] = save_figure(figure, out_dir / f"{stem}.png")
    per_class = per_class_f1_by_dataset(records, out_dir, classes_by_dataset)
    text = ["# codec-bench results", ""]
    for heading, body in report_sections(aggregated, per_class, failed_cells, skipped_files):
        text += ([f"## {heading}", ""] if heading else []) + [body]
    text += ["## Figures", "", "![radar](radar.png)", ""]
    text += [f"![{stem}]({paths[stem].name})\n" for stem in paths if stem.startswith("confusion_")]
    write_text(paths["report"], "\n".join(text))
    figures = {stem: path for stem, path in paths.items() if stem == "radar" or stem.startswith("confusion_")}
    paths["html"] = write_html_report(aggregated, records, out_dir, classes_by_dataset, failed_cells=failed_cells,
                                      skipped_files=skipped_files, figures=figures, per_class=per_class)
    return paths
