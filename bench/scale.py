"""How cost grows with the corpus: wall time and peak memory of each stage at 1k, 10k and 100k clips.

    python bench/scale.py [--sizes 1000 10000 100000] [--out /tmp/codec-bench-scale] [--steps 40]
    python bench/scale.py --tiny    # 200 clips, 2 steps, 20 scored clips, stages in one process: checks the bench

For each size, a synthetic corpus of 5-s clips is written straight into the token cache (deterministic codes from
a seeded generator: 250 frames of one 256-entry codebook per clip, 50 classes, 80/10/10 splits; no audio is
rendered), then each stage runs in a fresh process, measured alone:

- cache load: the lazy index over the shards (``TokenCache.load``);
- prompts: writing ``prompts/*.jsonl`` for every clip (``pipeline.write_prompts``, streaming);
- train: one epoch's worth of setup (the length-grouped sampler over every training clip) and a fixed number of
  optimizer steps of the embedded tiny LM (batch 16), reading codes from the cache as batches are built;
- score: label scoring of 1,000 clips (``--score-clips``; the test split, topped up from the training split).

Each process reports its wall time and its peak RSS (``ru_maxrss``), and the RSS it had before the stage started
(libraries imported, model and tokenizer loaded: excluded from "stage peak"). Prints a Markdown table for
``docs/performance.md``. Run it alone: two torch processes on two cores slow each other several times.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from codec_bench.codecs.base import TokenCodec

CLASSES = [f"class {i:02d}" for i in range(50)]
FRAMES, CODEBOOK = 250, 256  # 5 s at 50 tokens/s
STAGES = ("cache", "prompts", "train", "score")


class StandIn(TokenCodec):
    """The identity of the synthetic corpus's codes: a real token codec (so it keeps up with the interface the cache
    reads) whose cache folder is keyed like a real codec's; it never encodes audio."""

    name, sample_rate_hz, frame_rate_hz, num_codebooks, codebook_size = "standin", 16_000, 50.0, 1, CODEBOOK

    def encode_preprocessed(self, items):
        raise NotImplementedError("the bench writes codes straight into the cache")

    def identity(self) -> dict:
        return {"codec": "standin", "frames": FRAMES, "codebook_size": CODEBOOK}

    def cache_key(self) -> str:
        return "standin-bench"


def manifest(size: int):
    from codec_bench.data.manifest import Clip, Manifest

    splits = np.where(np.arange(size) % 10 < 8, "train", np.where(np.arange(size) % 10 == 8, "validation", "test"))
    clips = [Clip(f"clip{i:06d}", f"/nowhere/clip{i:06d}.wav", (CLASSES[i % len(CLASSES)],), str(split))
             for i, split in enumerate(splits)]
    return Manifest("scale", "single_label", "sound", "Which sound is this? Answer with its name.", list(CLASSES), clips)


def build_corpus(out: Path, size: int) -> None:
    from codec_bench.codecs.cache import TokenCache

    cache = TokenCache(out / "cache", "scale", StandIn())
    if (out / "cache-done").is_file():
        return
    rng = np.random.default_rng(size)
    cache.add((f"clip{i:06d}", rng.integers(0, CODEBOOK, (1, FRAMES))) for i in range(size))
    (out / "cache-done").write_text("ok")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stage(out: Path, size: int, name: str, steps: int, score_clips: int) -> dict:
    """One stage in this process; returns seconds, peak RSS and the RSS before the stage."""
    import torch

    from codec_bench.codecs.cache import TokenCache
    from codec_bench.study.pipeline import write_prompts

    torch.manual_seed(0)
    model = tokenizer = None
    if name in ("train", "score"):
        from codec_bench.llm.model import build_tiny_llm, load_llm

        if not (out / "lm" / "config.json").is_file():
            build_tiny_llm(out / "lm", CODEBOOK, [manifest(50).instruction] + CLASSES * 4)
        model, tokenizer = load_llm(str(out / "lm"), "float32")
    before = rss_mb()
    start = time.perf_counter()
    corpus = manifest(size)
    codes, _ = TokenCache(out / "cache", "scale", StandIn()).load(c.id for c in corpus.clips)
    if name == "prompts":
        write_prompts(corpus, codes, out / "prompts")
    elif name == "train":
        _train(model, tokenizer, codes, out, steps)
    elif name == "score":
        _score(model, tokenizer, codes, out, score_clips)
    return {"size": size, "stage": name, "seconds": time.perf_counter() - start, "peak_mb": rss_mb(), "before_mb": before}


