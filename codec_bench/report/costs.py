"""Accuracy against cost: one point per (dataset, codec with its patch or BPE setting, model) of the fine-tuned LLM's label
scoring, its headline metric (mean and interval) set against what the codec costs the LLM (``Record.costs``,
written by ``study.costs``): LLM audio positions per second of audio and the codes' bitrate. A point is on the
Pareto front of its dataset when no other point costs as little or less and scores as high or higher, one of the
two strictly; a front per cost axis. A table (``costs_markdown``) and a figure (``cost_figure``, ``costs.png``); and
what each codec's token stream is and uses on the corpus (``token_streams_markdown``): tokens per second, LLM
positions per second, bitrate, and per codebook its utilisation (share of entries used) and entropy (bits per token).

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
            "scoring_seconds_per_clip", "tokens_per_second", "usage_clips")
PER_CODEBOOK = ("codebook_utilisation", "codebook_entropy_bits")  # one value per codebook (``codecs.usage``)


def _mean(values: list) -> float | None:
    known = [v for v in values if v is not None]
    return float(np.mean(known)) if known else None


def _mean_per_codebook(values: list) -> list[float] | None:
    """The element-wise mean of per-codebook lists (None where no record has one)."""
    known = [v for v in values if v]
    return [float(x) for x in np.mean(np.asarray(known, dtype=float), axis=0)] if known else None


def group_costs(records: list[dict]) -> dict[tuple, dict]:
    """Aggregation group (``GROUP_KEYS``) -> its records' costs, averaged over its (fold, seed) records: the
    ``AVERAGED`` numbers, the ``PER_CODEBOOK`` lists and ``patch`` and ``bpe``; groups whose records carry none are
    left out."""
    found = defaultdict(list)
    for record in records:
        if record.get("costs"):
            found[tuple(record[k] for k in GROUP_KEYS)].append(record["costs"])
    return {key: {"patch": costs[0].get("patch", 1), "bpe": costs[0].get("bpe", 0)}
            | {name: _mean([c.get(name) for c in costs]) for name in AVERAGED}
            | {name: _mean_per_codebook([c.get(name) for c in costs]) for name in PER_CODEBOOK}
            for key, costs in found.items()}


def cost_points(aggregated: list[dict], records: list[dict], split: str = "test") -> list[dict]:
    """One point per label-scoring row of ``split`` whose records carry costs: the row's keys, ``value`` (headline
    mean, 0-1), ``ci`` ([low, high] or None), the costs averaged over its (fold, seed) records, and
    ``pareto_<axis>`` for each cost axis."""
    costs = group_costs(records)
    points = []
    for row in aggregated:
        found = costs.get(tuple(row[k] for k in GROUP_KEYS))
        metric = row["metrics"].get(row["headline"])
        if row["split"] != split or row["method"] != "llm_scoring" or not found or metric is None:
            continue
        point = {k: row[k] for k in ("dataset", "codec", "model", "headline")}
        points.append(point | {"value": metric["mean"], "ci": metric.get("ci")} | found)
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


def percent_list(values: list[float] | None) -> str:
    """Per-codebook shares as percentages, "–" without any."""
    return "–" if not values else " · ".join(f"{100 * v:.1f}" for v in values)


def bits_list(values: list[float] | None) -> str:
    return "–" if not values else " · ".join(f"{v:.2f}" for v in values)


def mean_of(values: list[float] | None) -> float | None:
    return None if not values else float(np.mean(values))


def percent(share: float | None) -> float | None:
    return None if share is None else 100 * share


def costs_markdown(points: list[dict]) -> str:
    """The points as a table, cheapest first per dataset; ★ marks a Pareto point (positions / bitrate). Codebook
    use and bits/token: the mean over the codec's codebooks (each codebook's in ``token_streams_markdown``)."""
    header = ("| dataset | codec | model | headline [interval] | positions/s | bits/s | tokens/s | codebook use % | "
              "bits/token | positions/prompt | train s/epoch | scoring ms/clip | Pareto (positions / bits) |")
    lines = [header, "|" + "---|" * 13]
    for p in sorted(points, key=lambda p: (p["dataset"], p["positions_per_second"] or 0, p["codec"], p["model"])):
        ci = p["ci"]
        value = f"{p['headline']} {100 * p['value']:.1f}" + (f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else "")
        marks = " / ".join("★" if p[f"pareto_{axis}"] else "·" for axis in FIGURES)
        scoring = None if p["scoring_seconds_per_clip"] is None else 1000 * p["scoring_seconds_per_clip"]
        lines.append(f"| {p['dataset']} | {p['codec']} | {p['model']} | {value} | {_number(p['positions_per_second'])} | "
                     f"{_number(p['bitrate_bps'], 0)} | {_number(p['tokens_per_second'])} | "
                     f"{_number(percent(mean_of(p['codebook_utilisation'])))} | "
                     f"{_number(mean_of(p['codebook_entropy_bits']), 2)} | {_number(p['mean_audio_positions'])} | "
                     f"{_number(p['train_seconds_per_epoch'], 2)} | {_number(scoring, 2)} | {marks} |")
    return "\n".join(lines) + "\n"


def token_streams_markdown(points: list[dict]) -> str:
    """One row per (dataset, codec) whose records measured its codebooks: tokens and LLM positions per second, bitrate,
    each codebook's utilisation and entropy (of at most log2 of the codebook size: bits/s over tokens/s), the clips
    counted and each model's headline beside them; "" when none did."""
    streams: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for p in points:
        streams[(p["dataset"], p["codec"])].append(p)
    header = ("| dataset | codec | tokens/s | positions/s | bits/s | utilisation per codebook % | entropy per codebook "
              "bits/token (of at most) | clips counted | headline per model |")
    lines = [header, "|" + "---|" * 9]
    rows = 0
    for (dataset, codec), members in sorted(streams.items()):
        p = members[0]
        if not p.get("codebook_utilisation"):
            continue
        rows += 1
        most = p["bitrate_bps"] / p["tokens_per_second"] if p["bitrate_bps"] and p["tokens_per_second"] else None
        models = " · ".join(f"{m['model']} {100 * m['value']:.1f}" for m in members)
        lines.append(f"| {dataset} | {codec} | {_number(p['tokens_per_second'])} | {_number(p['positions_per_second'])} | "
                     f"{_number(p['bitrate_bps'], 0)} | {percent_list(p['codebook_utilisation'])} | "
                     f"{bits_list(p['codebook_entropy_bits'])} (of {_number(most, 0)}) | {_number(p.get('usage_clips'), 0)} | "
                     f"{p['headline']}: {models} |")
    return "\n".join(lines) + "\n" if rows else ""


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
            "costs.png.\n\n" + costs_markdown(points) + _streams_text(points))


def _streams_text(points: list[dict]) -> str:
    table = token_streams_markdown(points)
    return "" if not table else (
        "\nWhat each codec's token stream is and uses, on the training and evaluated clips of the dataset (counted once "
        "per dataset and codec from the token cache): codes per second of audio over all codebooks (tokens/s), LLM "
        "audio positions per second, and per codebook the share of its entries that occur (utilisation) and the "
        "entropy of its codes (bits per token, at most log2 of the codebook size).\n\n" + table)


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
