"""What each codec keeps: reconstruction fidelity and bitrate beside understanding, as a table per dataset and the
accuracy-vs-fidelity figure (``fidelity.png``).

It reads the fidelity stage's folders (``formats.fidelity``) and recomputes every figure from the per-clip rows:
the clips of all folds of a dataset pooled, each metric's mean with its 95 % bootstrap interval over those clips
(``evaluation.fidelity.summarise``, seeded by the dataset: codecs scored on the same clips draw the same
resamples). Accuracy is the LLM's label-scoring headline on the test split (the aggregated row, with its
interval). A codec that cannot decode is one line saying why.

The figure: one panel per dataset, a point per codec (setting) at its mel distance (x, lower is better; the
interval as an error bar) and its headline accuracy averaged over the LLMs (y); the Pareto front (no other codec
both closer and more accurate) is ringed and joined.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..evaluation.fidelity import METRICS, summarise
from ..formats import FidelityClip, FidelitySummary, fidelity_folders
from .tables import cell_text

SCORED_METHOD = "llm_scoring"
FIGURE_METRIC = "mel_distance"


@dataclass
class CodecFidelity:
    """One codec on one dataset, its folds pooled."""

    dataset: str
    codec: str
    bitrate_bps: float | None
    decodable: bool
    note: str = ""
    rows: list[FidelityClip] = field(default_factory=list)
    folds: int = 0

    def metrics(self) -> dict[str, dict]:
        """Metric -> ``{"mean", "low", "high", "n"}`` over the pooled clips (metrics no clip got are left out)."""
        names = [n for n in METRICS if any(n in r.metrics for r in self.rows)]
        summary = summarise({n: [r.metrics.get(n, math.nan) for r in self.rows] for n in names}, self.dataset)
        return {n: v for n, v in summary.items() if v["n"]}

    @property
    def decode_cost(self) -> float | None:
        """Decoder seconds per second of audio."""
        audio = sum(r.seconds for r in self.rows)
        return sum(r.decode_seconds for r in self.rows) / audio if audio else None


def collect_fidelity(out: str | Path) -> list[CodecFidelity]:
    """Every finished fidelity folder under ``out``, pooled by dataset and codec."""
    pooled: dict[tuple[str, str], CodecFidelity] = {}
    for folder in fidelity_folders(out):
        summary = FidelitySummary.from_file(folder.summary)
        entry = pooled.setdefault((summary.dataset, summary.codec), CodecFidelity(
            summary.dataset, summary.codec, summary.bitrate_bps, summary.decodable, summary.note))
        entry.rows += folder.read_clips()
        entry.folds += 1
    return list(pooled.values())


def _accuracy_rows(aggregated: list[dict], dataset: str, codec: str, split: str) -> dict[str, dict]:
    """LLM model -> its aggregated label-scoring row for ``codec`` on ``dataset``."""
    return {r["model"]: r for r in aggregated if r["dataset"] == dataset and r["codec"] == codec and r["split"] == split
            and r["method"] == SCORED_METHOD}


def _value(value: dict | None) -> str:
    if value is None:
        return "–"
    return f"{value['mean']:.3g} [{value['low']:.3g}, {value['high']:.3g}]"


def fidelity_markdown(aggregated: list[dict], found: list[CodecFidelity], split: str = "test") -> str:
    """One table per dataset: a row per codec with its bitrate, every fidelity metric (mean [95 % interval]), the
    decode cost and the label-scoring headline of each LLM; then a line per codec that cannot decode."""
    parts = []
    for dataset in dict.fromkeys(f.dataset for f in found):
        entries = [f for f in found if f.dataset == dataset]
        metrics = {f.codec: f.metrics() for f in entries if f.decodable}
        names = [n for n in METRICS if any(n in m for m in metrics.values())]
        models = list(dict.fromkeys(m for f in entries for m in _accuracy_rows(aggregated, dataset, f.codec, split)))
        header = ["codec", "kbit/s", *(METRICS[n].title + (" ↓" if METRICS[n].lower_is_better else " ↑") for n in names),
                  "decode s / audio s", "clips", *models]
        lines = [f"**{dataset}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for entry in entries:
            scores = metrics.get(entry.codec, {})
            rate = "–" if entry.bitrate_bps is None else f"{entry.bitrate_bps / 1000:.3g}"
            cost = entry.decode_cost if entry.decodable else None
            accuracy = _accuracy_rows(aggregated, dataset, entry.codec, split)
            cells = [entry.codec, rate, *(_value(scores.get(n)) for n in names), "–" if cost is None else f"{cost:.3g}",
                     str(len(entry.rows)) if entry.decodable else "–", *(cell_text(accuracy.get(m)) for m in models)]
            lines.append("| " + " | ".join(cells) + " |")
        lines += [""] + [f"- {f.codec}: not decodable ({f.note})" for f in entries if not f.decodable]
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def fidelity_sections(aggregated: list[dict], found: list[CodecFidelity], split: str = "test") -> list[tuple[str, str]]:
    """The report's fidelity section (none when no run scored fidelity)."""
    if not found:
        return []
    speech_only = ", ".join(METRICS[n].title for n in METRICS if METRICS[n].speech_only)
    intro = ("Each codec's decoded audio against its input on a seeded sample of the test clips (the same clips for "
             "every codec; `--fidelity-clips` per fold), at the codec's sample rate: mean over the clips of every fold "
             "and its 95 % bootstrap interval [low, high]. ↑ higher is better, ↓ lower is better. "
             f"{speech_only} on speech datasets only. kbit/s: frame rate x codebooks x log2(codebook size). "
             f"LLM columns: the label-scoring headline on the {split} split (percent), as above. The figure "
             "fidelity.png plots accuracy against the mel distance with the Pareto front.")
    return [("Fidelity and bitrate", intro + "\n\n" + fidelity_markdown(aggregated, found, split))]


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both axes (x lower and y higher, one of them strictly), by x."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], -math.inf
    for index in order:
        if points[index][1] > best:
            front.append(index)
            best = points[index][1]
    return front


