"""Speed guard: ``codec-bench demo`` and the test suite timed in this checkout and at another commit, on this machine.

    python bench/speed_guard.py                       # against HEAD~1: the demo and the tests, 2 rounds (~30 min)
    python bench/speed_guard.py --against b654a4a --demo-only --rounds 3
    python bench/speed_guard.py --demo-only --quick   # `demo --quick` only (a few minutes)
    python bench/speed_guard.py --tiny                # a trivial command, here and at HEAD: checks that the guard runs

The other commit is unpacked with ``git archive`` into a temporary folder (the repository is not touched), and
each command runs there and here in turn, interleaved round by round (A B, B A, ...), with ``PYTHONPATH`` set to
the tree it times, so that both share the machine's ups and downs. Prints seconds per run, the medians and their
ratio (this checkout / the other commit); a ratio above 1.2 (more than 20 % slower) is said in the closing note.
Run it alone on the machine: other work in the background moves the figures (see docs/speed.md). Nothing here is
a test; ``tests/test_bench.py`` only runs ``--tiny``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SLOWER = 1.2  # a ratio above this is called out


def unpack(revision: str, folder: Path) -> Path:
    """The tree of ``revision`` (files as committed) in ``folder``; a clear error if git cannot find it."""
    archive = folder / "tree.tar"
    with open(archive, "wb") as f:
        done = subprocess.run(["git", "archive", "--format=tar", revision], cwd=ROOT, stdout=f, stderr=subprocess.PIPE,
                              text=False, check=False)
    if done.returncode != 0:
        sys.exit(f"speed_guard: git cannot archive {revision!r} in {ROOT}: {done.stderr.decode().strip()} "
                 "(give another --against, or fetch the history: git fetch --unshallow)")
    tree = folder / "tree"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    archive.unlink()
    return tree


def commands(args: argparse.Namespace) -> dict[str, list[str]]:
    """What to time, by name: ``{name: argv}``; ``{out}`` is replaced by a fresh folder per run."""
    if args.tiny:
        return {"import codec_bench": [sys.executable, "-c", "import codec_bench.config"]}
    chosen = {}
    if not args.tests_only:
        chosen["demo" + (" --quick" if args.quick else "")] = [sys.executable, "-m", "codec_bench.cli", "demo", "--quiet",
                                                               "--out", "{out}", *(["--quick"] if args.quick else [])]
    if not args.demo_only:
        chosen["python -m pytest"] = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"]
    return chosen


def timed(argv: list[str], tree: Path, out: Path) -> float:
    """Seconds of one run of ``argv`` in ``tree`` (its code first on the path); exits with its output if it fails."""
    path = os.pathsep.join(p for p in (str(tree), os.environ.get("PYTHONPATH", "")) if p)
    env = dict(os.environ, PYTHONPATH=path, HF_HUB_OFFLINE="1")
    start = time.perf_counter()
    done = subprocess.run([a.replace("{out}", str(out)) for a in argv], cwd=tree, env=env, capture_output=True, text=True,
                          check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        output = (done.stdout + done.stderr)[-3000:]
        sys.exit(f"speed_guard: {' '.join(argv)} failed in {tree} (exit {done.returncode}):\n{output}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default=None, help="the commit to compare with (default HEAD~1; --tiny: HEAD, which "
                        "a shallow clone has too)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each command in each tree (default 2)")
    parser.add_argument("--demo-only", action="store_true", help="time the demo only")
    parser.add_argument("--tests-only", action="store_true", help="time the test suite only")
    parser.add_argument("--quick", action="store_true", help="`codec-bench demo --quick` instead of the full demo")
    parser.add_argument("--tiny", action="store_true", help="a trivial command, 2 rounds: checks that the guard runs")
    parser.add_argument("--keep", default=None, help="write the demo's outputs here, one folder per run, to compare "
                        "their figures (default: a temporary folder, removed)")
    args = parser.parse_args()
    args.against = args.against or ("HEAD" if args.tiny else "HEAD~1")
    rounds = 2 if args.tiny else max(1, args.rounds)
    with tempfile.TemporaryDirectory(prefix="speed-guard-") as tmp:
        scratch = Path(tmp)
        trees = {args.against: unpack(args.against, scratch), "this checkout": ROOT}
        seconds: dict[tuple[str, str], list[float]] = {}
        for name, argv in commands(args).items():
            for r in range(rounds):
                order = list(trees) if r % 2 == 0 else list(reversed(trees))  # A B, then B A: drift cancels
                for label in order:
                    kept = Path(args.keep) if args.keep else scratch
                    out = kept / f"out-{len(seconds)}-{r}-{label.replace(' ', '_').replace('/', '_')}"
                    seconds.setdefault((name, label), []).append(timed(argv, trees[label], out))
                    print(f"{name} | {label} | round {r + 1}: {seconds[(name, label)][-1]:.1f} s", flush=True)
        report(seconds, args.against, rounds)


def report(seconds: dict[tuple[str, str], list[float]], against: str, rounds: int) -> None:
    print(f"\nmedians of {rounds} interleaved runs, {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"| what | {against} s | this checkout s | ratio (this / {against}) |\n|---|---|---|---|")
    slower = []
    for name in dict.fromkeys(n for n, _ in seconds):
        old, new = statistics.median(seconds[(name, against)]), statistics.median(seconds[(name, "this checkout")])
        ratio = new / old
        print(f"| {name} | {old:.1f} | {new:.1f} | {ratio:.2f} |")
        if ratio > SLOWER:
            slower.append(f"{name} {ratio - 1:.0%} slower")
    print(f"\nnote: {'; '.join(slower)} than {against} (over the 20 % guard)" if slower
          else f"\nnote: nothing more than 20 % slower than {against}")


if __name__ == "__main__":
    main()
