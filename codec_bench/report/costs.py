"""Accuracy against cost: one point per (dataset, codec with its patch or BPE setting, model) of the fine-tuned LLM's label
scoring, its headline metric (mean and interval) set against what the codec costs the LLM (``Record.costs``,
written by ``study.costs``): LLM audio positions per second of audio and the codes' bitrate. A point is on the
Pareto front of its dataset when no other point costs as little or less and scores as high or higher, one of the
two strictly; a front per cost axis. A table (``costs_markdown``) and a figure (``cost_figure``, ``costs.png``).

    >>> points = [{"dataset": "d", "value": v, "positions_per_second": p, "bitrate_bps": b}
    ...           for v, p, b in [(0.9, 50, 800), (0.8, 25, 800), (0.7, 50, 400)]]
    >>> [pareto(points, "positions_per_second"), pareto(points, "bitrate_bps")]
    [[True, True, False], [True, False, True]]
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
from matplotlib.figure import Figure

from .aggregate import GROUP_KEYS

AXES = {"positions_per_second": "LLM audio positions per second of audio", "bitrate_bps": "bitrate (bits per second)"}
FIGURES = ("positions_per_second", "bitrate_bps")
AVERAGED = ("bitrate_bps", "positions_per_second", "mean_audio_positions", "train_seconds_per_epoch",
            "scoring_seconds_per_clip")


def _mean(values: list) -> float | None:
    known = [v for v in values if v is not None]
    return float(np.mean(known)) if known else None


def cost_points(aggregated: list[dict], records: list[dict], split: str = "test") -> list[dict]:
    """One point per label-scoring row of ``split`` whose records carry costs: the row's keys, ``value`` (headline
    mean, 0-1), ``ci`` ([low, high] or None), the costs averaged over its (fold, seed) records, and
    ``pareto_<axis>`` for each cost axis."""
    costs = defaultdict(list)
    for record in records:
        if record.get("costs"):
            costs[tuple(record[k] for k in GROUP_KEYS)].append(record["costs"])
    points = []
    for row in aggregated:
        found = costs.get(tuple(row[k] for k in GROUP_KEYS))
        metric = row["metrics"].get(row["headline"])
        if row["split"] != split or row["method"] != "llm_scoring" or not found or metric is None:
            continue
        point = {k: row[k] for k in ("dataset", "codec", "model", "headline")}
        point |= {"value": metric["mean"], "ci": metric.get("ci"), "patch": found[0].get("patch", 1),
                  "bpe": found[0].get("bpe", 0)}
        points.append(point | {key: _mean([c.get(key) for c in found]) for key in AVERAGED})
    for axis in FIGURES:
        for point, on in zip(points, pareto(points, axis)):
            point[f"pareto_{axis}"] = on
    return points


def pareto(points: list[dict], axis: str) -> list[bool]:
    """Whether each point is on its dataset's front for cost ``axis`` (lower is better) and ``value`` (higher is
    better); a point without that cost (a front-end has no bitrate) is on no front."""
    def beaten(p: dict, q: dict) -> bool:
        return (q is not p and q["dataset"] == p["dataset"] and q[axis] is not None and q[axis] <= p[axis]
                and q["value"] >= p["value"] and (q[axis] < p[axis] or q["value"] > p["value"]))

    return [p[axis] is not None and not any(beaten(p, q) for q in points) for p in points]


def _number(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def costs_markdown(points: list[dict]) -> str:
    """The points as a table, cheapest first per dataset; ★ marks a Pareto point (positions / bitrate)."""
    lines = ["| dataset | codec | model | headline [interval] | positions/s | bits/s | positions/prompt | train s/epoch "
             "| scoring ms/clip | Pareto (positions / bits) |", "|" + "---|" * 10]
    for p in sorted(points, key=lambda p: (p["dataset"], p["positions_per_second"] or 0, p["codec"], p["model"])):
        ci = p["ci"]
        value = f"{p['headline']} {100 * p['value']:.1f}" + (f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else "")
        marks = " / ".join("★" if p[f"pareto_{axis}"] else "·" for axis in FIGURES)
        scoring = None if p["scoring_seconds_per_clip"] is None else 1000 * p["scoring_seconds_per_clip"]
        lines.append(f"| {p['dataset']} | {p['codec']} | {p['model']} | {value} | {_number(p['positions_per_second'])} | "
                     f"{_number(p['bitrate_bps'], 0)} | {_number(p['mean_audio_positions'])} | "
                     f"{_number(p['train_seconds_per_epoch'], 2)} | {_number(scoring, 2)} | {marks} |")
    return "\n".join(lines) + "\n"


def cost_section(aggregated: list[dict], records: list[dict], split: str = "test") -> str:
    """The report's "Accuracy against cost" text, or "" when no record carries costs."""
    points = cost_points(aggregated, list(records), split)
    if not points:
        return ""
    return (f"The fine-tuned LLM's label-scoring headline on the {split} split against what its codec costs: LLM audio "
            "positions per second of audio (after patching: `-p<k>` reads k frames as one position; after acoustic BPE, "
            "`-bpe<n>` with n merged units: measured on the evaluated clips) and the codes' "
            "bitrate (frame rate x codebooks x log2 codebook size; none for continuous front-ends). ★: on the "
            "dataset's Pareto front (nothing cheaper scores as high). Times are wall-clock on the machine each run "
            "used (training: per epoch, validation included; scoring: every candidate label of a clip). The figure is "
            "costs.png.\n\n" + costs_markdown(points))


def cost_figure(points: list[dict]) -> Figure:
    """Headline (percent, with its interval) against positions per second and against bitrate (log scales), one
    marker per point, coloured by dataset; Pareto points outlined and joined by the front's step line."""
    fig = Figure(figsize=(11, 4.5))
    datasets = sorted({p["dataset"] for p in points})
    colours = {d: f"C{i % 10}" for i, d in enumerate(datasets)}
    for ax, axis in zip(fig.subplots(1, 2), FIGURES):
        for dataset in datasets:
            shown = [p for p in points if p["dataset"] == dataset and p[axis] is not None]
            for p in shown:
                y = 100 * p["value"]
                low, high = (100 * p["ci"][0], 100 * p["ci"][1]) if p["ci"] and not math.isnan(p["ci"][0]) else (y, y)
                ax.errorbar(p[axis], y, yerr=[[y - low], [high - y]], fmt="o", color=colours[dataset], capsize=3,
                            markersize=8 if p[f"pareto_{axis}"] else 5, markeredgecolor="black" if p[f"pareto_{axis}"] else None)
                ax.annotate(f"{p['codec']} · {p['model']}", (p[axis], y), fontsize=7, xytext=(4, 4), textcoords="offset points")
            front = sorted((p[axis], 100 * p["value"]) for p in shown if p[f"pareto_{axis}"])
            if front:
                ax.step(*zip(*front), where="post", color=colours[dataset], alpha=0.5, label=dataset)
        if any(p[axis] for p in points):
            ax.set_xscale("log")
        ax.set_xlabel(AXES[axis])
        ax.set_ylabel("headline metric (%)")
        ax.grid(alpha=0.3)
        if len(datasets) > 1:
            ax.legend(fontsize=8)
    fig.suptitle("Accuracy against cost (outlined: Pareto front)")
    return fig
