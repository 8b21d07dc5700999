"""Results records -> fold means, a markdown table, the radar figure and confusion matrices.

A record is one evaluated run on one fold (written by the evaluation stage); see ``aggregate`` for its keys.
Every headline metric is "higher is better". Figures use ``matplotlib.figure.Figure`` directly, which renders
with the Agg canvas and leaves pyplot's global state (and other users' backends) alone. Every file is written
under a temporary name and renamed, so a file that exists is complete.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from codec_bench.errors import CodecBenchError
from codec_bench.io import atomic_path, read_jsonl, write_json, write_text
from codec_bench.metrics import HEADLINE, mean_std

GROUP_KEYS = ("dataset", "task", "domain", "protocol", "codec", "model", "method", "split")
DOMAIN_ORDER = ("sound", "music", "speech")
DOMAIN_COLOURS = {"sound": "#1b9e77", "music": "#d95f02", "speech": "#7570b3"}
OTHER_DOMAIN_COLOUR = "#666666"
OUT_OF_CLASSES = "(other)"  # column for generated answers that are not one of the classes


def aggregate(records: list[dict]) -> list[dict]:
    """Group fold records by ``GROUP_KEYS`` -> one dict per group with fold mean and sample std per metric.

    Output keys: the group keys, ``headline``, ``metrics: {name: {"mean", "std"}}`` (only metrics that every
    fold reports), ``n_folds``, ``n_clips`` (sum over folds) and ``folds`` (fold ids). Groups keep the order of
    first appearance. The same fold twice in one group raises: it would be counted twice in the mean.
    """
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for record in records:
        groups[tuple(record[k] for k in GROUP_KEYS)].append(record)
    return [_aggregate_group(key, members) for key, members in groups.items()]


def _aggregate_group(key: tuple, members: list[dict]) -> dict:
    folds = [m.get("fold") for m in members]
    if len(set(folds)) != len(folds):
        raise CodecBenchError(f"duplicate fold in results for {dict(zip(GROUP_KEYS, key))}: folds {folds}")
    names = [n for n in members[0]["metrics"] if all(n in m["metrics"] for m in members)]
    metrics = {}
    for name in names:
        mean, std = mean_std([m["metrics"][name] for m in members])
        metrics[name] = {"mean": mean, "std": std}
    # one headline per task, so every cell of a dataset's row shows the same metric (n/a where a run lacks it)
    headline = HEADLINE.get(members[0]["task"]) or members[0].get("headline")
    return {**dict(zip(GROUP_KEYS, key)), "headline": headline, "metrics": metrics, "n_folds": len(members),
            "n_clips": sum(int(m["n_clips"]) for m in members), "folds": folds}


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
    return f"{mean:.1f} ± {std:.1f}" if row["n_folds"] > 1 else f"{mean:.1f}"


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
    """Datasets x runs table of the headline metric in percent ("mean ± std" over folds when > 1 fold),
    followed by one line per dataset where an LLM run scores below a baseline run."""
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


def _save(fig: Figure, path: str | Path) -> Path:
    """Render ``fig`` to PNG under a temporary name, then rename onto ``path``."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    return Path(path)


def radar_plot(aggregated: list[dict], path: str | Path, split: str = "test") -> Path:
    """The paper's figure: one axis per dataset (headline metric, 0–100 %), axes grouped and coloured by
    domain, one polygon per run. With fewer than 3 datasets a radar is meaningless, so draw grouped bars."""
    rows = [r for r in aggregated if r["split"] == split]
    datasets, labels, cells = _datasets(rows), run_labels(rows), _headline_by_cell(rows)
    values = np.array([[_headline(cells[(d, run)])[0] if (d, run) in cells else np.nan for d, _ in datasets]
                       for run in labels]).reshape(len(labels), len(datasets))  # (runs, datasets) percent
    colours = [DOMAIN_COLOURS.get(domain, OTHER_DOMAIN_COLOUR) for _, domain in datasets]
    fig = Figure(figsize=(8, 7))
    if len(datasets) >= 3:
        ax, handles = _draw_radar(fig, values, colours)
        title = f"Headline metric per dataset ({split})"
    else:
        ax, handles = _draw_bars(fig, values)
        title = f"Headline metric per dataset ({split}) — bar chart: fewer than 3 datasets for a radar"
    if datasets:
        ax.set_xticklabels([d for d, _ in datasets])
        for tick, colour in zip(ax.get_xticklabels(), colours):
            tick.set_color(colour)
    if labels:
        ax.legend(handles, list(labels.values()), loc="upper left", bbox_to_anchor=(1.08, 1.0), title="run")
    domains = list(dict.fromkeys(domain for _, domain in datasets))
    if domains:  # a figure legend, so that tight saving keeps both legends inside the PNG
        fig.legend(handles=[Patch(color=DOMAIN_COLOURS.get(d, OTHER_DOMAIN_COLOUR), label=d) for d in domains],
                   loc="lower left", bbox_to_anchor=(0.92, 0.08), title="domain")
    ax.set_title(title if rows else f"No results for split {split!r}")
    return _save(fig, path)


