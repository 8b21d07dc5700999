"""Aggregated rows -> the Markdown of the report, section by section (``report_sections``), shared by report.md
and report.html."""

from __future__ import annotations

import math
from pathlib import Path

from ..codecs import CODECS, is_front_end
from .aggregate import cells_by_run, compare_runs, headline_percent, n_units, ordered_datasets, run_labels


def cell_text(row: dict | None) -> str:
    if row is None:
        return "–"
    mean, std = headline_percent(row)
    if math.isnan(mean):
        return "n/a"
    return f"{mean:.1f} ± {std:.1f}" if n_units(row) > 1 else f"{mean:.1f}"


def baseline_losses(aggregated: list[dict], split: str = "test") -> list[str]:
    """One markdown line per (dataset, LLM run, baseline run) where the LLM run's headline mean is lower."""
    rows = [r for r in aggregated if r["split"] == split]
    labels, cells = run_labels(rows), cells_by_run(rows)
    lines = []
    for dataset, _ in ordered_datasets(rows):
        present = [(run, cells[(dataset, run)]) for run in labels if (dataset, run) in cells]
        for llm_run, llm in (p for p in present if p[0][0].startswith("llm_")):
            for base_run, base in (p for p in present if p[0][0].startswith("baseline_")):
                llm_mean, base_mean = headline_percent(llm)[0], headline_percent(base)[0]
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
    labels, cells = run_labels(rows), cells_by_run(rows)
    lines = ["| dataset | metric | " + " | ".join(labels.values()) + " |", "|---|---|" + "---|" * len(labels)]
    for dataset, _ in ordered_datasets(rows):
        headline = next(r["headline"] for r in rows if r["dataset"] == dataset)
        row_cells = [cell_text(cells.get((dataset, run))) for run in labels]
        lines.append(f"| {dataset} | {headline} | " + " | ".join(row_cells) + " |")
    losses = baseline_losses(aggregated, split)
    return "\n".join(lines) + "\n" + ("\n" + "\n\n".join(losses) + "\n" if losses else "")


def clip_counts(aggregated: list[dict], split: str = "test") -> list[str]:
    """One markdown bullet per dataset: test clips per run (summed over folds), folds and seeds per run, and
    whether runs differ."""
    rows = [r for r in aggregated if r["split"] == split]
    lines = []
    for dataset, _ in ordered_datasets(rows):
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
    for dataset, _ in ordered_datasets(rows):
        members = [r for r in rows if r["dataset"] == dataset]
        names = list(dict.fromkeys(m for r in members for m in r["metrics"]))
        lines = [f"**{dataset}** ({split})", "", "| run | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for r in members:
            values = [r["metrics"].get(m) for m in names]
            cells = ["–" if v is None else (f"{100 * v['mean']:.1f} ± {100 * v['std']:.1f}" if n_units(r) > 1 else f"{100 * v['mean']:.1f}")
                     for v in values]
            lines.append(f"| {labels[(r['method'], r['codec'], r['model'])]} | " + " | ".join(cells) + " |")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def comparison_markdown(aggregated: list[dict], split: str = "test") -> str:
    """``compare_runs`` as one table: a row per run pair, B − A per dataset and their mean (percentage points)."""
    comparisons = compare_runs(aggregated, split)
    if not comparisons:
        return "_No pair of runs differs in exactly one of codec, model and recipe._\n"
    datasets = [d for d, _ in ordered_datasets([r for r in aggregated if r["split"] == split])]
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
    cells = cells_by_run(rows)
    blocks = []
    for dataset, _ in ordered_datasets(rows):
        for method in dict.fromkeys(r["method"] for r in rows if r["dataset"] == dataset):
            headline = next(r["headline"] for r in rows if r["dataset"] == dataset and r["method"] == method)
            lines = [f"**{dataset}**, {method}, {headline}:", "", "| codec | " + " | ".join(models) + " |",
                     "|---|" + "---|" * len(models)]
            lines += [f"| {codec} | " + " | ".join(cell_text(cells.get((dataset, (method, codec, model)))) for model in models) + " |"
                      for codec in codecs]
            blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


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
    continuous = [name for name in CODECS if is_front_end(name)]
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
                ("Clips", "\n".join(clip_counts(aggregated, split)) + "\n")]
    grid = grid_markdown(aggregated, split)
    if grid:
        sections.insert(1, ("Codecs x models", grid))
    if failed_cells or skipped_files:
        sections.append(("Failed cells", failed_cells_markdown(list(failed_cells), list(skipped_files))))
    return sections
