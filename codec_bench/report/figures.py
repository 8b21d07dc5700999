"""Report figures: the radar (or bar) chart of headline metrics by dataset and run (with 95 % intervals),
confusion matrices and reliability diagrams.

Figures use ``matplotlib.figure.Figure`` directly, which renders with the Agg canvas and leaves pyplot's global
state (and other users' backends) alone; files are written under a temporary name and renamed.
"""

from __future__ import annotations

import io
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from sklearn.metrics import confusion_matrix

from ..core.io import atomic_path
from .aggregate import (
    DOMAIN_COLOURS,
    OTHER_DOMAIN_COLOUR,
    OUT_OF_CLASSES,
    cells_by_run,
    headline_percent,
    ordered_datasets,
    read_predictions,
    run_labels,
    safe_name,
)

FIGURE_PREFIXES = ("confusion_", "reliability_")  # the per-dataset figures beside radar.png


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Render ``fig`` to PNG under a temporary name, then rename onto ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(png_bytes(fig))
    return Path(path)


def png_bytes(fig: Figure) -> bytes:
    """``fig`` rendered as PNG bytes (what ``save_figure`` writes, and what the HTML report embeds)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    return buffer.getvalue()


def radar_plot(aggregated: list[dict], path: str | Path, split: str = "test") -> Path:
    """Write ``radar_figure`` as a PNG to ``path``."""
    return save_figure(radar_figure(aggregated, split), path)


def radar_figure(aggregated: list[dict], split: str = "test") -> Figure:
    """The paper's figure: one axis per dataset (headline metric, 0–100 %), axes grouped and coloured by
    domain, one polygon per run, its 95 % bootstrap intervals as error bars. With fewer than 3 datasets a radar is
    meaningless, so draw grouped bars."""
    rows = [r for r in aggregated if r["split"] == split]
    datasets, labels, cells = ordered_datasets(rows), run_labels(rows), cells_by_run(rows)
    values = np.array([[headline_percent(cells[(d, run)])[0] if (d, run) in cells else np.nan for d, _ in datasets]
                       for run in labels]).reshape(len(labels), len(datasets))  # (runs, datasets) percent
    intervals = np.array([[_interval(cells.get((d, run))) for d, _ in datasets]
                          for run in labels]).reshape(len(labels), len(datasets), 2)  # (runs, datasets, low/high)
    colours = [DOMAIN_COLOURS.get(domain, OTHER_DOMAIN_COLOUR) for _, domain in datasets]
    fig = Figure(figsize=(8, 7))
    if len(datasets) >= 3:
        ax, handles = _draw_radar(fig, values, intervals, colours)
        title = f"Headline metric per dataset ({split})"
    else:
        ax, handles = _draw_bars(fig, values, intervals)
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
    return fig


def _interval(row: dict | None) -> tuple[float, float]:
    """The headline's 95 % interval in percent (nan without one)."""
    ci = (row or {}).get("metrics", {}).get((row or {}).get("headline"), {}).get("ci")
    return (100 * ci[0], 100 * ci[1]) if ci else (np.nan, np.nan)


def _error_bars(ax, x: np.ndarray, values: np.ndarray, intervals: np.ndarray, colour) -> None:
    """Draw ``intervals: (n, 2)`` around ``values: (n,)`` (points without an interval get none)."""
    has = ~np.isnan(intervals[:, 0]) & ~np.isnan(values)
    if has.any():
        below, above = values[has] - intervals[has, 0], intervals[has, 1] - values[has]
        ax.errorbar(x[has], values[has], yerr=np.clip([below, above], 0, None), fmt="none", ecolor=colour, capsize=3,
                    linewidth=1)


def _draw_radar(fig: Figure, values: np.ndarray, intervals: np.ndarray, colours: list[str]) -> tuple[Any, list]:
    """``values: (runs, datasets)`` percent -> (polar axes, one line per run): a closed polygon per run, with
    a gap where a run has no result and radial error bars for ``intervals: (runs, datasets, 2)``, over light
    sectors in the domain colours."""
    ax = fig.add_subplot(projection="polar")
    angles = np.linspace(0, 2 * np.pi, values.shape[1], endpoint=False)
    width = 2 * np.pi / values.shape[1]
    ax.bar(angles, 100, width=width, color=colours, alpha=0.07, linewidth=0)  # domain sectors behind the data
    handles = []
    for run_values, run_intervals in zip(values, intervals):
        line, = ax.plot(np.append(angles, angles[0]), np.append(run_values, run_values[0]), marker="o", linewidth=1.5)
        ax.fill(angles, np.nan_to_num(run_values), color=line.get_color(), alpha=0.08)
        _error_bars(ax, angles, run_values, run_intervals, line.get_color())
        handles.append(line)
    ax.set_xticks(angles)
    ax.set_ylim(0, 100)
    ax.set_yticks([20, 40, 60, 80, 100])
    ax.set_rlabel_position(np.degrees(width / 2))  # radial tick labels between axes, clear of dataset names
    return ax, handles