def _train(model, tokenizer, codes, out: Path, steps: int) -> None:
    import shutil

    from codec_bench.config import TrainConfig
    from codec_bench.llm.encoder import PromptEncoder
    from codec_bench.llm.train import train
    from codec_bench.prompts import ExampleFile

    shutil.rmtree(out / "run", ignore_errors=True)
    encoder = PromptEncoder(tokenizer, CODEBOOK, codes)
    config = TrainConfig(max_steps=steps, batch_size=16)
    train(model, tokenizer, encoder, ExampleFile(out / "prompts" / "train.jsonl"), [], out / "run", config)


def _score(model, tokenizer, codes, out: Path, clips: int) -> None:
    from codec_bench.evaluation.scoring import score_single_label
    from codec_bench.llm.encoder import PromptEncoder
    from codec_bench.prompts import ExampleFile

    test = ExampleFile(out / "prompts" / "test.jsonl")
    examples = test[:clips] + ExampleFile(out / "prompts" / "train.jsonl")[: max(0, clips - len(test))]
    model.eval()
    score_single_label(model, PromptEncoder(tokenizer, CODEBOOK, codes), examples, CLASSES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="default: 1000 10000 100000")
    parser.add_argument("--out", type=Path, default=Path("/tmp/codec-bench-scale"))
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps of the training stage; default 40")
    parser.add_argument("--score-clips", type=int, default=None, help="clips the score stage scores; default 1000")
    parser.add_argument("--tiny", action="store_true",
                        help="200 clips, 2 steps, 20 scored clips, every stage in this process (the RSS columns are "
                             "then cumulative), under OUT/tiny: checks that the bench runs")
    parser.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)  # internal: one stage in this process
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = args.sizes or ([200] if args.tiny else [1000, 10000, 100000])
    steps = args.steps or (2 if args.tiny else 40)
    score_clips = args.score_clips or (20 if args.tiny else 1000)
    out = args.out / "tiny" if args.tiny else args.out
    if args.stage:
        print(json.dumps(stage(out / str(args.size), args.size, args.stage, steps, score_clips)))
        return
    rows = []
    for size in sizes:
        folder = out / str(size)
        folder.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        build_corpus(folder, size)
        print(f"{size} clips: corpus written in {time.perf_counter() - start:.0f} s", file=sys.stderr)
        for name in STAGES:
            if args.tiny:
                rows.append(stage(folder, size, name, steps, score_clips))
            else:
                rows.append(fresh_process(args.out, size, name, steps, score_clips))
            print(rows[-1], file=sys.stderr)
    print(table(rows))


def fresh_process(out: Path, size: int, name: str, steps: int, score_clips: int) -> dict:
    """:func:`stage` in a new Python process (its peak RSS is the stage's alone)."""
    command = [sys.executable, __file__, "--stage", name, "--size", str(size), "--out", str(out),
               "--steps", str(steps), "--score-clips", str(score_clips)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(rows: list[dict]) -> str:
    lines = ["| clips | stage | seconds | peak RSS (MB) | stage peak above model + libraries (MB) |", "|---|---|---|---|---|"]
    for r in rows:
        stage_peak = r["peak_mb"] - r["before_mb"]
        lines.append(f"| {r['size']:,} | {r['stage']} | {r['seconds']:.1f} | {r['peak_mb']:.0f} | {stage_peak:.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
