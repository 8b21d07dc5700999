"""A leaderboard across study folders: ``codec-bench leaderboard DIR... --out OUT``.

Each folder is a study's (or run's) output folder: its runs' finished records when it has them (the recipes a grid
chose on validation only, as its report shows), else the ``results.json`` a report wrote (a folder shipped without
its runs: the results file and the prediction files it names). Rows of one dataset are put side by side only when
every folder ran it under the same protocol, headline metric and classes; otherwise the join stops with one line
that names the two folders and what differs. The rows of the chosen split are ranked per dataset by their headline
mean (with its 95 % bootstrap interval), and each is tested against the best on the clips they share (the paired
test of ``evaluation.paired_tests`` on the prediction files, as the report's comparisons; Holm-corrected over the
dataset's rows): ★ the best, ≈ statistically tied with it, ▽ significantly below it, ? cannot tell (say why). Each
row carries its codec's cost columns (``report.costs.group_costs``): bitrate, tokens and LLM positions per second,
codebook utilisation and entropy, training and scoring time.

Writes ``leaderboard.md``, ``leaderboard.html`` (one self-contained file, ``report.html``'s style) and
``leaderboard.csv`` (one line per ranked row) into OUT.
"""

from __future__ import annotations

import csv
import io as text_io
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..core import io
from ..core.errors import CodecBenchError
from ..evaluation.metrics import HEADLINE
from ..formats import CellResult, OutFolder, Record, ResultsFile
from ..formats.layout import RESULTS
from .aggregate import SOURCE_MARK, aggregate, ordered_datasets, split_source
from .costs import group_costs, mean_of, percent
from .html import html_page, markdown_to_html
from .results import collect_records
from .selection import grids_of, select_records
from .significance import ALPHA, add_intervals, group_key, holm_adjusted, load_units, paired_headline_test

MARKS = {"best": "★", "tied": "≈", "below": "▽", "untested": "?"}
COST_COLUMNS = {"bitrate_bps": ("bits/s", 0), "tokens_per_second": ("tokens/s", 1), "positions_per_second": ("positions/s", 1),
                "codebook_utilisation": ("codebook use %", 1), "codebook_entropy_bits": ("bits/token", 2),
                "train_seconds_per_epoch": ("train s/epoch", 2), "scoring_seconds_per_clip": ("scoring ms/clip", 2)}
CSV_COLUMNS = ("dataset", "domain", "task", "protocol", "split", "metric", "rank", "mark", "codec", "model", "method",
               "source", "folder", "mean", "std", "ci_low", "ci_high", "n_folds", "n_seeds", "n_clips", "difference_pp",
               "p", "p_holm", "test", "why", *COST_COLUMNS)


@dataclass
class Source:
    """One joined folder: its name in the leaderboard, its records (model named ``<model> @ <name>``, prediction
    paths relative to the leaderboard's folder), each dataset's classes, where the records came from and the
    versions its study cells recorded."""

    name: str
    folder: Path
    records: list[Record] = field(default_factory=list)
    classes: dict[str, list[str]] = field(default_factory=dict)
    origin: str = ""
    versions: list[str] = field(default_factory=list)


def read_source(folder: Path, name: str, out: Path) -> Source:
    """The records of one folder (its runs' finished records, else its ``results.json``), renamed for the join."""
    found = collect_records(folder)
    records, origin = select_records(found.records, grids_of(folder))[0], "run folders"
    if not records and (folder / RESULTS).is_file():
        records, origin = ResultsFile.from_file(folder / RESULTS).records, RESULTS
    if not records:
        raise CodecBenchError(f"{folder}: no finished results here (no run folders, no {RESULTS}); give a study's or run's "
                              "output folder (OUT of `codec-bench benchmark` or `run`)")
    renamed = [replace(r, model=f"{r.model}{SOURCE_MARK}{name}",
                       predictions=r.predictions and os.path.relpath(folder / r.predictions, out)) for r in records]
    return Source(name, folder, renamed, found.classes, origin, cell_versions(folder))


def cell_versions(folder: Path) -> list[str]:
    """The distinct ``codec-bench <version> (git <revision>), torch <v>, transformers <v>`` of a study's cell files."""
    seen: dict[str, None] = {}
    for path in sorted(OutFolder(folder).results.glob("*.json")):
        try:
            cell = CellResult.from_file(path)
        except (CodecBenchError, ValueError):  # another format or half-written: the report lists those
            continue
        if cell.versions:
            v = cell.versions
            seen[f"codec-bench {v.get('codec_bench', '?')} (git {(cell.git_revision or '?')[:10]}), torch "
                 f"{v.get('torch', '?')}, transformers {v.get('transformers', '?')}"] = None
    return list(seen)


