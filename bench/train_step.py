"""Training step: (a) full logits, right-padded vs (b) answer-only logits, left-padded vs (c) (b) + length groups.

Random weights, synthetic examples shaped like the real ones (20 instruction tokens, 150-500 speech tokens, a
2-6 token answer), one AdamW step per batch, no network. CPU default: a small Llama, fp32; ``--real-size``:
Llasa-1B's shape (hidden 2048, 16 layers, 32/8 heads, vocab 193,800, tied), batch 16, bf16 autocast:

    python bench/train_step.py                 # 2-core CPU, small config, ~1 minute
    python bench/train_step.py --real-size     # one H100/H200, ~1 minute
    python bench/train_step.py --tiny          # 2 steps x batch 2, short prompts: checks that the bench runs

- (a) the slow variant: right-padded batches, ``model(input_ids, attention_mask, labels=...)`` with -100 on the
  prompt, i.e. full-vocabulary logits at every position and transformers' own causal-LM loss;
- (b) ours, as ``AnswerOnlyTrainer`` runs it: left-padded (``LeftPadCollator``, position ids from the mask),
  ``logits_to_keep=answer_span(labels)``, ``shifted_answer_loss``;
- (c) (b) on length-grouped batches (random mega-batches of 50 batches sorted by length, as Trainer's
  ``group_by_length`` sampler does), so most of the padding goes.

All three see the same examples and one AdamW, one step of each in turn (shared machines are noisy). Prints
real (non-pad) tokens/s, peak GPU memory (CUDA only: the CPU's RSS high-water mark is per process, so it cannot
be split by variant) and the ratios to (a); first it checks that (a) and (b) give the same loss on one batch.
"""

from __future__ import annotations

import argparse
import gc
import math
import time
from contextlib import nullcontext
from typing import Callable, Sequence

import numpy as np
import torch
from transformers import LlamaForCausalLM

from codec_bench.llm.batches import LeftPadCollator
from codec_bench.llm.loss import IGNORE, answer_span, shifted_answer_loss
from codec_bench.llm.model import default_attention
from codec_bench.testing.tiny_models import random_llama

INSTRUCTION_TOKENS = 20
PAD_ID = 0
Batch = dict[str, torch.Tensor]


def build_model(real_size: bool, device: torch.device, seed: int = 0) -> LlamaForCausalLM:
    model = random_llama(real_size, device, seed, pad_token_id=PAD_ID)
    model.config._attn_implementation = default_attention()
    return model


def synthetic_examples(count: int, vocab: int, speech: tuple[int, int], seed: int) -> list[dict]:
    """``{"input_ids", "labels"}`` lists: instruction + speech prompt (labels -100), then a 2-6 token answer."""
    rng = np.random.default_rng(seed)
    examples = []
    for _ in range(count):
        prompt = rng.integers(1, vocab, INSTRUCTION_TOKENS + int(rng.integers(speech[0], speech[1] + 1))).tolist()
        answer = rng.integers(1, vocab, int(rng.integers(2, 7))).tolist()
        examples.append({"input_ids": prompt + answer, "labels": [IGNORE] * len(prompt) + answer})
    return examples


def right_pad(features: Sequence[dict]) -> Batch:
    """The usual causal-LM batch: real tokens first, padding after (positions 0..n-1 need no ids)."""
    length = max(len(f["input_ids"]) for f in features)
    ids = torch.full((len(features), length), PAD_ID, dtype=torch.long)
    labels = torch.full((len(features), length), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(features), length), dtype=torch.long)
    for row, f in enumerate(features):
        n = len(f["input_ids"])
        ids[row, :n], labels[row, :n], mask[row, :n] = torch.tensor(f["input_ids"]), torch.tensor(f["labels"]), 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def random_batches(examples: list[dict], size: int) -> list[list[dict]]:
    return [examples[i:i + size] for i in range(0, len(examples), size)]


def length_grouped_batches(examples: list[dict], size: int, seed: int, mega: int = 50) -> list[list[dict]]:
    """Trainer's ``LengthGroupedSampler``: shuffle, cut into mega-batches of ``mega`` batches, sort each by length."""
    order = np.random.default_rng(seed).permutation(len(examples))
    batches = []
    for start in range(0, len(order), mega * size):
        group = sorted(order[start:start + mega * size], key=lambda i: -len(examples[i]["input_ids"]))
        batches += [[examples[i] for i in group[j:j + size]] for j in range(0, len(group), size)]
    return batches


def full_logits_loss(model, batch: Batch) -> torch.Tensor:
    """(a): transformers' causal-LM loss over logits at every position."""
    _checkpointing(model, False)
    return model(**batch, use_cache=False).loss


