"""Tiny-LM training against the machine's limit: tokens/s, the share of a plain matmul's FLOP/s, stage by stage.

    python bench/train_throughput.py                      # the demo's instruments task and recipe (~1-2 min)
    python bench/train_throughput.py --task mixtures      # the demo's other task (15 epochs)
    python bench/train_throughput.py --tiny               # 40/10/10 clips, 1 epoch: checks that the bench runs
    PYTHONPATH=/path/to/old/tree python bench/train_throughput.py   # the same measurement of other code (b654a4a on)

The demo's data (``codec-bench demo``: generated clips, the embedded codec) are written and encoded first, outside
the timing; then the training stage of ``codec-bench run`` trains the tiny LM on them with the demo's recipe
(``study.demo.DEMO_TRAIN``), while wrappers around the Trainer's parts add up the seconds of each stage:

- data: building each example (``PromptDataset.__getitem__``) and collating a batch (``LeftPadCollator``);
- forward, backward (``Accelerator.backward``), optimizer (gradient clipping, AdamW, learning-rate schedule);
- logging (``Trainer.log`` and its callbacks: ``train_log.jsonl``, the progress line), evaluation (the validation
  loss every epoch), checkpointing (``Trainer._save_checkpoint``);
- Trainer loop: the rest of ``Trainer.train`` (callbacks, step bookkeeping, loading the best checkpoint);
- setup and save: the training stage's time outside ``Trainer.train`` (building and loading the model, prompts).

Model FLOPs per token count the work a token needs, not the padding: 6 x the decoder's linear weights, plus
attention (6 x layers x width x the row's length, forward and backward of QK^T and AV with the causal half) and
the output layer at the answer positions only (``logits_to_keep``). The machine's limit is a plain float32
``torch.mm`` of 1024 x 1024 matrices on the same threads (best of several), measured in this run; the
model-shaped matmul (the batch's tokens x width x MLP width) is printed beside it. Nothing is asserted: the
figures go to docs/speed.md by hand.
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.optimizer import AcceleratedOptimizer
from transformers import Trainer

from codec_bench.config import RunConfig
from codec_bench.llm import train as train_module
from codec_bench.study import pipeline
from codec_bench.study.demo import DEMO_SIZES, DEMO_TRAIN
from codec_bench.study.pipeline import run

try:
    from codec_bench.llm.batches import LeftPadCollator, PromptDataset
except ImportError:  # older code (e.g. b654a4a, the demo's reference commit): both lived in llm.train
    LeftPadCollator, PromptDataset = train_module.LeftPadCollator, train_module.PromptDataset

TINY_SIZES = {"train": 40, "validation": 10, "test": 10}
STAGES = ("data", "forward", "backward", "optimizer", "logging", "evaluation", "checkpointing")


class Stopwatch:
    """Seconds per stage, added up by wrappers; a stage entered inside another (forward inside evaluation) counts
    for the outer one only."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.active: str | None = None
        self.rows = self.real_tokens = self.padded_tokens = self.answer_tokens = self.attention_pairs = 0
        self.training, self.model_config = False, None

    def wrap(self, owner, name: str, stage: str) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            if self.active is not None:
                return original(*args, **kwargs)
            self.active, start = stage, time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[stage] += time.perf_counter() - start
                self.active = None

        setattr(owner, name, timed)

    def count(self, batch: dict, pad_id: int) -> None:
        """Tokens of one training batch: real ones, padded positions, answer positions, attended pairs."""
        mask = batch["attention_mask"]
        lengths = (mask if mask.dim() == 2 else batch["input_ids"] != pad_id).sum(1)  # a tree's mask is 4-D
        self.rows += len(lengths)
        self.real_tokens += int(lengths.sum())
        self.padded_tokens += int(batch["input_ids"].numel())
        self.answer_tokens += int((batch["labels"] != -100).sum())
        self.attention_pairs += int((lengths * (lengths + 1) // 2).sum())


def instrument(watch: Stopwatch) -> None:
    """Wrap the Trainer's parts (see the module docstring); training batches are counted as they are collated."""
    watch.wrap(PromptDataset, "__getitem__", "data")
    collate = LeftPadCollator.__call__

    def counted(collator, features):
        batch = collate(collator, features)
        if watch.active == "data" and watch.training:
            watch.count(batch, collator.pad_id)
        return batch

    LeftPadCollator.__call__ = counted
    watch.wrap(LeftPadCollator, "__call__", "data")
    watch.wrap(train_module.AnswerOnlyTrainer, "compute_loss", "forward")
    watch.wrap(Accelerator, "backward", "backward")
    watch.wrap(Accelerator, "clip_grad_norm_", "optimizer")
    watch.wrap(AcceleratedOptimizer, "step", "optimizer")
    watch.wrap(torch.optim.lr_scheduler.LRScheduler, "step", "optimizer")
    watch.wrap(Trainer, "log", "logging")
    watch.wrap(Trainer, "evaluate", "evaluation")
    watch.wrap(Trainer, "_save_checkpoint", "checkpointing")
    train = Trainer.train

    def whole(trainer, *args, **kwargs):
        watch.training, start = True, time.perf_counter()
        try:
            return train(trainer, *args, **kwargs)
        finally:
            watch.seconds["train()"] += time.perf_counter() - start
            watch.training = False
            watch.model_config = trainer.model.config

    Trainer.train = whole
    stage = pipeline.train_model  # the training stage, as the pipeline calls it

    def whole_stage(*args, **kwargs):
        start = time.perf_counter()
        try:
            return stage(*args, **kwargs)
        finally:
            watch.seconds["stage"] += time.perf_counter() - start

    pipeline.train_model = whole_stage


def matmul_flops(rows: int, inner: int, cols: int, seconds: float = 1.0) -> float:
    """FLOP/s of a float32 ``torch.mm`` of (rows, inner) x (inner, cols) on the current threads, best of 5 rounds."""
    a, b = torch.randn(rows, inner), torch.randn(inner, cols)
    for _ in range(3):
        torch.mm(a, b)
    reps = max(3, int(seconds * 2e10 / (2 * rows * inner * cols) / 5))
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b)
        best = min(best, (time.perf_counter() - start) / reps)
    return 2 * rows * inner * cols / best


def model_flops(watch: Stopwatch) -> float:
    """Training FLOPs of the batches seen (forward + backward = 3 x forward), real tokens only."""
    c = watch.model_config
    heads_dim = c.hidden_size // c.num_attention_heads
    kv = c.num_key_value_heads * heads_dim
    linear = c.num_hidden_layers * (2 * c.hidden_size * c.hidden_size + 2 * c.hidden_size * kv
                                    + 3 * c.hidden_size * c.intermediate_size)
    forward = 2 * linear * watch.real_tokens  # every weight: one multiply-add per token
    forward += 2 * 2 * c.num_hidden_layers * c.hidden_size * watch.attention_pairs  # QK^T and AV, causal pairs
    forward += 2 * c.vocab_size * c.hidden_size * watch.answer_tokens  # the output layer at the answer positions
    return 3 * forward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="instruments", choices=sorted(DEMO_TRAIN))
    parser.add_argument("--tiny", action="store_true", help="40/10/10 clips, 1 epoch: checks that the bench runs")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    parser.add_argument("--out", default=None, help="folder for the data and the run (default: a temporary one)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = TINY_SIZES if args.tiny else DEMO_SIZES
    recipe = replace(DEMO_TRAIN[args.task], epochs=1) if args.tiny else DEMO_TRAIN[args.task]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp)
        config = RunConfig(dataset=args.task, out=out, root=out / "data" / args.task, train=recipe,
                           dataset_options={"sizes": sizes})
        run(config, stop_after="encode")  # data and tokens, outside the timing
        watch = Stopwatch()
        instrument(watch)
        run(config, stop_after="train")
    report(watch, args.task, sizes, recipe)


