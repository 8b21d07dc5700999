"""Multi-label options against the reference row: one `codec-bench run` per option on one tagging set, then a
table of test micro-F1 and mAP (95 % bootstrap intervals), the paired test of each run's micro-F1 against the
log-mel logistic regression on the same clips, and what each run chose on validation.

    python bench/rendered_instruments.py /data/rendered        # a real-audio tagging set (FluidSynth)
    python bench/multilabel.py csv /data/rendered runs-ml      # every option; finished ones are not run again
    python bench/multilabel.py mixtures runs-ml/mixtures-data runs-mx --options tokens,logmel_mix3
    python bench/multilabel.py --tiny /tmp/ml-tiny   # a 24/8/8-clip generated set, one option, 1 epoch: checks it runs

Each option is a folder OUT/<option> (its report is there); the token cache OUT/cache is shared. Options set
--codec and --mix explicitly, so the table does not move when the command line's defaults do. One seed each, on
the CPU: a run takes 1-4 minutes on 2 cores for 300 training clips.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from codec_bench.evaluation.paired_tests import paired_test  # noqa: E402
from codec_bench.report.significance import load_units  # noqa: E402
from codec_bench.report.tables import value_text  # noqa: E402

TOKENS = ["--codec", "embedded", "--mix", "0"]
LOGMEL = ["--codec", "logmel", "--mix", "0"]
OPTIONS = {  # name -> run arguments
    "tokens": TOKENS,
    "tokens_questions": TOKENS + ["--label-questions"],
    "tokens_mix1": ["--codec", "embedded", "--mix", "1"],
    "tokens_mix3": ["--codec", "embedded", "--mix", "3"],
    "tokens_mix3_select_metric": ["--codec", "embedded", "--mix", "3", "--select-by", "metric"],
    "logmel": LOGMEL,
    "logmel_mix1": ["--codec", "logmel", "--mix", "1"],
    "logmel_mix3": ["--codec", "logmel", "--mix", "3"],  # the tiny LM's multi-label default
    "logmel_mix3_select_metric": ["--codec", "logmel", "--mix", "3", "--select-by", "metric"],
    "logmel_mix3_questions": ["--codec", "logmel", "--mix", "3", "--label-questions"],
}
REFERENCE = "baseline_logmel_logreg"
TINY_SIZES = {"train": 24, "validation": 8, "test": 8}
TINY_RUN = ["--epochs", "1", "--batch-size", "8"]  # appended to each run's arguments by --tiny


def run_option(dataset: str, root: Path, out: Path, name: str, generation: bool, extra: list[str]) -> Path:
    folder = out / name
    if not (folder / "results.json").is_file():
        command = [sys.executable, "-m", "codec_bench.cli", "run", dataset, "--root", str(root), "--out", str(folder),
                   "--cache-root", str(out / "cache"), "--quiet", *OPTIONS[name], *extra]
        command += [] if generation else ["--no-generation"]
        subprocess.run(command, check=True, cwd=ROOT)
    return folder


def percent(row: dict, metric: str) -> str:
    return value_text(row["metrics"].get(metric), 1)


def describe(folder: Path, name: str) -> str:
    """One markdown row for the option in ``folder``."""
    results = json.loads((folder / "results.json").read_text())
    test = {r["method"]: r for r in results["aggregated"] if r["split"] == "test"}
    records = results["records"]
    units = load_units(records, folder, {})  # classes: those the prediction files name
    llm = next(k for k in units if "llm_scoring" in k)
    reference = next(k for k in units if REFERENCE in k)
    test_f1 = paired_test("micro_f1", units[reference], units[llm], key=llm[0])
    chose = next(r.get("choices", {}) for r in records if r["method"] == "llm_scoring" and r["split"] == "test")
    epoch = f"{chose.get('best_epoch', 0):g} of {chose.get('epochs', '?')}" if chose.get("best_epoch") else "–"
    gap = test_f1.why
    if test_f1.p is not None:
        gap = f"{test_f1.difference * 100:+.1f}, " + ("p < 0.001" if test_f1.p < 0.001 else f"p = {test_f1.p:.3f}")
    return (f"| {name} | {percent(test['llm_scoring'], 'micro_f1')} | {percent(test['llm_scoring'], 'map')} | {gap} | "
            f"{chose.get('scoring', '?')}, {chose.get('decision_rule', '?')} | {epoch} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", metavar="DATASET ROOT OUT",
                        help="csv (a tagging folder) or a generated one (mixtures), its root folder, the output folder; "
                             "with --tiny only OUT")
    parser.add_argument("--options", default=None, help="comma-separated, from: " + ", ".join(OPTIONS) + " (default all)")
    parser.add_argument("--generation", action="store_true", help="also evaluate by generation (slower)")
    parser.add_argument("--tiny", action="store_true", help="generate a 24/8/8-clip mixtures set into OUT/data and run "
                        "the tokens option for 1 epoch on it: checks that the bench runs")
    args = parser.parse_args()
    if len(args.folders) != (1 if args.tiny else 3):
        parser.error("give DATASET ROOT OUT, or with --tiny only OUT")
    if args.tiny:
        from codec_bench.data.generated import generate

        out = Path(args.folders[0])
        dataset, root, extra = "csv", generate("mixtures", out / "data", TINY_SIZES), TINY_RUN
    else:
        dataset, root, out, extra = args.folders[0], Path(args.folders[1]), Path(args.folders[2]), []
    names = [n for n in (args.options or ("tokens" if args.tiny else ",".join(OPTIONS))).split(",") if n]
    unknown = [n for n in names if n not in OPTIONS]
    if unknown:
        parser.error(f"unknown option(s) {', '.join(unknown)}; choose from {', '.join(OPTIONS)}")
    folders = {name: run_option(dataset, root, out, name, args.generation, extra) for name in names}
    print("| option | micro-F1 | mAP | micro-F1 vs reference (points, paired bootstrap) | scoring, decision rule | kept epoch |")
    print("|---|---|---|---|---|---|")
    for name, folder in folders.items():
        print(describe(folder, name))
    first = json.loads((next(iter(folders.values())) / "results.json").read_text())
    ref = next(r for r in first["aggregated"] if r["split"] == "test" and r["method"] == REFERENCE)
    rule = next(r.get("choices", {}) for r in first["records"] if r["method"] == REFERENCE).get("decision_rule", "?")
    print(f"| log-mel logistic regression (reference row) | {percent(ref, 'micro_f1')} | {percent(ref, 'map')} | | {rule} | |")


if __name__ == "__main__":
    main()
