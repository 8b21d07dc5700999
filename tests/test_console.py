"""The headline table on the console: one row per line in a pipe, a folded rich table on a narrow terminal."""

from __future__ import annotations

import io

from rich.console import Console

from codec_bench.core import ui

HEADLINE = """Headline metric per dataset on the test split, in percent.

| dataset | metric | llm_scoring | llm_generation | baseline_logmel_logreg |
|---|---|---|---|---|
| instruments | accuracy | 83.5 [78.5, 88.0] | 83.5 [78.5, 88.0] | 75.0 [70.0, 79.5] |
| mixtures | map | 82.0 [78.8, 85.5] | n/a | 75.3 [71.4, 79.7] |

**instruments**: llm_scoring vs baseline_logmel_logreg: significantly above (exact McNemar, p = 0.009)"""


def test_a_pipe_gets_the_markdown_rows_unbroken_at_any_width():
    for width in (40, 80):
        buffer = io.StringIO()
        ui.print_markdown(HEADLINE, Console(file=buffer, width=width, force_terminal=False))
        lines = buffer.getvalue().splitlines()
        table = [line for line in HEADLINE.splitlines() if line.startswith("|")]
        assert [line for line in lines if line.startswith("|")] == table


def test_a_narrow_terminal_gets_a_folded_table_within_its_width():
    buffer = io.StringIO()
    ui.print_markdown(HEADLINE, Console(file=buffer, width=60, force_terminal=True, color_system=None))
    lines = buffer.getvalue().splitlines()
    assert all(len(line) <= 60 for line in lines)
    assert not any(line.startswith("|") for line in lines)  # no Markdown rows broken at the edge
    text = buffer.getvalue()
    for cell in ("instruments", "mixtures", "accuracy", "83.5", "75.3", "significantly above"):
        assert cell in text


def test_a_long_line_stays_one_line_in_a_log_file(monkeypatch):
    buffer = io.StringIO()
    monkeypatch.setattr(ui, "console", Console(file=buffer, width=80, force_terminal=False))
    monkeypatch.setenv(ui.ENV, str(ui.NORMAL))
    line = "time per stage: " + ", ".join(f"stage{i} {i}.5 s" for i in range(12)) + "; 115 s in all"
    ui.say(line)
    ui.warn(line)
    assert buffer.getvalue().splitlines() == [line, line]