def report(watch: Stopwatch, task: str, sizes: dict, recipe) -> None:
    seconds = watch.seconds
    loop = seconds["train()"] - sum(seconds[s] for s in STAGES)
    step_tokens = watch.padded_tokens / max(1, watch.rows) * recipe.batch_size
    c = watch.model_config
    limit = matmul_flops(1024, 1024, 1024)
    shaped = matmul_flops(int(step_tokens), c.hidden_size, c.intermediate_size)
    flops = model_flops(watch)
    print(f"tiny-LM training, demo task {task} ({sizes['train']} training clips, {recipe.epochs:g} epochs, batch "
          f"{recipe.batch_size}), {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    print("| stage | seconds | share of the training stage |\n|---|---|---|")
    for stage in (*STAGES, "Trainer loop"):
        value = loop if stage == "Trainer loop" else seconds[stage]
        print(f"| {stage} | {value:.2f} | {value / seconds['stage']:.1%} |")
    setup = seconds["stage"] - seconds["train()"]
    print(f"| setup and save | {setup:.2f} | {setup / seconds['stage']:.1%} |")
    print(f"| **training stage** | {seconds['stage']:.2f} | 100% |")
    compute = seconds["forward"] + seconds["backward"] + seconds["optimizer"]
    print(f"\nreal tokens {watch.real_tokens} in {watch.rows} rows (padded positions: "
          f"{1 - watch.real_tokens / max(1, watch.padded_tokens):.1%}); model FLOPs per real token "
          f"{flops / max(1, watch.real_tokens) / 1e6:.2f} M")
    print("| figure | value |\n|---|---|")
    print(f"| training tokens/s (real tokens / training stage) | {watch.real_tokens / seconds['stage']:,.0f} |")
    print(f"| tokens/s in forward + backward + optimizer only | {watch.real_tokens / compute:,.0f} |")
    print(f"| model GFLOP/s (training stage) | {flops / seconds['stage'] / 1e9:.2f} |")
    print(f"| matmul GFLOP/s, 1024^3 float32, same threads | {limit / 1e9:.2f} |")
    print(f"| matmul GFLOP/s, model-shaped ({int(step_tokens)} x {c.hidden_size} x {c.intermediate_size}) | "
          f"{shaped / 1e9:.2f} |")
    print(f"| share of the matmul rate (training stage) | {flops / seconds['stage'] / limit:.1%} |")
    print(f"| share of the matmul rate (forward + backward + optimizer) | {flops / compute / limit:.1%} |")


if __name__ == "__main__":
    main()
