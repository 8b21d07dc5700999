"""Aggregated rows -> the Markdown of the report, section by section (``report_sections``), shared by report.md
and report.html."""

from __future__ import annotations

import math
from pathlib import Path

from ..codecs import CODECS, is_front_end
from .aggregate import cells_by_run, n_units, ordered_datasets, run_labels
from .costs import cost_section
from .selection import selection_markdown
from .significance import ALPHA


def value_text(value: dict | None, units: int) -> str:
    """A metric ``{"mean", "std"[, "ci"]}`` in percent: ``82.0 [76.5, 87.0]``, with ``± std`` over (fold, seed)
    units when there are several."""
    if value is None:
        return "–"
    mean = 100 * value["mean"]
    if math.isnan(mean):
        return "n/a"
    text = f"{mean:.1f} ± {100 * value['std']:.1f}" if units > 1 else f"{mean:.1f}"
    ci = value.get("ci")
    return f"{text} [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci and not math.isnan(ci[0]) else text


def cell_text(row: dict | None) -> str:
    if row is None:
        return "–"
    return value_text(row["metrics"].get(row["headline"], {"mean": math.nan}), n_units(row))


def p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def verdict_text(test: dict) -> str:
    """A test of B against A in words: "significantly above (p = ...)", "not distinguishable on N clips (p = ...)"
    or "cannot tell (why)"; p Holm-adjusted over the comparison's datasets when there are several."""
    if test["p_holm"] is None:
        return f"cannot tell ({test['why']})"
    adjusted = f", Holm-adjusted over {test['datasets']} datasets" if test["datasets"] > 1 else ""
    how = f"{test['test']}{adjusted}, {p_text(test['p_holm'])}"
    if test["verdict"] == "not distinguishable":
        return f"not distinguishable on {test['n_clips']} {test.get('unit', 'clips')} ({how})"
    return f"significantly {test['verdict']} ({how})"


def reference_lines(checks: list[dict]) -> list[str]:
    """One markdown line per dataset, LLM run and reference row: the two headline values and the paired test's
    verdict ("significantly above / below", else whether the LLM's mean is above, equal or below and that the test
    cannot distinguish them or cannot tell)."""
    lines = []
    for check in checks:
        llm, reference = check["llm_value"], check["reference_value"]
        if math.isnan(llm["mean"]) or math.isnan(reference["mean"]):
            continue
        relation = "below" if llm["mean"] < reference["mean"] else "above" if llm["mean"] > reference["mean"] else "equal"
        verdict = verdict_text(check["test"])
        lines.append(
            f"**{check['dataset']}**: {check['llm']} ({value_text(llm, 1)}) vs {check['reference']} "
            f"({value_text(reference, 1)}): " + (verdict if verdict.startswith("significantly") else f"{relation}, {verdict}")
        )
    return lines


def markdown_table(aggregated: list[dict], split: str = "test") -> str:
    """Datasets x runs table of the headline metric in percent (``cell_text``)."""
    rows = [r for r in aggregated if r["split"] == split]
    if not rows:
        return f"_No results for split {split!r}._\n"
    labels, cells = run_labels(rows), cells_by_run(rows)
    lines = ["| dataset | metric | " + " | ".join(labels.values()) + " |", "|---|---|" + "---|" * len(labels)]
    for dataset, _ in ordered_datasets(rows):
        headline = next(r["headline"] for r in rows if r["dataset"] == dataset)
        row_cells = [cell_text(cells.get((dataset, run))) for run in labels]
        lines.append(f"| {dataset} | {headline} | " + " | ".join(row_cells) + " |")
    return "\n".join(lines) + "\n"


