"""Embedded codec speed on this CPU: x real time of encoding (log-mel + nearest centroid), fit time.

    python bench/embedded.py [--clips 400]
    python bench/embedded.py --tiny       # 40 clips: checks that the bench runs (seconds)

Generated instrument clips (the demo's data); prints one small table. Times are ratios to the audio duration,
never asserted anywhere.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from codec_bench.codecs import EmbeddedCodec
from codec_bench.data.audio import load_audio
from codec_bench.data.generated import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=None, help="default 400")
    parser.add_argument("--tiny", action="store_true", help="40 clips: checks that the bench runs")
    args = parser.parse_args()
    clips = args.clips or (40 if args.tiny else 400)
    with tempfile.TemporaryDirectory() as tmp:
        folder = generate("instruments", Path(tmp), {"train": clips, "validation": 0, "test": 0})
        waves = [load_audio(p) for p in sorted((folder / "audio" / "train").glob("*.wav"))]
    seconds = sum(len(w) for w in waves) / 16_000
    codec = EmbeddedCodec()
    start = time.perf_counter()
    codec.fit(waves)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    codes = codec.encode(waves)
    encode_s = time.perf_counter() - start
    frames = sum(c.shape[1] for c in codes)
    print(f"embedded codec on CPU ({torch.get_num_threads()} threads), {len(waves)} clips, {seconds:.0f} s of audio")
    print(f"{'step':<34}{'seconds':>10}{'x real time':>14}")
    print(f"{'fit (k-means, 256 units)':<34}{fit_s:>10.2f}{seconds / fit_s:>14.0f}")
    print(f"{'encode (log-mel + nearest unit)':<34}{encode_s:>10.2f}{seconds / encode_s:>14.0f}")
    print(f"tokens per second of audio: {frames / seconds:.1f}")


if __name__ == "__main__":
    main()