def fidelity_figure(aggregated: list[dict], found: list[CodecFidelity], split: str = "test") -> Figure | None:
    """Accuracy (mean over LLMs) against mel distance, one panel per dataset, the Pareto front marked; None when no
    decodable codec has both numbers."""
    panels: dict[str, list[tuple[str, dict, float]]] = defaultdict(list)
    for entry in found:
        metric = entry.metrics().get(FIGURE_METRIC) if entry.decodable else None
        rows = _accuracy_rows(aggregated, entry.dataset, entry.codec, split).values()
        accuracy = [100 * r["metrics"][r["headline"]]["mean"] for r in rows if r["headline"] in r["metrics"]]
        if metric and accuracy:
            panels[entry.dataset].append((entry.codec, metric, float(np.mean(accuracy))))
    if not panels:
        return None
    fig = Figure(figsize=(6 * len(panels), 4.5))
    for k, (dataset, points) in enumerate(panels.items()):
        ax = fig.add_subplot(1, len(panels), k + 1)
        xs, ys = [p[1]["mean"] for p in points], [p[2] for p in points]
        errors = np.array([[p[1]["mean"] - p[1]["low"], p[1]["high"] - p[1]["mean"]] for p in points]).T
        ax.errorbar(xs, ys, xerr=errors, fmt="o", color="#1b9e77", ecolor="#999999", capsize=3)
        front = pareto_front(list(zip(xs, ys)))
        ax.plot([xs[i] for i in front], [ys[i] for i in front], "--", color="#d95f02", label="Pareto front")
        ax.scatter([xs[i] for i in front], [ys[i] for i in front], s=160, facecolors="none", edgecolors="#d95f02")
        for (codec, _, _), x, y in zip(points, xs, ys):
            ax.annotate(codec, (x, y), textcoords="offset points", xytext=(5, 5), fontsize=8)
        ax.set_xlabel(f"{METRICS[FIGURE_METRIC].title} (lower is better)")
        ax.set_ylabel(f"headline, mean over LLMs ({split}, %)")
        ax.set_title(dataset)
        ax.legend(loc="lower left", fontsize=8)
    fig.suptitle("Accuracy vs reconstruction fidelity, one point per codec")
    return fig
