"""Run `codec-bench run csv` on each set of the real-audio suite and tabulate the results (see real_audio_suite.py)."""

from __future__ import annotations

import json
import math
import shlex
import subprocess
import sys
import time
from pathlib import Path


def run_sets(sets_dir: Path, runs: Path, names: list[str], extra: str) -> None:
    """One `python -m codec_bench.cli run csv` per set, one after the other; the wall time of each is printed."""
    for name in names:
        out = runs / name
        cmd = [sys.executable, "-m", "codec_bench.cli", "run", "csv", "--root", str(sets_dir / name), "--out", str(out),
               "--quiet", *shlex.split(extra)]
        begin = time.perf_counter()
        done = subprocess.run(cmd, check=False)
        print(f"{name}: exit {done.returncode}, {time.perf_counter() - begin:.0f} s  ({shlex.join(cmd[1:])})", flush=True)


ROWS = ("llm_scoring", "llm_generation", "baseline_logmel_logreg")
METRICS = {"single_label": ("accuracy",), "multi_label": ("micro_f1", "map")}


def percent(value: float | None, interval: list[float] | None = None) -> str:
    if value is None or math.isnan(value):
        return "–"
    return f"{100 * value:.1f}" + (f" [{100 * interval[0]:.1f}, {100 * interval[1]:.1f}]" if interval else "")


def set_rows(results: Path, tag: str, name: str, hide_test: bool = False) -> list[str]:
    """Table rows of one run: per metric, the test figure with its 95 % interval and the validation figure
    (``hide_test``: the test cells say so, for candidates that are compared on validation only)."""
    if not results.is_file():
        return [f"| {name} | – | {tag} | not run |" + " – |" * (2 * len(ROWS) - 1)]
    content = json.loads(results.read_text(encoding="utf-8"))
    test = {a["method"]: a for a in content["aggregated"] if a["split"] == "test"}
    validation = {r["method"]: r for r in content["records"] if r["split"] == "validation"}
    task = next(iter(test.values()))["task"]
    sizes = {r["split"]: r["n_clips"] for r in content["records"] if r["method"] == "llm_scoring"}
    lines = []
    for metric in METRICS[task]:
        cells = [percent(test[m]["metrics"].get(metric, {}).get("mean"), test[m]["metrics"].get(metric, {}).get("ci"))
                 if m in test else "–" for m in ROWS]
        cells = ["(not read)"] * len(ROWS) if hide_test else cells
        cells += [percent(validation[m]["metrics"].get(metric)) if m in validation else "–" for m in ROWS]
        label = f"{name} ({sizes.get('test', '?')} / {sizes.get('validation', '?')})"
        lines.append(f"| {label} | {metric} | {tag} | " + " | ".join(cells) + " |")
    return lines


def write_table(runs: Path, tags: list[str], names: list[str], hide_test: tuple[str, ...] = ()) -> str:
    """A markdown table of every (set, metric, run tag): test [95 % interval] and validation, in percent; the
    runs tagged in ``hide_test`` show no test figure."""
    head = ["set (test / validation clips)", "metric", "run"] + [f"{m} test" for m in ROWS] + [f"{m} validation" for m in ROWS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in names:
        for tag in tags:
            lines += set_rows(runs / tag / name / "results.json", tag, name, tag in hide_test)
    return "\n".join(lines)
