"""Fewer positions per second measured: frame patching (`codec-bench run --patch K`) and acoustic BPE (`--bpe N`,
token codecs only) on the demo's generated tasks and on the real-audio suite (``bench/real_audio_suite.py``), the
embedded codec and the log-mel front-end, one run at a time; a table of what each reading costs and scores against
the patch-1 run of its codec on the same clips.

    OMP_NUM_THREADS=1 python bench/patching.py runs-patch                   # instruments, 600/120/200 clips
    OMP_NUM_THREADS=1 python bench/patching.py runs-patch --tasks instruments,mixtures --bpe 64,256
    OMP_NUM_THREADS=1 python bench/patching.py runs-patch --suite SUITE --tasks voices,instruments-room,digit-pairs
    python bench/patching.py --tiny /tmp/patch-tiny     # 24/8/8 clips, embedded at patch 1, 2 and bpe 8, 1 epoch

Each run is a folder OUT/<task>/<codec>-<reading> (p<k> or bpe<n>; its report is there); finished ones are not run
again, so a table can be rebuilt from them. Generated tasks: the demo's recipe per task (``study.demo.DEMO_TRAIN``);
suite sets (``--suite``, folders in the ``csv`` layout): the run's own defaults for the set's task. Always ``--mix
0`` (so every reading sees the same training clips), one seed, label scoring only. Columns: mean audio positions
per prompt and the reduction against patch 1 (BPE: positions per second measured on the evaluated clips);
training seconds per epoch and label-scoring milliseconds per clip (``Record.costs``:
wall clock, validation passes included) and their ratio to patch 1; the headline on test with its 95 % bootstrap
interval, and the difference to patch 1 in points with the paired test's p (exact McNemar for accuracy, paired
bootstrap for micro-F1).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from codec_bench.data.generated import generate  # noqa: E402
from codec_bench.evaluation.paired_tests import paired_test  # noqa: E402
from codec_bench.report.significance import load_units  # noqa: E402
from codec_bench.report.tables import value_text  # noqa: E402
from codec_bench.study.demo import DEMO_SIZES, DEMO_TRAIN  # noqa: E402

CODECS = ("embedded", "logmel")
PATCHES = (1, 2, 4)
TOKEN_CODECS = ("embedded",)  # the codecs here that give speech tokens, so BPE applies
TINY_SIZES = {"train": 24, "validation": 8, "test": 8}


def recipe(task: str, tiny: bool) -> list[str]:
    if tiny:
        return ["--epochs", "1", "--batch-size", "8"]
    if task not in DEMO_TRAIN:  # a suite set: its task's own defaults
        return []
    train = DEMO_TRAIN[task]
    return ["--method", train.method, "--epochs", f"{train.epochs:g}", "--learning-rate", f"{train.learning_rate:g}",
            "--batch-size", str(train.batch_size)]


def reading_options(reading: str) -> list[str]:
    """``p<k>`` -> ``--patch k``; ``bpe<n>`` -> ``--bpe n``."""
    return ["--bpe", reading[3:]] if reading.startswith("bpe") else ["--patch", reading[1:]]


def run_one(task: str, root: Path, out: Path, codec: str, reading: str, tiny: bool) -> Path:
    folder = out / task / f"{codec}-{reading}"
    if not (folder / "results.json").is_file():
        command = [sys.executable, "-m", "codec_bench.cli", "run", "csv", "--root", str(root), "--out", str(folder),
                   "--cache-root", str(out / "cache" / task), "--quiet", "--codec", codec, *reading_options(reading),
                   "--mix", "0", "--no-generation", *recipe(task, tiny)]
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder.parent / f"{folder.name}.log", "w") as log:  # the run's own summary, kept out of the table
            subprocess.run(command, check=True, cwd=ROOT, stdout=log)
    return folder


def llm_results(folder: Path) -> tuple[dict, dict, list]:
    """The test label-scoring aggregated row, its record and its units."""
    results = json.loads((folder / "results.json").read_text())
    row = next(r for r in results["aggregated"] if r["split"] == "test" and r["method"] == "llm_scoring")
    records = [r for r in results["records"] if r["method"] == "llm_scoring"]
    units = load_units(records, folder, {})
    return row, next(r for r in records if r["split"] == "test"), next(iter(units.values()))


def ratio(value: float | None, reference: float | None) -> str:
    return f"{value / reference:.2f}" if value and reference else "–"


def reading_order(reading: str) -> tuple[int, int]:
    return (reading.startswith("bpe"), int(reading.lstrip("bpe")))


def table(task: str, folders: dict[tuple[str, str], Path]) -> list[str]:
    lines = []
    for codec in CODECS:
        runs = {reading: llm_results(folder) for (c, reading), folder in folders.items() if c == codec}
        if "p1" not in runs:
            continue
        base_row, base, base_units = runs["p1"]
        for reading in sorted(runs, key=reading_order):
            row, record, units = runs[reading]
            costs, reference = record["costs"], base["costs"]
            metric = row["headline"]
            test = paired_test(metric, base_units, units, key=record["dataset"])
            diff = "–" if reading == "p1" else (test.why if test.p is None else
                                           f"{100 * test.difference:+.1f} (p = {test.p:.3f})")
            scoring = 1000 * costs["scoring_seconds_per_clip"]
            reduction = reference["mean_audio_positions"] / costs["mean_audio_positions"]
            train = ratio(costs["train_seconds_per_epoch"], reference["train_seconds_per_epoch"])
            score = ratio(costs["scoring_seconds_per_clip"], reference["scoring_seconds_per_clip"])
            lines.append(f"| {task} | {codec} | {reading} | {costs['positions_per_second']:.4g} | "
                         f"{costs['mean_audio_positions']:.1f} | {reduction:.2f}x | {costs['train_seconds_per_epoch']:.2f} | "
                         f"{train} | {scoring:.2f} | {score} | {metric} {value_text(row['metrics'].get(metric), 1)} | {diff} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="output folder (generated data, cache, one folder per run)")
    parser.add_argument("--tasks", default="instruments", help="comma-separated: instruments, mixtures (generated) or, "
                        "with --suite, sets of the real-audio suite (voices, instruments-room, digit-pairs, instruments)")
    parser.add_argument("--suite", type=Path, help="folder of bench/real_audio_suite.py's sets: --tasks name its sets")
    parser.add_argument("--codecs", default=",".join(CODECS), help="comma-separated: embedded, logmel")
    parser.add_argument("--patches", default=",".join(map(str, PATCHES)), help="comma-separated frames per position")
    parser.add_argument("--bpe", default="", help="comma-separated BPE sizes (merged units) for the token codecs, e.g. 64,256")
    parser.add_argument("--tiny", action="store_true", help="24/8/8 clips of instruments, embedded at patch 1, 2 and "
                        "bpe 8, 1 epoch: checks that the bench runs")
    args = parser.parse_args()
    tasks = ["instruments"] if args.tiny else args.tasks.split(",")
    codecs = ["embedded"] if args.tiny else args.codecs.split(",")
    patches = [1, 2] if args.tiny else [int(p) for p in args.patches.split(",")]
    sizes = TINY_SIZES if args.tiny else DEMO_SIZES
    bpe = [8] if args.tiny else [int(n) for n in args.bpe.split(",") if n]
    print("| task | codec | reading | positions/s | positions/prompt | reduction | train s/epoch | ratio | scoring ms/clip "
          "| ratio | test headline [95 % interval] | vs patch 1 (points, paired test) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for task in tasks:
        root = args.suite / task if args.suite else generate(task, args.out / "data" / task, sizes)
        readings = {codec: [f"p{k}" for k in patches] + ([f"bpe{n}" for n in bpe] if codec in TOKEN_CODECS else [])
                    for codec in codecs}
        folders = {(codec, reading): run_one(task, root, args.out, codec, reading, args.tiny)
                   for codec in codecs for reading in readings[codec]}
        print("\n".join(table(task, folders)), flush=True)


if __name__ == "__main__":
    main()
