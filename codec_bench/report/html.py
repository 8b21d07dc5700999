"""The report as one self-contained HTML file: the sections of report.md plus the figures, embedded.

``report.html`` needs nothing next to it: figures are base64 PNG data URIs, the CSS is inline, and there is
no script and no external link, so it opens in any browser, offline, and can be mailed or attached as it is.
The text is the Markdown of ``tables.report_sections`` turned into HTML by the ``markdown`` package (with its
``tables`` extension), so the two reports cannot disagree.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import markdown

from ..core.io import write_text
from .aggregate import per_class_f1_by_dataset
from .figures import confusion_figures, png_bytes, radar_figure, reliability_figures
from .significance import analyse
from .tables import report_sections

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.4; }
h1 { border-bottom: 2px solid #444; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { background: #f0f0f0; } tr:nth-child(even) td { background: #fafafa; }
code { background: #f4f4f4; padding: 0 0.2em; }
figure { margin: 1em 0; } img { max-width: 100%; height: auto; }
"""


def write_html_report(aggregated: list[dict], records: list[dict], out_dir: str | Path, statistics: dict | None = None,
                      classes_by_dataset: dict[str, list[str]] | None = None, failed_cells: list[dict] = (),
                      skipped_files: list[str | Path] = (), figures: dict[str, Path] | None = None,
                      per_class: dict[str, dict] | None = None, title: str = "codec-bench results",
                      split: str = "test", selection: list[dict] = (), extra_sections: list[tuple[str, str]] = ()) -> Path:
    """Write ``out_dir/report.html`` and return its path.

    ``aggregated`` is ``report.aggregate(records)``; prediction paths in ``records`` are relative to
    ``out_dir``. ``statistics`` is ``significance.analyse`` (computed here when not given, which also puts the
    intervals into ``aggregated``). ``figures`` (stem -> PNG path, as ``write_report`` writes them) are embedded
    as they are; without it the radar, confusion and reliability figures are rendered here. ``per_class``
    likewise saves reading the prediction files a second time. ``extra_sections``: ``(heading, markdown)`` pairs after
    report.md's own (the fidelity section).
    """
    out_dir = Path(out_dir)
    classes_by_dataset = classes_by_dataset or {}
    if statistics is None:
        statistics = analyse(records, aggregated, out_dir, classes_by_dataset, split)
    if per_class is None:
        per_class = per_class_f1_by_dataset(records, out_dir, classes_by_dataset, split)
    if figures is None:
        images = {"radar": png_bytes(radar_figure(aggregated, split))}
        images |= {stem: png_bytes(fig) for stem, fig in confusion_figures(records, out_dir, classes_by_dataset).items()}
        images |= {stem: png_bytes(fig) for stem, fig in reliability_figures(statistics["calibration"], split).items()}
    else:
        images = {stem: Path(path).read_bytes() for stem, path in figures.items()}
    body = [f"<h1>{html.escape(title)}</h1>"]
    for heading, text in report_sections(aggregated, per_class, statistics, failed_cells, skipped_files, split, records,
                                         selection) + list(extra_sections):
        body += ([f"<h2>{html.escape(heading)}</h2>"] if heading else []) + [markdown_to_html(text)]
    body += ["<h2>Figures</h2>"] + [_figure(stem, png) for stem, png in images.items()]
    path = out_dir / "report.html"
    write_text(path, html_page(title, body))
    return path


def html_page(title: str, body: list[str]) -> str:
    """A whole self-contained page: ``body`` (HTML fragments, in order) with the inline CSS, no script, no link."""
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


def _figure(stem: str, png: bytes) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure><img alt="{html.escape(stem)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(stem)}</figcaption></figure>")


def markdown_to_html(text: str) -> str:
    """Markdown (pipe tables, lists, emphasis, code) -> HTML; raw HTML in the text is escaped."""
    return markdown.markdown(html.escape(text, quote=False), extensions=["tables"])