def _draw_bars(fig: Figure, values: np.ndarray, intervals: np.ndarray) -> tuple[Any, list]:
    """``values: (runs, datasets)`` percent -> (axes, one bar container per run): grouped bars per dataset with
    error bars for ``intervals: (runs, datasets, 2)``. A missing result is a missing bar, not a bar at 0."""
    ax = fig.add_subplot()
    n_runs = max(values.shape[0], 1)
    width = 0.8 / n_runs
    x = np.arange(values.shape[1])
    offsets = (np.arange(values.shape[0]) - (n_runs - 1) / 2) * width
    handles = [ax.bar(x + offset, run_values, width=width) for offset, run_values in zip(offsets, values)]
    for offset, run_values, run_intervals in zip(offsets, values, intervals):
        _error_bars(ax, x + offset, run_values, run_intervals, "black")
    ax.set_xticks(x)
    ax.set_ylim(0, 100)
    ax.set_ylabel("headline metric (%)")
    return ax, handles


def confusion_figure(labels_true: list[str], labels_pred: list[str], classes: list[str], title: str) -> Figure:
    """Row-normalised confusion matrix (row = true class, sums to 1 where the class occurs).

    A prediction outside ``classes`` (a generated answer) is counted in an extra "(other)" column rather than
    dropped, so errors are not hidden.
    """
    if len(labels_true) != len(labels_pred):
        raise ValueError(f"{len(labels_true)} true labels but {len(labels_pred)} predictions")
    columns = list(classes) + ([OUT_OF_CLASSES] if any(p not in classes for p in labels_pred) else [])
    mapped = [p if p in classes else OUT_OF_CLASSES for p in labels_pred]
    counts = confusion_matrix(labels_true, mapped, labels=columns)[: len(classes)].astype(float)  # (true, predicted)
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
    return fig


def _confusion_inputs(records: list[dict], out_dir: Path) -> dict[str, tuple[str, list[dict]]]:
    """File stem -> (dataset, prediction rows of all folds and seeds) for single-label ``llm_scoring`` test runs."""
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
        inputs.setdefault(safe_name(stem), (r["dataset"], []))[1].extend(read_predictions(out_dir, r))
    return inputs


def confusion_figures(records: list[dict], out_dir: str | Path,
                      classes_by_dataset: dict[str, list[str]]) -> dict[str, Figure]:
    """File stem (``confusion_<dataset>_<method>[_<codec>_<model>]``) -> confusion figure of a single-label
    ``llm_scoring`` test run, prediction rows of all folds and seeds pooled. Prediction paths in the records
    are relative to ``out_dir``; a dataset missing from ``classes_by_dataset`` uses the sorted labels seen."""
    figures = {}
    for stem, (dataset, rows) in _confusion_inputs(records, Path(out_dir)).items():
        truth = [row["labels"][0] for row in rows]
        pred = [row["prediction"][0] if row["prediction"] else "" for row in rows]
        classes = classes_by_dataset.get(dataset) or sorted(set(truth))
        figures[stem] = confusion_figure(truth, pred, classes, f"{dataset}: llm_scoring (test)")
    return figures


def reliability_figures(calibration: dict[str, dict], split: str = "test") -> dict[str, Figure]:
    """File stem (``reliability_<dataset>``) -> the reliability diagram of a single-label dataset: accuracy against
    mean confidence per confidence bin, one line per run (``significance.calibration``), the diagonal for a
    calibrated model, and the clips per bin below."""
    figures = {}
    for dataset, runs in calibration.items():
        fig = Figure(figsize=(6, 6.5))
        curve, counts = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
        curve.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="calibrated")
        for run, result in runs.items():
            bins = result["bins"]
            line, = curve.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o",
                               label=f"{run} (ECE {100 * result['ece']:.1f} %)")
            counts.bar([(b["low"] + b["high"]) / 2 for b in bins], [b["count"] for b in bins],
                       width=bins[0]["high"] - bins[0]["low"] if bins else 0.05, alpha=0.4, color=line.get_color())
        curve.set_xlim(0, 1)
        curve.set_ylim(0, 1)
        curve.set_ylabel("accuracy")
        curve.set_title(f"{dataset}: reliability of label scoring ({split})")
        curve.legend(loc="upper left", fontsize=8)
        counts.set_xlabel("confidence of the top label")
        counts.set_ylabel("clips")
        figures[safe_name(f"reliability_{dataset}")] = fig
    return figures
