"""XCodec2 encode speed: (a) one clip at a time vs (b) batched with features in DataLoader workers.

Random weights (spread to fan-in scale so codes vary), synthetic 5-s clips, no network. CPU default: a small
config; ``--real-size``: the default ``Xcodec2Config()`` (629M parameters), meant for one GPU:

    python bench/encode.py                                   # 2-core CPU, small config, ~1 minute
    python bench/encode.py --real-size --clips 128 --batch-size 64 --workers 8   # one H100/H200, < 90 s
    python bench/encode.py --tiny                            # 2 clips x 1 s, no workers: checks that the bench runs

Prints x real time (audio seconds / wall seconds) for each mode, the speedup over (a) and how many codes equal
(a)'s. On CUDA it also times, model only and batched: TF32, bf16 autocast, eager attention instead of SDPA,
``cudnn.benchmark``, a doubled batch and (``--compile``) ``torch.compile`` of the acoustic encoder, each with
the % of code frames equal to strict fp32. What each knob does:

- SDPA (default) vs eager attention: only the w2v-BERT branch has attention; its relative-key bias goes in as
  an additive mask, so SDPA uses the memory-efficient kernel, not flash. fp32 either way.
- Larger batches: fill the GPU on the conv-heavy 16 kHz acoustic branch; the gain flattens once the GPU is busy.
- Length bucketing: the codec runs equal padded lengths together (exact codes); here all clips are 5 s, one bucket.
- Pinned memory + ``non_blocking`` copies: ``collate`` pins when CUDA exists; the copy overlaps little (codes
  come back synchronously), the inputs are small next to the compute.
- ``cudnn.benchmark``: picks the fastest fp32 conv algorithm per shape; not TF32, but another algorithm may
  change the last bits, hence the equality column.
- TF32 / bf16 / compile: faster but not bit-exact; the column shows how many codes move.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from transformers import Xcodec2Model

from codec_bench.codecs.xcodec2 import Xcodec2Codec
from codec_bench.testing.tiny_models import random_xcodec2, small_xcodec2_config

SR = 16_000


def build_model(real_size: bool, device: torch.device, seed: int = 0) -> Xcodec2Model:
    """Random weights of the real config (629M parameters) or a small one (fan-in scaled: varied codes)."""
    return random_xcodec2(None if real_size else small_xcodec2_config(), device, seed)


def synthetic_clips(count: int, seconds: float, seed: int = 0) -> list[np.ndarray]:
    """Chirps plus noise, each clip different."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    clips = []
    for _ in range(count):
        f0, f1 = rng.uniform(100, 2000, 2)
        chirp = np.sin(2 * np.pi * (f0 + (f1 - f0) * t / seconds / 2) * t)
        clips.append((0.3 * chirp + 0.05 * rng.standard_normal(t.size)).astype(np.float32))
    return clips


def timed(fn: Callable[[], list[np.ndarray]]) -> tuple[float, list[np.ndarray]]:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start, out


def batches(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start: start + size]


class Preprocessed(torch.utils.data.Dataset):
    def __init__(self, codec: Xcodec2Codec, clips: list[np.ndarray]):
        self.codec, self.clips = codec, clips

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int):
        return self.codec.preprocess(self.clips[index])


def one_at_a_time(codec: Xcodec2Codec, clips: list[np.ndarray]) -> list[np.ndarray]:
    return [codec.encode_preprocessed([codec.preprocess(clip)])[0] for clip in clips]


def batched_with_workers(codec: Xcodec2Codec, clips: list[np.ndarray], batch_size: int, workers: int) -> list[np.ndarray]:
    loader = torch.utils.data.DataLoader(Preprocessed(codec, clips), batch_size=batch_size, num_workers=workers,
                                         collate_fn=list, prefetch_factor=4 if workers else None)
    return [codes for batch in loader for codes in codec.encode_preprocessed(batch)]


def model_only(codec: Xcodec2Codec, items: list, batch_size: int) -> list[np.ndarray]:
    return [codes for batch in batches(items, batch_size) for codes in codec.encode_preprocessed(batch)]


def equal_frames(codes: list[np.ndarray], reference: list[np.ndarray]) -> float:
    return 100.0 * sum(int((a == b).sum()) for a, b in zip(codes, reference)) / sum(b.size for b in reference)


def equal_clips(codes: list[np.ndarray], reference: list[np.ndarray]) -> float:
    return 100.0 * np.mean([np.array_equal(a, b) for a, b in zip(codes, reference)])