def _draw_radar(fig: Figure, values: np.ndarray, colours: list[str]) -> tuple[Any, list]:
    """``values: (runs, datasets)`` percent -> (polar axes, one line per run): a closed polygon per run, with
    a gap where a run has no result, over light sectors in the domain colours."""
    ax = fig.add_subplot(projection="polar")
    angles = np.linspace(0, 2 * np.pi, values.shape[1], endpoint=False)
    width = 2 * np.pi / values.shape[1]
    ax.bar(angles, 100, width=width, color=colours, alpha=0.07, linewidth=0)  # domain sectors behind the data
    handles = []
    for run_values in values:
        line, = ax.plot(np.append(angles, angles[0]), np.append(run_values, run_values[0]), marker="o", linewidth=1.5)
        ax.fill(angles, np.nan_to_num(run_values), color=line.get_color(), alpha=0.08)
        handles.append(line)
    ax.set_xticks(angles)
    ax.set_ylim(0, 100)
    ax.set_yticks([20, 40, 60, 80, 100])
    ax.set_rlabel_position(np.degrees(width / 2))  # radial tick labels between axes, clear of dataset names
    return ax, handles


def _draw_bars(fig: Figure, values: np.ndarray) -> tuple[Any, list]:
    """``values: (runs, datasets)`` percent -> (axes, one bar container per run): grouped bars per dataset.
    A missing result is a missing bar, not a bar at 0."""
    ax = fig.add_subplot()
    n_runs = max(values.shape[0], 1)
    width = 0.8 / n_runs
    x = np.arange(values.shape[1])
    offsets = (np.arange(values.shape[0]) - (n_runs - 1) / 2) * width
    handles = [ax.bar(x + offset, run_values, width=width) for offset, run_values in zip(offsets, values)]
    ax.set_xticks(x)
    ax.set_ylim(0, 100)
    ax.set_ylabel("headline metric (%)")
    return ax, handles


def confusion_plot(labels_true: list[str], labels_pred: list[str], classes: list[str], path: str | Path,
                   title: str) -> Path:
    """Row-normalised confusion matrix PNG (row = true class, sums to 1 where the class occurs).

    A prediction outside ``classes`` (a generated answer) is counted in an extra "(other)" column rather than
    dropped, so errors are not hidden.
    """
    if len(labels_true) != len(labels_pred):
        raise ValueError(f"{len(labels_true)} true labels but {len(labels_pred)} predictions")
    columns = list(classes) + ([OUT_OF_CLASSES] if any(p not in classes for p in labels_pred) else [])
    row_index = {c: i for i, c in enumerate(classes)}
    col_index = {c: i for i, c in enumerate(columns)}
    counts = np.zeros((len(classes), len(columns)))  # (true class, predicted class)
    for true, pred in zip(labels_true, labels_pred):
        counts[row_index[true], col_index.get(pred, len(columns) - 1)] += 1
    totals = counts.sum(axis=1, keepdims=True)
    normalised = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    size = 3 + 0.4 * len(columns)
    fig = Figure(figsize=(size + 1.5, size))
    ax = fig.add_subplot()
    image = ax.imshow(normalised, vmin=0, vmax=1, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046)
    ax.set_xticks(range(len(columns)), columns, rotation=60, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if len(columns) <= 20:  # numbers stay readable up to about 20 classes
        for (i, j), value in np.ndenumerate(normalised):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if value > 0.5 else "black")
    ax.set_title(title)
    return _save(fig, path)


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


