"""Write a report: results.json, report.md, report.html and the figures, from result records."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from ..config import BUILT_IN
from ..core import ui
from ..core.errors import CodecBenchError
from ..core.io import write_text
from ..core.parallel import build_lock
from ..formats import OutFolder, Record, ResultsFile, RunCard
from ..formats.layout import RESULTS, RUN_CARD
from ..formats.results import git_revision, runtime_versions
from .aggregate import SOURCE_MARK, aggregate, per_class_f1_by_dataset
from .costs import cost_figure, cost_points
from .fidelity import CodecFidelity, collect_fidelity, fidelity_figure, fidelity_sections
from .figures import FIGURE_PREFIXES, confusion_figures, radar_plot, reliability_figures, save_figure
from .html import write_html_report
from .results import collect_records, load_results
from .selection import grids_of, select_records, selection_lines
from .significance import analyse
from .tables import report_sections


def write_report(records: list[Record], out_dir: str | Path, classes_by_dataset: dict[str, list[str]],
                 failed_cells: list[dict] = (), skipped_files: list[str | Path] = (),
                 selection: list[dict] = (), fidelity: list[CodecFidelity] = (), split: str = "test",
                 settings: list[tuple[str, dict]] = (), runs: dict[str, dict] | None = None) -> dict[str, Path]:
    """Write results.json, report.md, report.html, radar.png, confusion_<dataset>_<method>.png,
    reliability_<dataset>.png, when records carry costs, costs.png (``costs``) and, with ``fidelity``
    (``fidelity.collect_fidelity``), fidelity.png into ``out_dir``; results.json holds the records, the aggregated
    rows (with 95 % intervals) and the report's statistics (``significance.analyse``); the fidelity section follows
    report.md's own.

    Prediction paths in the records are relative to ``out_dir``. The tables, figures and statistics read the
    records as the JSON rows ``results.json`` holds (``Record.to_json``). ``failed_cells`` and ``skipped_files`` come
    from ``load_results`` and are listed under "Failed cells"; ``selection``: the recipes chosen on validation
    (``selection.choose``), in results.json and the report's grid table. ``split``: the split the tables, figures and
    tests read (``validation`` for a report that shows no test figure). ``settings``: (run, its run.json settings)
    pairs, for the section of settings that are not built-in defaults (:func:`settings_sections`); ``runs``: each
    records folder's settings and versions (relative to ``out_dir``), in results.json. Returns ``{"results",
    "report", "html", "radar", <confusion stem>: path}``. A dataset missing from ``classes_by_dataset`` uses the sorted
    labels seen.
    """
    out_dir = Path(out_dir)
    typed, records = list(records), [r.to_json() for r in records]
    aggregated = aggregate(records)
    statistics = analyse(records, aggregated, out_dir, classes_by_dataset, split)
    paths = {"results": out_dir / RESULTS, "report": out_dir / "report.md", "radar": out_dir / "radar.png"}
    ResultsFile(typed, aggregated, statistics, list(failed_cells), list(selection), dict(runs or {}), runtime_versions(),
                git_revision()).to_file(paths["results"])
    radar_plot(aggregated, paths["radar"], split)
    for stem, figure in confusion_figures(records, out_dir, classes_by_dataset).items():
        paths[stem] = save_figure(figure, out_dir / f"{stem}.png")
    for stem, figure in reliability_figures(statistics["calibration"], split).items():
        paths[stem] = save_figure(figure, out_dir / f"{stem}.png")
    points = cost_points(aggregated, records, split)
    if points:
        paths["costs"] = save_figure(cost_figure(points), out_dir / "costs.png")
    figure = fidelity_figure(aggregated, list(fidelity), split)
    if figure is not None:
        paths["fidelity"] = save_figure(figure, out_dir / "fidelity.png")
    extra = fidelity_sections(aggregated, list(fidelity), split) + settings_sections(list(settings))
    per_class = per_class_f1_by_dataset(records, out_dir, classes_by_dataset, split)
    text = ["# codec-bench results", ""]
    for heading, body in report_sections(aggregated, per_class, statistics, failed_cells, skipped_files, split,
                                         records=records, selection=selection) + extra:
        text += ([f"## {heading}", ""] if heading else []) + [body]
    figures = {stem: path for stem, path in paths.items()
               if stem in ("radar", "costs", "fidelity") or stem.startswith(FIGURE_PREFIXES)}
    text += ["## Figures", ""] + [f"![{stem}]({path.name})\n" for stem, path in figures.items()]
    write_text(paths["report"], "\n".join(text))
    paths["html"] = write_html_report(aggregated, records, out_dir, statistics, classes_by_dataset, failed_cells=failed_cells,
                                      skipped_files=skipped_files, figures=figures, per_class=per_class, split=split,
                                      selection=selection, extra_sections=extra)
    return paths


def report_folders(folders: list[str | Path], out: str | Path | None = None, compare: bool = False,
                   hide_test: bool = False) -> dict[str, Path]:
    """The report over everything finished under ``folders`` (run, demo or study output folders; a study's failed
    cells are listed), written into ``out`` (default: the first folder); prediction paths are made relative to it.
    ``compare``: keep every folder's runs apart (their model named ``<model> @ <folder>``) and compare the folders'
    runs with each other. A folder whose ``grids.json`` selects on validation reports each grid's chosen recipe only
    (``selection``). ``hide_test``: leave every test record out and report the validation split (a choosing run:
    results.json, report.md, report.html and the console hold no test figure). Two processes finishing together write
    it in turn (a file lock)."""
    out = Path(out or folders[0])
    if compare and len(folders) < 2:
        raise CodecBenchError("--compare needs two or more folders (codec-bench report A B --compare)")
    names = source_names(list(map(Path, folders)))
    records, classes, failed, skipped, chosen, fidelity, settings, runs = [], {}, [], [], [], [], [], {}
    for folder in map(Path, folders):
        found = collect_records(folder)
        found.records, choices = select_records(found.records, grids_of(folder))
        chosen += choices
        said, warnings = selection_lines(choices, folder)
        for line in said:
            ui.say(line)
        for line in warnings:
            ui.warn(line)
        for r in found.records:
            if hide_test and r.split == "test":
                continue
            r = replace(r, predictions=os.path.relpath(folder / r.predictions, out))
            records.append(replace(r, model=f"{r.model}{SOURCE_MARK}{names[folder]}") if compare else r)
        classes |= found.classes
        runs |= {Path(os.path.relpath(path, out)).as_posix(): run for path, run in found.runs.items()}
        fidelity += collect_fidelity(folder)
        settings += [(f"{card.parent.parent.name}/{card.parent.name}", RunCard.from_file(card).settings)
                     for card in sorted(folder.glob(f"*/*/{RUN_CARD}"))]
        skipped += found.skipped_files
        if OutFolder(folder).results.is_dir():
            loaded = load_results(OutFolder(folder).results)
            failed += loaded.failed_cells
            skipped += loaded.skipped_files
    if not records:
        raise CodecBenchError(f"{', '.join(map(str, folders))}: no finished results here; run `codec-bench run`, `demo` "
                              "or `benchmark` first")
    with build_lock(out / "report.md", "report", beside=False):  # no lock files among the user's report files
        return write_report(records, out, classes, failed, skipped, chosen, fidelity,
                            "validation" if hide_test else "test", settings, runs)


def settings_sections(settings: list[tuple[str, dict]]) -> list[tuple[str, str]]:
    """The report's "Settings" section: per run, each setting that is not its built-in default, its value and where it
    came from (``config.settings_table``, kept in run.json, which holds all of them); none for runs without."""
    lines = []
    for run, table in settings:
        given = [f"{key} {row['value']} ({row['source']})" for key, row in table.items() if row["source"] != BUILT_IN]
        if given:
            lines.append(f"- `{run}`: " + ", ".join(f"`{text}`" for text in given))
    if not lines:
        return []
    return [("Settings", "Each run's settings that are not built-in defaults, and where each came from (built-in "
                         "default, model default, task default, study file, command line); every setting is in the run's "
                         "run.json.\n\n" + "\n".join(lines))]


def source_names(folders: list[Path]) -> dict[Path, str]:
    """Each folder's name in a comparison: its last part, or the path as given when two folders share it."""
    last = [folder.name or str(folder) for folder in folders]
    return {folder: name if last.count(name) == 1 else str(folder) for folder, name in zip(folders, last)}