def _checkpointing(model, on: bool) -> None:
    """Each variant sets the activation checkpointing it wants before its forward (the step's backward follows
    before the next variant's forward, so the setting holds for the whole step)."""
    if model.is_gradient_checkpointing != on:
        model.gradient_checkpointing_enable() if on else model.gradient_checkpointing_disable()


def checkpointed_answer_only_loss(model, batch: Batch) -> torch.Tensor:
    """(d): (c) with activation checkpointing (``--gradient-checkpointing`` of ``codec-bench run``)."""
    _checkpointing(model, True)
    return _answer_only(model, batch)


def answer_only_loss(model, batch: Batch) -> torch.Tensor:
    """(b)/(c): what ``AnswerOnlyTrainer.compute_loss`` does."""
    _checkpointing(model, False)
    return _answer_only(model, batch)


def _answer_only(model, batch: Batch) -> torch.Tensor:
    inputs = dict(batch)
    labels = inputs.pop("labels")
    logits = model(**inputs, logits_to_keep=answer_span(labels), use_cache=False).logits
    return shifted_answer_loss(logits, labels)


def to_device(batch: Batch, device: torch.device) -> Batch:
    return {key: value.to(device, non_blocking=True) for key, value in batch.items()}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_interleaved(model, variants: list[tuple[Callable, list[Batch], list[Batch]]], device: torch.device,
                    autocast) -> list[tuple[float, float | None]]:
    """Train on every variant's batches, one step of each in turn, so machine noise hits all alike.

    ``variants``: (loss function, timed batches, warm-up batches). One AdamW serves all (its state is there
    for every step, as in a real run). Returns (real tokens/s, peak GiB or None) per variant; the peak of a
    variant is the largest over its steps, each measured from a reset just before it.
    """
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=device.type == "cuda")
    cuda = device.type == "cuda"

    def step(loss_fn: Callable, batch: Batch) -> float:
        optimizer.zero_grad(set_to_none=True)
        batch = to_device(batch, device)
        sync(device)
        if cuda:
            torch.cuda.reset_peak_memory_stats(device)
        start = time.perf_counter()
        with autocast():
            loss = loss_fn(model, batch)
        loss.backward()
        optimizer.step()
        sync(device)
        return time.perf_counter() - start

    seconds, peaks = [0.0] * len(variants), [0.0] * len(variants)
    warm_rounds = list(zip(*(warm for _, _, warm in variants)))  # kernels, allocator, optimizer state
    timed_rounds = list(zip(*(batches for _, batches, _ in variants)))
    for timed, round_ in [(False, r) for r in warm_rounds] + [(True, r) for r in timed_rounds]:
        for index, ((loss_fn, _, _), batch) in enumerate(zip(variants, round_)):
            if math.isnan(seconds[index]):  # this variant ran out of memory
                continue
            try:
                took = step(loss_fn, batch)
            except torch.cuda.OutOfMemoryError:
                seconds[index] = peaks[index] = float("nan")
                optimizer.zero_grad(set_to_none=True)
                gc.collect()
                torch.cuda.empty_cache()
                continue
            if timed:
                seconds[index] += took
                peaks[index] = max(peaks[index], torch.cuda.max_memory_allocated(device) / 2**30 if cuda else 0.0)
    tokens = [sum(int(b["attention_mask"].sum()) for b in batches) for _, batches, _ in variants]
    return [(n / s, p if cuda else None) for n, s, p in zip(tokens, seconds, peaks)]


@torch.no_grad()
def same_loss(model, features: list[dict], device: torch.device, autocast) -> tuple[float, float]:
    """Loss of (a) and (b) on the same examples, right- and left-padded respectively."""
    with autocast():
        slow = full_logits_loss(model, to_device(right_pad(features), device))
        fast = answer_only_loss(model, to_device(LeftPadCollator(PAD_ID)(features), device))
    return float(slow), float(fast)


