"""Decode cost: seconds of decoder time per second of audio, for the codecs that decode (the fidelity stage's cost).

Random weights, synthetic clips, no network. CPU default: the tiny EnCodec / DAC / Mimi / X-Codec of the tests (800 Hz)
and a small XCodec2 config (16 kHz); ``--real-size``: XCodec2 at its real config (629M parameters), meant for a GPU:

    python bench/decode.py                                        # 2-core CPU, tiny models, ~1 minute
    python bench/decode.py --real-size --clips 64 --batch-size 32  # one GPU: XCodec2 at real size
    python bench/decode.py --tiny                                 # 2 clips x 1 s: checks that the bench runs

Each codec encodes the clips once, then decodes them in batches of ``--batch-size`` (``TokenCodec.decode``: one call
per batch of equal lengths) ``--repeats`` times; the table gives the median. The tiny models' numbers say what the
smoke study costs, nothing about real codecs.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from codec_bench.codecs import CODECS
from codec_bench.codecs.base import TokenCodec
from codec_bench.testing.tiny_models import TINY_CODEC_FAMILIES, random_xcodec2, small_xcodec2_config, tiny_codec_model

OPTIONS = {"encodec": {}, "dac": {"num_quantizers": 2}, "mimi": {"num_quantizers": 2}, "xcodec": {}}


def clips(count: int, seconds: float, rate: int, seed: int = 0) -> list[np.ndarray]:
    """Chirps plus noise at ``rate`` Hz, each clip different."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    out = []
    for _ in range(count):
        f0, f1 = rng.uniform(rate / 80, rate / 8, 2)
        out.append((0.3 * np.sin(2 * np.pi * (f0 + (f1 - f0) * t / seconds / 2) * t)
                    + 0.05 * rng.standard_normal(t.size)).astype(np.float32))
    return out


def decode_cost(codec: TokenCodec, waves: list[np.ndarray], batch_size: int, repeats: int) -> float:
    """Median over ``repeats`` of decoder seconds per audio second (the codes encoded once, first)."""
    codes = codec.encode(waves)
    audio = sum(w.size for w in waves) / codec.sample_rate_hz
    codec.decode(codes[:1])  # warm-up (kernels, allocations)
    times = []
    for _ in range(repeats):
        if codec.device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for k in range(0, len(codes), batch_size):
            codec.decode(codes[k: k + batch_size])
        if codec.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times) / audio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real-size", action="store_true", help="XCodec2 only, at its real config (629M parameters)")
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default=None)
    parser.add_argument("--tiny", action="store_true", help="2 clips x 1 s, one repeat: checks that the bench runs")
    args = parser.parse_args()
    if args.tiny:
        args.clips, args.seconds, args.repeats = 2, 1.0, 1
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    codecs: dict[str, TokenCodec] = {}
    if not args.real_size:
        codecs |= {f"{f} (tiny, 800 Hz)": CODECS[f](model=tiny_codec_model(f), device=str(device), **OPTIONS[f])
                   for f in TINY_CODEC_FAMILIES}
    config = None if args.real_size else small_xcodec2_config(hidden=64, semantic=32, kernel=5)
    codecs[f"xcodec2 ({'real size' if args.real_size else 'tiny'}, 16 kHz)"] = CODECS["xcodec2"](
        model=random_xcodec2(config, device), device=str(device))
    print(f"Decode cost: {args.clips} clips x {args.seconds:g} s, batches of {args.batch_size}, {device}, "
          f"median of {args.repeats}, random weights")
    print("| codec | decode s / audio s | x real time |")
    print("|---|---|---|")
    for name, codec in codecs.items():
        cost = decode_cost(codec, clips(args.clips, args.seconds, codec.sample_rate_hz), args.batch_size, args.repeats)
        print(f"| {name} | {cost:.2e} | {1 / cost:.0f} |")


if __name__ == "__main__":
    torch.set_num_threads(max(1, torch.get_num_threads()))
    main()