@contextlib.contextmanager
def cudnn_benchmark() -> Iterator[None]:
    saved = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=None, help="default: 128 on CUDA, 16 on CPU")
    parser.add_argument("--batch-size", type=int, default=None, help="default: 64 on CUDA, 8 on CPU")
    parser.add_argument("--workers", type=int, default=None, help="DataLoader workers; default: 8 on CUDA, 1 on CPU")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seconds", type=float, default=None, help="default 5")
    parser.add_argument("--real-size", action="store_true", help="the default Xcodec2Config (629M parameters)")
    parser.add_argument("--variants", action="store_true", help="also on CPU: tf32/bf16/eager rows (slow)")
    parser.add_argument("--compile", action="store_true", help="add a torch.compile(acoustic encoder) row")
    parser.add_argument("--tiny", action="store_true",
                        help="small config, 2 clips x 1 s, batch 2, no workers: checks that the bench runs")
    args = parser.parse_args()
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    clips_n = args.clips or (2 if args.tiny else 128 if cuda else 16)
    batch_size = args.batch_size or (2 if args.tiny else 64 if cuda else 8)
    workers = args.workers if args.workers is not None else (0 if args.tiny else 8 if cuda else 1)
    args.seconds = args.seconds or (1.0 if args.tiny else 5.0)

    build_start = time.perf_counter()
    model = build_model(args.real_size, device)
    codec = Xcodec2Codec(model_id="random", device=str(device), model=model)
    clips = synthetic_clips(clips_n, args.seconds)
    audio_s = clips_n * args.seconds
    build_s = time.perf_counter() - build_start

    warm = [codec.preprocess(clip) for clip in clips[: batch_size if cuda else 1]]
    codec.encode_preprocessed(warm[:1]), codec.encode_preprocessed(warm)  # CUDA context, kernels, allocator

    features_s, items = timed(lambda: [codec.preprocess(clip) for clip in clips])
    e2e_a_s, codes_a = timed(lambda: one_at_a_time(codec, clips))
    model_a_s, _ = timed(lambda: model_only(codec, items, 1))
    e2e_b_s, codes_b = timed(lambda: batched_with_workers(codec, clips, batch_size, workers))
    model_b_s, codes_fp32 = timed(lambda: model_only(codec, items, batch_size))
    rows = [("(a) one at a time, end to end", audio_s / e2e_a_s, "reference"),
             ("(a) one at a time, model only", audio_s / model_a_s, ""),
             (f"(b) batch {batch_size} + {workers} workers, end to end", audio_s / e2e_b_s,
              f"{equal_clips(codes_b, codes_a):.1f}% clips, {equal_frames(codes_b, codes_a):.2f}% frames"),
             (f"(b) batch {batch_size}, model only", audio_s / model_b_s,
              f"{equal_clips(codes_fp32, codes_a):.1f}% clips, {equal_frames(codes_fp32, codes_a):.2f}% frames")]

    variants: list[tuple[str, float, str]] = []
    if cuda or args.variants:
        def variant(label: str, run_codec: Xcodec2Codec, size: int = batch_size, context=contextlib.nullcontext):
            with context():
                run_codec.encode_preprocessed(items[:size])  # warm-up for this setting
                seconds, codes = timed(lambda: model_only(run_codec, items, size))
            variants.append((label, audio_s / seconds, f"{equal_frames(codes, codes_fp32):.2f}%"))

        for dtype in ("tf32", "bfloat16"):
            variant(f"{dtype}", Xcodec2Codec(model_id="random", device=str(device), model=model, dtype=dtype))
        variant(f"fp32, batch {2 * batch_size}", codec, 2 * batch_size)
        if cuda:
            variant("fp32, cudnn.benchmark", codec, context=cudnn_benchmark)
        model.set_attn_implementation("eager")
        variant("fp32, eager attention (default SDPA)", codec)
        model.set_attn_implementation("sdpa")
        if args.compile:
            model.acoustic_encoder = torch.compile(model.acoustic_encoder)
            variant("fp32, torch.compile(acoustic encoder)", codec)

    name = torch.cuda.get_device_name(device) if cuda else f"CPU ({torch.get_num_threads()} threads)"
    params = sum(p.numel() for p in model.parameters()) / 1e6
    distinct = len(np.unique(np.concatenate([c.ravel() for c in codes_a])))
    print(f"\nXCodec2 encode: {clips_n} clips x {args.seconds:g} s on {name}, "
          f"{'real' if args.real_size else 'small'} config ({params:.0f}M parameters, {distinct} distinct codes), "
          f"torch {torch.__version__}, model built in {build_s:.0f} s")
    print(f"{'mode':<48} {'x real time':>11} {'speedup':>8}  codes equal to (a)")
    for label, speed, note in rows:
        print(f"{label:<48} {speed:>11.1f} {speed / rows[0][1]:>8.2f}  {note}")
    print(f"{'features only (main process, one core)':<48} {audio_s / features_s:>11.1f} {'-':>8}")
    if variants:
        print(f"\nmodel only, batch {batch_size} unless named  {'x real time':>11} {'vs fp32':>8}  frames equal to fp32")
        for label, speed, note in variants:
            print(f"{label:<48} {speed:>11.1f} {speed / rows[3][1]:>8.2f}  {note}")


if __name__ == "__main__":
    main()