def padding_percent(batches: list[Batch]) -> float:
    masks = [batch["attention_mask"] for batch in batches]
    return 100.0 * (1 - sum(int(m.sum()) for m in masks) / sum(m.numel() for m in masks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None,
                        help="timed steps per variant; default 20 on CUDA, 12 on CPU")
    parser.add_argument("--batch-size", type=int, default=None, help="default: 16 with --real-size, else 8")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--real-size", action="store_true", help="Llasa-1B's shape (1.37B parameters)")
    parser.add_argument("--speech-tokens", type=int, nargs=2, default=None, metavar=("MIN", "MAX"),
                        help="prompt speech-token range; default 150 500 with --real-size, else 40 160")
    parser.add_argument("--tiny", action="store_true",
                        help="2 steps x batch 2, 8-16 speech tokens, 1 warm-up step: checks that the bench runs")
    args = parser.parse_args()
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    steps = args.steps or (2 if args.tiny else 20 if cuda else 12)
    batch_size = args.batch_size or (2 if args.tiny else 16 if args.real_size else 8)
    speech = tuple(args.speech_tokens or ((8, 16) if args.tiny else (150, 500) if args.real_size else (40, 160)))
    warmup_steps = 1 if args.tiny else 2
    if cuda:
        autocast = lambda: torch.autocast("cuda", dtype=torch.bfloat16)  # noqa: E731
    else:
        autocast = nullcontext

    build_start = time.perf_counter()
    model = build_model(args.real_size, device).train()
    build_s = time.perf_counter() - build_start
    vocab = model.config.vocab_size
    examples = synthetic_examples(steps * batch_size, vocab, speech, seed=1)
    warmup = synthetic_examples(warmup_steps * batch_size, vocab, speech, seed=2)

    fp32_slow, fp32_fast = same_loss(model, examples[:batch_size], device, nullcontext)
    run_slow, run_fast = same_loss(model, examples[:batch_size], device, autocast) if cuda else (fp32_slow, fp32_fast)

    plain = random_batches(examples, batch_size)
    grouped = length_grouped_batches(examples, batch_size, seed=3)
    left = LeftPadCollator(PAD_ID)
    left64 = LeftPadCollator(PAD_ID, 64)  # as train() pads on a GPU: one kernel choice per 64-token bucket
    variants = [
        ("(a) full logits, right-padded, HF loss", full_logits_loss, [right_pad(b) for b in plain],
         [right_pad(b) for b in random_batches(warmup, batch_size)]),
        ("(b) answer-only logits, left-padded", answer_only_loss, [left(b) for b in plain],
         [left(b) for b in random_batches(warmup, batch_size)]),
        ("(c) (b) + length-grouped, padded to x64", answer_only_loss, [left64(b) for b in grouped],
         [left64(b) for b in random_batches(warmup, batch_size)]),
        ("(d) (c) + activation checkpointing", checkpointed_answer_only_loss, [left64(b) for b in grouped],
         [left64(b) for b in random_batches(warmup, batch_size)]),
    ]
    results = run_interleaved(model, [(loss_fn, batches, warm) for _, loss_fn, batches, warm in variants], device,
                              autocast)
    rows = [(label + (" [out of memory]" if math.isnan(speed) else ""), speed, peak, padding_percent(batches))
            for (label, _, batches, _), (speed, peak) in zip(variants, results)]

    name = torch.cuda.get_device_name(device) if cuda else f"CPU ({torch.get_num_threads()} threads)"
    params = sum(p.numel() for p in model.parameters()) / 1e6
    real_tokens = sum(len(e["input_ids"]) for e in examples)
    print(f"\nTraining step: {steps} steps x batch {batch_size} ({real_tokens} real tokens, prompts "
          f"{INSTRUCTION_TOKENS}+{speech[0]}-{speech[1]}, answers 2-6) on {name}, "
          f"{'Llasa-1B shape' if args.real_size else 'small config'} ({params:.0f}M parameters, vocab {vocab}), "
          f"{'bf16 autocast' if cuda else 'fp32'}, {model.config._attn_implementation}, AdamW, "
          f"torch {torch.__version__}, model built in {build_s:.0f} s")
    same = f"fp32 {fp32_slow:.6f} vs {fp32_fast:.6f} (|diff| {abs(fp32_slow - fp32_fast):.2e})"
    if cuda:
        same += f"; bf16 autocast {run_slow:.5f} vs {run_fast:.5f} (|diff| {abs(run_slow - run_fast):.2e})"
    print(f"same batch, loss (a) vs (b): {same}")
    print(f"{'variant':<44} {'tokens/s':>10} {'speedup':>8} {'peak GiB':>9} {'memory':>7} {'padding':>8}")
    base_speed, base_peak = rows[0][1], rows[0][2]
    for label, speed, peak, padding in rows:
        memory = f"{peak:>9.1f} {peak / base_peak:>7.2f}" if peak is not None else f"{'n/a':>9} {'n/a':>7}"
        print(f"{label:<44} {speed:>10.0f} {speed / base_speed:>8.2f} {memory} {padding:>7.1f}%")
    if not cuda:
        print("(peak memory: CUDA only; on CPU the RSS high-water mark cannot be split by variant in one process)")


if __name__ == "__main__":
    main()