def choices_markdown(records: list[dict], split: str = "test") -> str:
    """One row per run, fold and seed: what it chose on validation (the kept epoch of those evaluated and by which
    figure; for multi-label tasks the per-label scoring method and the decision rule; for a reference row its C or k
    with its validation figure, ``evaluation.tuning``). Empty when nothing chose."""
    rows = sorted((r for r in records if r["split"] == split and r.get("choices") and r["method"] != "llm_generation"),
                  key=lambda r: (r["dataset"], r["codec"], r["model"], r["method"], str(r.get("fold")), r.get("seed", 0)))
    if not rows:
        return ""
    lines = ["| dataset | codec | model | method | fold | seed | kept epoch | multi-label scoring | decision rule | C or k |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        c = r["choices"]
        epoch = "–"
        if c.get("best_epoch") is not None:
            epoch = f"{c['best_epoch']:g} of {c.get('epochs', '?')} (validation {c.get('selected_by', 'loss')}"
            epoch += ", stopped early)" if c.get("stopped_early") else ")"
        lines.append(f"| {r['dataset']} | {r['codec']} | {r['model']} | {r['method']} | {r.get('fold') or '–'} | "
                     f"{r.get('seed', 0)} | {epoch} | {c.get('scoring', '–')} | {c.get('decision_rule', '–')} | "
                     f"{_reference_setting(c)} |")
    return "\n".join(lines) + "\n"


def _reference_setting(choices: dict) -> str:
    """``C = 0.1 (validation 83.3)``: a reference row's setting chosen on validation (``tuning.GridChoice``), or –."""
    for name in ("C", "k"):
        if name in choices:
            figure = (choices.get(f"{name}_validation") or {}).get(f"{choices[name]:g}")
            return f"{name} = {choices[name]:g}" + (f" (validation {100 * figure:.1f})" if figure is not None else " (default)")
    return "–"


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
        unseen = next((r for r in mine if "unseen_answer_rate" in r["metrics"]), None)  # question answering
        if unseen is not None:
            count = round(unseen["metrics"]["unseen_answer_rate"]["mean"] * unseen["n_clips"])
            text += f" ({count} of them with an answer no training question has: never a candidate, scored wrong)"
        lines.append(f"- **{dataset}**: {text} {split} clips over {'/'.join(map(str, folds))} fold(s) "
                     f"× {'/'.join(map(str, seeds))} seed(s)")
    return lines


def metrics_table(aggregated: list[dict], split: str = "test") -> str:
    """Every metric of every run, one small table per dataset (``value_text``: percent, mean ± std over folds and
    seeds, the 95 % interval)."""
    rows = [r for r in aggregated if r["split"] == split]
    labels = run_labels(rows)
    parts = []
    for dataset, _ in ordered_datasets(rows):
        members = [r for r in rows if r["dataset"] == dataset]
        names = list(dict.fromkeys(m for r in members for m in r["metrics"]))
        lines = [f"**{dataset}** ({split})", "", "| run | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for r in members:
            cells = [value_text(r["metrics"].get(m), n_units(r)) for m in names]
            lines.append(f"| {labels[(r['method'], r['codec'], r['model'])]} | " + " | ".join(cells) + " |")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def comparison_markdown(comparisons: list[dict], datasets: list[str]) -> str:
    """Tested comparisons (``significance.comparisons_with_tests``) as one table, a row per run pair: B − A per dataset
    and their mean (percentage points) with the Holm-adjusted p-value, then one line per pair and dataset in words."""
    if not comparisons:
        return "_No pair of runs differs in exactly one of codec, model, recipe and folder._\n"
    lines = ["| differs in | run A | run B | " + " | ".join(f"{d} (B − A)" for d in datasets) + " | mean |",
             "|---|---|---|" + "---|" * (len(datasets) + 1)]
    words = []
    for c in comparisons:
        cells = []
        for d in datasets:
            test = c.get("tests", {}).get(d)
            if d not in c["per_dataset"]:
                cells.append("–")
                continue
            p = test and test["p_holm"]
            cells.append(f"{c['per_dataset'][d]:+.1f}" + (f" ({p_text(p)})" if p is not None else ""))
            if test:
                interval = f" [{test['low']:+.1f}, {test['high']:+.1f}]" if not math.isnan(test["low"]) else ""
                words.append(f"- **{d}** ({c['differs']}): {c['b']} vs {c['a']}: {c['per_dataset'][d]:+.1f} points"
                             f"{interval}, {verdict_text(test)}")
        lines.append(f"| {c['differs']} | {c['a']} | {c['b']} | " + " | ".join(cells) + f" | {c['mean']:+.1f} |")
    return "\n".join(lines) + "\n\n" + "\n".join(words) + ("\n" if words else "")


def calibration_markdown(calibration: dict[str, dict]) -> str:
    """Expected calibration error of label scoring, a row per single-label dataset and run."""
    if not calibration:
        return "_No single-label run with label probabilities._\n"
    lines = ["| dataset | run | ECE (%) | clips |", "|---|---|---|---|"]
    for dataset, runs in calibration.items():
        lines += [f"| {dataset} | {run} | {100 * c['ece']:.1f} | {c['clips']} |" for run, c in runs.items()]
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
            lines = [
                f"**{dataset}**, {method}, {headline}:",
                "",
                "| codec | " + " | ".join(models) + " |",
                "|---|" + "---|" * len(models),
            ]
            lines += [
                f"| {codec} | " + " | ".join(cell_text(cells.get((dataset, (method, codec, model)))) for model in models) + " |"
                for codec in codecs
            ]
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


VALIDATION_ONLY = ("**Validation figures only** (a run that chooses: `--splits validation`, the default of `--tune`): "
                   "no test figure is read, written here or shown. Rerun the same command with `--splits all` to evaluate "
                   "the test split with the models already trained.")


def report_sections(aggregated: list[dict], per_class: dict[str, dict], statistics: dict, failed_cells: list[dict] = (),
                    skipped_files: list[str | Path] = (), split: str = "test", records: list[dict] = (),
                    selection: list[dict] = ()) -> list[tuple[str, str]]:
    """The text of the report as ``(heading, markdown body)`` pairs, shared by report.md and report.html
    (figures are added by each writer). ``statistics``: ``significance.analyse``; ``selection``: the recipes chosen
    on validation (``selection.choose``)."""
    boot = statistics["bootstrap"]
    datasets = [d for d, _ in ordered_datasets([r for r in aggregated if r["split"] == split])]
    intro = (f"Headline metric per dataset on the {split} split, in percent: the mean over folds and training seeds "
             f"(± the sample std over (fold, seed) units when there are several) and its {100 * boot['level']:.0f} % "
             f"bootstrap interval [low, high] over the {split} clips ({boot['resamples']} resamples, seed {boot['seed']}; "
             "single-label clips drawn within their class, multi-label clips whole, question answering's audio clips "
             "whole with all their questions; drawn within each fold, the mean taken over folds and seeds).")
    if split == "validation":
        intro = VALIDATION_ONLY + "\n\n" + intro
    losses = reference_lines(statistics["reference_checks"])
    checks = ("\n" + "\n\n".join(losses) + "\n") if losses else ""
    sections = [
        ("", intro + "\n\n" + markdown_table(aggregated, split) + checks + continuous_note(aggregated)),
        (
            "Comparison of runs",
            "Pairs of runs that differ in exactly one of codec, model, recipe and folder: "
            "difference B − A of the headline mean in percentage points, tested on the same clips (exact McNemar "
            "for accuracy with one seed per fold, else a paired bootstrap), p-values Holm-adjusted over the "
            f"datasets of a pair; significant below {ALPHA}.\n\n" + comparison_markdown(statistics["comparisons"], datasets),
        ),
        ("All metrics", metrics_table(aggregated, split)),
        ("Per-class F1", per_class_markdown(per_class, split)),
        (
            "Calibration",
            "Expected calibration error of the top label's probability (label scoring; 15 "
            "equal-width confidence bins, folds and seeds pooled): the mean gap between confidence and accuracy, "
            "weighted by clips. The reliability diagrams are under Figures.\n\n"
            + calibration_markdown(statistics["calibration"]),
        ),
        ("Clips", "\n".join(clip_counts(aggregated, split)) + "\n"),
    ]
    chosen = choices_markdown(list(records), split)
    if chosen:
        sections.insert(-1, ("Choices made on validation", "What each run kept or picked on its validation split "
                             "(never on test): the training epoch, and for multi-label tasks the per-label scoring "
                             "method and the decision rule (by cross-fitted validation micro-F1).\n\n" + chosen))
    if selection:
        sections.insert(1, ("Recipes chosen on validation", "Each grid's recipe with the best validation figure (the "
                            "label-scoring headline, the mean over seeds; ties: the lower validation loss, then the "
                            "cheaper recipe), per dataset, fold, codec and model; the tables above show the chosen "
                            f"recipe's {split} figures only (<model>/<grid>-chosen), never chosen on test; a grid without "
                            "validation records is not chosen and its recipes' rows are shown unchosen, each under its "
                            "own name.\n\n"
                            + selection_markdown(list(selection))))
    costs = cost_section(aggregated, list(records), split)
    if costs:
        sections.insert(-1, ("Accuracy against cost", costs))
    grid = grid_markdown(aggregated, split)
    if grid:
        sections.insert(1, ("Codecs x models", grid))
    if failed_cells or skipped_files:
        sections.append(("Failed cells", failed_cells_markdown(list(failed_cells), list(skipped_files))))
    return sections
