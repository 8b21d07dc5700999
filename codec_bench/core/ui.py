"""What a person sees on the console: one progress line per stage, warnings, a closing line of time per stage.

Three levels, set by the command line (``--quiet`` / ``--verbose``) and passed to child processes (study cells
under Ray or submitit, torchrun ranks) through ``CODEC_BENCH_VERBOSITY``:

- ``quiet`` (0): warnings and errors only, for scripts;
- ``normal`` (1): a line per stage (a rich progress bar while it runs, then its count and time), warnings, the
  results table;
- ``verbose`` (2): also the training log (the Trainer's per-step losses, always written to
  ``<run>/train_log.jsonl``) and other details.

In a multi-process job only rank 0 shows progress. Everything goes to stderr except the results that commands
print on stdout.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Iterable, Iterator, TypeVar

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

QUIET, NORMAL, VERBOSE = 0, 1, 2
ENV = "CODEC_BENCH_VERBOSITY"
console = Console(stderr=True, highlight=False)
_seconds: dict[str, float] = defaultdict(float)  # time per stage, summed over folds, for the closing line
T = TypeVar("T")


def verbosity() -> int:
    try:
        return int(os.environ.get(ENV, NORMAL))
    except ValueError:
        return NORMAL


def set_verbosity(quiet: bool = False, verbose: bool = False) -> None:
    """From the command line's flags, at the start of a command (the closing line's timings start here too);
    child processes inherit it."""
    os.environ[ENV] = str(QUIET if quiet else VERBOSE if verbose else NORMAL)
    _seconds.clear()


def _shown(level: int) -> bool:
    return verbosity() >= level and int(os.environ.get("RANK", 0)) == 0


def say(message: str, level: int = NORMAL) -> None:
    """A line at ``level`` (normal or verbose)."""
    if _shown(level):
        console.print(message, soft_wrap=not console.is_terminal)  # a log file keeps each line whole


def warn(message: str) -> None:
    """A warning: shown at every level (but only by rank 0 of a multi-process job)."""
    if int(os.environ.get("RANK", 0)) == 0:
        console.print(f"[yellow]{message}[/]", soft_wrap=not console.is_terminal)


class StageBar:
    """The progress of one stage: ``advance(n)``; ``show(**fields)`` puts values (a loss) beside the bar. A stage
    opened inside another (scoring inside evaluation) adds its total and progress to the outer one's line."""

    def __init__(self, progress: Progress | None, task: int | None, parent: "StageBar | None" = None):
        self.progress, self.task, self.parent = progress, task, parent
        self.done, self.planned = 0.0, None  # counted even when nothing is shown: an interruption names them

    def advance(self, n: float = 1) -> None:
        if self.parent is not None:
            self.parent.advance(n)
            return
        self.done += n
        if self.progress is not None:
            self.progress.advance(self.task, n)

    def total(self, total: float) -> None:
        if self.parent is not None:
            self.parent.grow(total)
            return
        self.planned = total
        if self.progress is not None:
            self.progress.update(self.task, total=total)

    def grow(self, extra: float) -> None:
        """Add ``extra`` to the total (a nested stage's work)."""
        if self.parent is not None:
            self.parent.grow(extra)
            return
        self.planned = (self.planned or 0) + extra
        if self.progress is not None:
            self.progress.update(self.task, total=self.planned)

    def show(self, **fields: object) -> None:
        if self.parent is not None:
            self.parent.show(**fields)
        elif self.progress is not None:
            self.progress.update(self.task, info="  ".join(f"{k} {v}" for k, v in fields.items()))


_active: list[StageBar] = []


@contextmanager
def stage(name: str, total: float | None = None, unit: str = "", show: bool = True) -> Iterator[StageBar]:
    """Show ``name`` as one progress line while the block runs (left on screen when done, with its time) and
    add its duration to the closing line of time per stage (``show`` False: timed, not shown). Inside another
    stage it adds to that stage's line instead."""
    if _active:
        child = StageBar(None, None, parent=_active[-1])
        if total:
            child.total(total)
        yield child
        return
    start = time.perf_counter()
    if not (show and _shown(NORMAL)):
        _active.append(StageBar(None, None))
        _active[-1].planned = total
        try:
            yield _active[-1]
        except KeyboardInterrupt:
            _interrupted(name, _active[-1], unit)
            raise
        finally:
            _active.pop()
            _seconds[name] += time.perf_counter() - start
        return
    counted = [
        MofNCompleteColumn(),
        TextColumn(unit),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    ]
    columns = [TextColumn(f"  {name:<9}"), BarColumn(bar_width=30)] + (
        counted if total is not None or unit else [TimeElapsedColumn()]
    )
    bar = None
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            bar = StageBar(progress, progress.add_task(name, total=total, info=""))
            bar.planned = total
            _active.append(bar)
            try:
                yield bar
            finally:
                _active.pop()
            if progress.tasks[0].total is not None:  # finished: the line shows the stage complete
                progress.update(progress.tasks[0].id, completed=progress.tasks[0].total)
    except KeyboardInterrupt:  # the bar stays where it was, and one line says where and how to go on
        _interrupted(name, bar, unit)
        raise
    finally:
        _seconds[name] += time.perf_counter() - start


def _interrupted(name: str, bar: "StageBar | None", unit: str) -> None:
    """The line a person sees after Ctrl-C: which stage, how far it got, and that the same command resumes."""
    where = ""
    if bar is not None and bar.planned:
        where = f" at {bar.done:g} of {bar.planned:g} {unit}".rstrip()
    warn(f"interrupted: {name}{where}; run the same command again to resume (finished work is kept)")


def track(items: Iterable[T], name: str, total: int | None = None, unit: str = "", show: bool = True) -> Iterator[T]:
    """Iterate ``items`` inside :func:`stage`."""
    with stage(name, total if total is not None else _length(items), unit, show) as bar:
        for item in items:
            yield item
            bar.advance()


def _length(items: Iterable) -> int | None:
    try:
        return len(items)  # type: ignore[arg-type]
    except TypeError:
        return None


def print_markdown(text: str, out: Console) -> None:
    """Markdown from a report on ``out``, readable at any width: on a terminal every table becomes a rich table
    whose columns fold to the window (Markdown rows wrapped at the edge break apart); elsewhere (a pipe, a file)
    the Markdown is printed as it is, one row per line, never wrapped."""
    if not out.is_terminal:
        out.print(text, markup=False, highlight=False, soft_wrap=True)
        return
    block: list[str] = []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            block.append(line)
            continue
        if block:
            out.print(_table(block))
            block = []
        out.print(line, markup=False, highlight=False)


def _table(rows: list[str]) -> Table:
    """Markdown table rows (a header, the ``|---|`` line, the body) -> a rich table."""
    cells = [[cell.strip() for cell in row.strip().strip("|").split("|")] for row in rows]
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for name in cells[0]:
        table.add_column(name, overflow="fold")
    for row in cells[2:]:
        table.add_row(*row)
    return table


def timings() -> str:
    """``time per stage: encode 3 s, train 52 s, ...`` for everything timed in this process so far."""
    return "time per stage: " + ", ".join(f"{name} {_format(s)}" for name, s in _seconds.items())


def _format(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
