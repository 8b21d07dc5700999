"""What a report's statistics cost: 1000 bootstrap replicates of each metric at the size of the largest test sets
(FSD50K eval: 10,231 clips x 200 labels, multi-label; SLURP test: 13,078 clips x 60 intents), against the same
replicates computed the plain way (draw clip indices, call sklearn per replicate; timed on 20 replicates and
scaled to 1000).

    python bench/bootstrap.py
    python bench/bootstrap.py --tiny      # test sets of 500 clips, 2 plain replicates: checks that the bench runs

Synthetic arrays (seeded); prints a Markdown table for docs/performance.md. Run it alone. (Named ``bootstrap``,
not ``statistics``: a script's folder comes first on ``sys.path``, and that name would hide the standard library's.)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.metrics import average_precision_score, f1_score

from codec_bench.evaluation import statistics as stats


def plain(metric: str, unit: stats.Unit, replicates: int) -> float:
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    n = len(unit.ids)
    for _ in range(replicates):
        drawn = rng.integers(0, n, n)
        if metric == "map":
            truth, scores = unit.truth[drawn], unit.scores[drawn]
            np.mean([average_precision_score(truth[:, c], scores[:, c]) for c in range(truth.shape[1]) if truth[:, c].any()])
        elif metric == "macro_f1":
            f1_score(unit.truth[drawn], unit.predicted[drawn], average="macro")
        else:
            np.mean(unit.truth[drawn] == unit.predicted[drawn])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="500 clips per test set, 2 plain replicates: checks the bench")
    args = parser.parse_args()
    fsd_size, slurp_size, plain_replicates = (500, 500, 2) if args.tiny else (10_231, 13_078, 20)
    rng = np.random.default_rng(0)
    n, classes = fsd_size, 200
    truth = (rng.random((n, classes)) < 0.01).astype(np.int8)
    scores = np.clip(0.3 * truth + rng.random((n, classes)), 0, 1).round(6)
    fsd = stats.Unit("eval", 0, [str(i) for i in range(n)], truth, (scores > 0.9).astype(np.int8), classes, scores)
    n, classes = slurp_size, 60
    labels = rng.integers(0, classes, n)
    slurp = stats.Unit("test", 0, [str(i) for i in range(n)], labels,
                       np.where(rng.random(n) < 0.7, labels, rng.integers(0, classes, n)), classes)
    print("| test set | metric | 1000 replicates, codec-bench | the plain way (sklearn per replicate) | ratio |")
    print("|---|---|---|---|---|")
    fsd_name, slurp_name = ("tiny", "tiny") if args.tiny else ("FSD50K-sized", "SLURP-sized")
    for name, unit, metrics in ((f"{fsd_name} ({fsd_size:,} x 200, multi-label)", fsd, ("micro_f1", "macro_f1", "map")),
                                (f"{slurp_name} ({slurp_size:,}, 60 classes)", slurp, ("accuracy", "macro_f1"))):
        for metric in metrics:
            start = time.perf_counter()
            stats.bootstrap(metric, [[unit]])
            ours = time.perf_counter() - start
            timed_plain = (metric, unit.multi_label) in (("map", True), ("macro_f1", False))
            theirs = plain(metric, unit, plain_replicates) * stats.RESAMPLES / plain_replicates if timed_plain else None
            ratio = f"{theirs / ours:.0f}x" if theirs else "–"
            print(f"| {name} | {metric} | {ours:.1f} s | {f'{theirs:.0f} s' if theirs else '–'} | {ratio} |")


if __name__ == "__main__":
    main()