def source_names(folders: list[Path]) -> dict[Path, str]:
    """Each folder's name in the leaderboard: the fewest last parts of its path that tell it from the others
    (``lab-a/out`` and ``lab-b/out``)."""
    parts = [folder.resolve().parts for folder in folders]
    for depth in range(1, max(map(len, parts)) + 1):
        names = ["/".join(p[-depth:]) for p in parts]
        if len(set(names)) == len(names):
            return dict(zip(folders, names))
    return {folder: str(folder) for folder in folders}


def check_joinable(sources: list[Source], split: str) -> None:
    """Raise one line when two folders (or one) ran one dataset under another protocol, headline metric or classes."""
    seen: dict[tuple[str, str], tuple[str, Source]] = {}
    for source in sources:
        for record in (r for r in source.records if r.split == split):
            facts = {"protocol": record.protocol, "headline metric": HEADLINE.get(record.task) or record.headline,
                     "classes": ",".join(source.classes.get(record.dataset, []))}
            for what, value in facts.items():
                first, other = seen.setdefault((record.dataset, what), (value, source))
                if first == value or (what == "classes" and not (first and value)):  # unknown classes: not checked
                    continue
                shown = f"{first!r} vs {value!r}" if what != "classes" else "the classes of their manifests"
                where = (f"{source.folder} holds" if other is source else f"{other.folder} and {source.folder} differ in")
                raise CodecBenchError(f"{where} {what} for {record.dataset} ({shown}): their rows are not ranked side by "
                                      "side; give folders that ran it the same way")


def rank_dataset(rows: list[dict], units: dict) -> list[dict]:
    """One dataset's aggregated rows -> the entries ranked by headline mean (best first), each with ``rank``,
    ``mark`` (best, tied, below, untested) and ``test`` (the paired test against the best, Holm over the others)."""
    def mean(row: dict) -> float:
        value = row["metrics"].get(row["headline"], {}).get("mean", math.nan)
        return -math.inf if value is None or math.isnan(value) else value

    rows = sorted(rows, key=mean, reverse=True)
    best = rows[0]
    tests = holm_adjusted({str(i): paired_headline_test(best, row, units) for i, row in enumerate(rows) if i})
    entries = []
    for i, row in enumerate(rows):
        test = tests.get(str(i))
        verdict = "best" if not i else {"not distinguishable": "tied", "below": "below"}.get(test["verdict"], "untested")
        rank = next(j for j, other in enumerate(rows) if mean(other) == mean(row)) + 1
        entries.append({"row": row, "rank": rank, "mark": verdict, "test": test})
    return entries


def leaderboard(folders: list[str | Path], out: str | Path, split: str = "test") -> dict[str, Path]:
    """Join ``folders`` into ``out/leaderboard.{md,html,csv}``; returns their paths (``md``, ``html``, ``csv``)."""
    out, folders = Path(out), [Path(f) for f in folders]
    if len(set(f.resolve() for f in folders)) != len(folders):
        raise CodecBenchError("a folder is given twice; give each study folder once")
    names = source_names(folders)
    sources = [read_source(folder, names[folder], out) for folder in folders]
    check_joinable(sources, split)
    out.mkdir(parents=True, exist_ok=True)
    records = [r.to_json() for s in sources for r in s.records if r.split == split]
    if not records:
        raise CodecBenchError(f"{', '.join(map(str, folders))}: no results on split {split!r}; choose another --split")
    classes = {d: c for s in sources for d, c in s.classes.items()}
    aggregated = aggregate(records)
    units = load_units(records, out, classes, split)
    add_intervals(aggregated, units, split)
    costs = group_costs(records)
    folder_of = {s.name: s.folder for s in sources}
    boards = {}
    for dataset, _ in ordered_datasets(aggregated):
        boards[dataset] = rank_dataset([r for r in aggregated if r["dataset"] == dataset], units)
        for entry in boards[dataset]:
            entry["costs"] = costs.get(group_key(entry["row"]), {})
            entry["model"], entry["source"] = split_source(entry["row"]["model"])
            entry["folder"] = folder_of[entry["source"]]
    paths = {"md": out / "leaderboard.md", "html": out / "leaderboard.html", "csv": out / "leaderboard.csv"}
    sections = leaderboard_sections(sources, boards, split)
    io.write_text(paths["md"], "\n".join(["# codec-bench leaderboard", ""] + [f"## {h}\n\n{body}" for h, body in sections]))
    body = ["<h1>codec-bench leaderboard</h1>"] + [f"<h2>{h}</h2>\n{markdown_to_html(text)}" for h, text in sections]
    io.write_text(paths["html"], html_page("codec-bench leaderboard", body))
    io.write_text(paths["csv"], leaderboard_csv(boards))
    return paths