def _confusion_inputs(records: list[dict], out_dir: Path) -> dict[str, tuple[str, list[dict]]]:
    """File stem -> (dataset, prediction rows of all folds) for single-label ``llm_scoring`` test runs."""
    chosen = [r for r in records if r["task"] == "single_label" and r["method"] == "llm_scoring"
              and r["split"] == "test" and r.get("predictions")]
    runs_per_dataset = defaultdict(set)
    for r in chosen:
        runs_per_dataset[r["dataset"]].add((r["codec"], r["model"]))
    inputs: dict[str, tuple[str, list[dict]]] = {}
    for r in chosen:
        stem = f"confusion_{r['dataset']}_{r['method']}"
        if len(runs_per_dataset[r["dataset"]]) > 1:  # several codecs/models: keep their files apart
            stem += f"_{r['codec']}_{r['model']}"
        path = out_dir / r["predictions"]
        if not path.is_file():
            raise CodecBenchError(f"{path}: predictions file named in the results is missing; rerun evaluation")
        inputs.setdefault(_safe_name(stem), (r["dataset"], []))[1].extend(read_jsonl(path))
    return inputs


def _clip_counts(aggregated: list[dict], split: str = "test") -> list[str]:
    """One markdown bullet per dataset: test clips per run (summed over folds), and whether runs differ."""
    rows = [r for r in aggregated if r["split"] == split]
    lines = []
    for dataset, _ in _datasets(rows):
        mine = [r for r in rows if r["dataset"] == dataset]
        counts = sorted({r["n_clips"] for r in mine})
        folds = sorted({r["n_folds"] for r in mine})
        text = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}–{counts[-1]} (differs between runs)"
        lines.append(f"- **{dataset}**: {text} {split} clips over {'/'.join(map(str, folds))} fold(s)")
    return lines


def metrics_table(aggregated: list[dict], split: str = "test") -> str:
    """Every metric of every run, one small table per dataset (percent, mean ± std over folds)."""
    rows = [r for r in aggregated if r["split"] == split]
    labels = run_labels(rows)
    parts = []
    for dataset, _ in _datasets(rows):
        members = [r for r in rows if r["dataset"] == dataset]
        names = list(dict.fromkeys(m for r in members for m in r["metrics"]))
        lines = [f"**{dataset}** ({split})", "", "| run | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for r in members:
            values = [r["metrics"].get(m) for m in names]
            cells = ["–" if v is None else (f"{100 * v['mean']:.1f} ± {100 * v['std']:.1f}" if r["n_folds"] > 1 else f"{100 * v['mean']:.1f}")
                     for v in values]
            lines.append(f"| {labels[(r['method'], r['codec'], r['model'])]} | " + " | ".join(cells) + " |")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def write_report(records: list[dict], out_dir: str | Path, classes_by_dataset: dict[str, list[str]]) -> dict[str, Path]:
    """Write results.json, report.md, radar.png and confusion_<dataset>_<method>.png into ``out_dir``.

    Prediction paths in the records are relative to ``out_dir``. Returns ``{"results", "report", "radar",
    <confusion stem>: path}``. A dataset missing from ``classes_by_dataset`` uses the sorted labels seen.
    """
    out_dir = Path(out_dir)
    aggregated = aggregate(records)
    paths = {"results": out_dir / "results.json", "report": out_dir / "report.md", "radar": out_dir / "radar.png"}
    write_json(paths["results"], {"format_version": 1, "records": records, "aggregated": aggregated})
    radar_plot(aggregated, paths["radar"])
    for stem, (dataset, rows) in _confusion_inputs(records, out_dir).items():
        truth = [row["labels"][0] for row in rows]
        pred = [row["prediction"][0] if row["prediction"] else "" for row in rows]
        classes = classes_by_dataset.get(dataset) or sorted(set(truth))
        paths[stem] = confusion_plot(truth, pred, classes, out_dir / f"{stem}.png", f"{dataset}: llm_scoring (test)")
    sections = ["# codec-bench results", "",
                "Headline metric per dataset on the test split, in percent (mean ± sample std over folds).", "",
                markdown_table(aggregated, "test"), "## All metrics", "", metrics_table(aggregated, "test"),
                "## Clips", "", *_clip_counts(aggregated, "test"), "",
                "## Figures", "", "![radar](radar.png)", ""]
    sections += [f"![{stem}]({paths[stem].name})\n" for stem in paths if stem.startswith("confusion_")]
    write_text(paths["report"], "\n".join(sections))
    return paths