def leaderboard_sections(sources: list[Source], boards: dict[str, list[dict]], split: str) -> list[tuple[str, str]]:
    """``(heading, markdown)``: the folders joined (provenance first), how to read the marks, then one table per
    dataset."""
    lines = ["| source | folder | read from | rows | versions |", "|---|---|---|---|---|"]
    for s in sources:
        lines.append(f"| {s.name} | `{s.folder}` | {s.origin} | {sum(r.split == split for r in s.records)} | "
                     f"{'; '.join(s.versions) or '–'} |")
    reading = (f"Rows of split `{split}` ranked per dataset by the headline metric's mean over folds and seeds, with its "
               "95 % bootstrap interval (clips resampled, stratified by class). Marks: "
               f"{MARKS['best']} the best; {MARKS['tied']} statistically tied with the best (the paired test on the clips "
               f"both scored, Holm-corrected over the dataset's rows, p ≥ {ALPHA}); {MARKS['below']} significantly below "
               f"it; {MARKS['untested']} cannot tell (the reason follows). Folders are joined only when they ran a "
               "dataset under the same protocol, headline metric and classes. Cost columns: the fine-tuned run's codec "
               "(bitrate, codes per second over all codebooks, LLM audio positions per second, the share of codebook "
               "entries used and the bits per token, both averaged over codebooks and measured on the training and "
               "evaluated clips) and its wall-clock training and scoring time on the machine it ran on; – where a row "
               "has none (reference rows).\n")
    sections = [("Joined folders", "\n".join(lines) + "\n"), ("How to read it", reading)]
    for dataset, entries in boards.items():
        row = entries[0]["row"]
        heading = f"{dataset} ({row['task']}, protocol {row['protocol']}, {row['headline']})"
        sections.append((heading, dataset_markdown(entries)))
    return sections


def dataset_markdown(entries: list[dict]) -> str:
    headline = entries[0]["row"]["headline"]
    costs = [label for label, _ in COST_COLUMNS.values()]
    header = (f"| rank | | codec | model | method | source | {headline} % [95 % CI] | vs best (pp, p Holm) | folds × seeds | "
              f"clips | {' | '.join(costs)} |")
    lines = [header, "|" + "---|" * (10 + len(costs))]
    for e in entries:
        row, test = e["row"], e["test"]
        metric = row["metrics"].get(headline, {})
        value = "n/a" if "mean" not in metric else f"{100 * metric['mean']:.1f} ± {100 * metric['std']:.1f}"
        if metric.get("ci"):
            value += f" [{100 * metric['ci'][0]:.1f}, {100 * metric['ci'][1]:.1f}]"
        versus = "–" if test is None else (f"{test['difference']:+.1f}, p {p_text(test['p_holm'])} ({test['test']})"
                                           if test["p_holm"] is not None else f"cannot tell: {test['why'] or 'no p-value'}")
        lines.append(f"| {e['rank']} | {MARKS[e['mark']]} | {row['codec']} | {e['model']} | {row['method']} | {e['source']} | "
                     f"{value} | {versus} | {row['n_folds']} × {row['n_seeds']} | {row['n_clips']} | "
                     f"{' | '.join(cost_cell(e['costs'], key) for key in COST_COLUMNS)} |")
    return "\n".join(lines) + "\n"


def p_text(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def cost_value(costs: dict, key: str) -> float | None:
    """A cost column's number: codebook use in percent and bits/token as means over codebooks, scoring in ms."""
    value = costs.get(key)
    if key == "codebook_utilisation":
        return percent(mean_of(value))
    if key == "codebook_entropy_bits":
        return mean_of(value)
    if key == "scoring_seconds_per_clip" and value is not None:
        return 1000 * value
    return value


def cost_cell(costs: dict, key: str) -> str:
    value = cost_value(costs, key)
    return "–" if value is None else f"{value:,.{COST_COLUMNS[key][1]}f}"


def leaderboard_csv(boards: dict[str, list[dict]]) -> str:
    """One line per ranked row, ``CSV_COLUMNS``; shares (mean, interval) in 0-1, differences in percentage points,
    the cost columns as in the Markdown (codebook use in percent, scoring in ms)."""
    buffer = text_io.StringIO()
    writer = csv.DictWriter(buffer, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for dataset, entries in boards.items():
        for e in entries:
            row, test = e["row"], e["test"] or {}
            metric = row["metrics"].get(row["headline"], {})
            ci = metric.get("ci") or [None, None]
            writer.writerow({"dataset": dataset, "domain": row["domain"], "task": row["task"], "protocol": row["protocol"],
                             "split": row["split"], "metric": row["headline"], "rank": e["rank"], "mark": e["mark"],
                             "codec": row["codec"], "model": e["model"], "method": row["method"], "source": e["source"],
                             "folder": str(e["folder"]), "mean": metric.get("mean"), "std": metric.get("std"),
                             "ci_low": ci[0], "ci_high": ci[1], "n_folds": row["n_folds"], "n_seeds": row["n_seeds"],
                             "n_clips": row["n_clips"], "difference_pp": test.get("difference"), "p": test.get("p"),
                             "p_holm": test.get("p_holm"), "test": test.get("test"), "why": test.get("why")}
                            | {key: cost_value(e["costs"], key) for key in COST_COLUMNS})
    return buffer.getvalue()

