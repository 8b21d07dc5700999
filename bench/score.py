"""Label-scoring cost: N candidate answers after one prompt, in units of one forward pass over the prompt.

Random weights, a random 300-token prompt and 50 random 5-token candidates, no network. CPU default: a small
Llama in fp32; ``--real-size``: Llasa-1B's shape (1.37B parameters) in bf16, meant for one GPU:

    python bench/score.py                  # 2-core CPU, small config, well under a minute
    python bench/score.py --real-size      # one H100/H200, well under a minute
    python bench/score.py --tiny           # 4 candidates x 2 tokens after 16: checks that the bench runs (seconds)

- unit: one forward pass over the prompt with logits at every position (transformers' default);
- (i) one forward per candidate (prompt + candidate, full logits each time);
- (ii) one batch of N full sequences (prompt + candidate, no padding since all candidates are equally long);
- (iii) ours: ``PrefixScorer(model, prompt).score(candidates)`` - the prompt once (last logit only), then all
  candidates in one tree-masked forward over its KV cache.

Each is warmed up, then timed in ``--repeats`` round-robin rounds (CUDA-synchronised; the cheap unit and (iii)
five times a round), and the median taken. The log-likelihoods of (ii) and (iii) are compared with (i): in the
timed dtype, and, for bf16, again with the model cast to fp32.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import numpy as np
import torch
from transformers import LlamaForCausalLM

from codec_bench.evaluation.scoring import PrefixScorer
from codec_bench.llm.model import default_attention
from codec_bench.testing.tiny_models import random_llama


def build_model(real_size: bool, device: torch.device, dtype: torch.dtype, seed: int = 0) -> LlamaForCausalLM:
    model = random_llama(real_size, device, seed)
    model.config._attn_implementation = default_attention()
    return model.to(dtype).eval()


def candidate_loglik(logits: torch.Tensor, prompt_length: int, candidates: torch.Tensor) -> torch.Tensor:
    """``(n,)`` log P(candidate | prompt) from full-sequence ``logits: (n, time, vocab)``, ``candidates: (n, k)``."""
    k = candidates.shape[1]
    logp = torch.log_softmax(logits[:, prompt_length - 1:prompt_length - 1 + k].float(), -1)
    return logp.gather(-1, candidates[..., None])[..., 0].double().sum(-1)


def one_per_candidate(model, prompt: torch.Tensor, candidates: torch.Tensor) -> np.ndarray:
    """(i): ``prompt: (time,)``, ``candidates: (n, k)`` -> ``(n,)`` log-likelihoods, one forward each."""
    out = [candidate_loglik(model(input_ids=torch.cat([prompt, c])[None]).logits, len(prompt), c[None])
           for c in candidates]
    return torch.cat(out).cpu().numpy()


def one_batch(model, prompt: torch.Tensor, candidates: torch.Tensor) -> np.ndarray:
    """(ii): all prompt + candidate sequences as one batch."""
    ids = torch.cat([prompt.expand(len(candidates), -1), candidates], 1)
    return candidate_loglik(model(input_ids=ids).logits, len(prompt), candidates).cpu().numpy()


def prefix_scorer(model, prompt: torch.Tensor, candidates: torch.Tensor) -> np.ndarray:
    """(iii): the project's scorer."""
    return PrefixScorer(model, prompt.tolist()).score(candidates.tolist())


def median_seconds(fns: list[tuple[Callable[[], object], int]], repeats: int, device: torch.device) -> list[float]:
    """Median wall time of each ``(fn, calls per round)`` after one warm-up call.

    The rounds go round-robin over the functions, so noise from a shared machine hits all alike; cheap ones are
    called several times per round to get enough samples.
    """
    for fn, _ in fns:
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for (fn, calls), own in zip(fns, times):
            for _ in range(calls):
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                start = time.perf_counter()
                fn()
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                own.append(time.perf_counter() - start)
    return [statistics.median(own) for own in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=None, help="default 50")
    parser.add_argument("--candidate-tokens", type=int, default=None, help="default 5")
    parser.add_argument("--prompt-tokens", type=int, default=None, help="default 300")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed rounds; default 10 on CUDA, 3 on CPU")
    parser.add_argument("--tiny", action="store_true",
                        help="4 candidates x 2 tokens after a 16-token prompt, 1 round: checks that the bench runs")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--real-size", action="store_true", help="Llasa-1B's shape (1.37B parameters)")
    parser.add_argument("--dtype", choices=("bfloat16", "float32"), default=None,
                        help="default: bfloat16 on CUDA, float32 on CPU")
    args = parser.parse_args()
    tiny = {"candidates": 4, "candidate_tokens": 2, "prompt_tokens": 16, "repeats": 1} if args.tiny else {}
    for name, default in {"candidates": 50, "candidate_tokens": 5, "prompt_tokens": 300}.items():
        if getattr(args, name) is None:
            setattr(args, name, tiny.get(name, default))
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    repeats = args.repeats or tiny.get("repeats") or (10 if cuda else 3)
    dtype = getattr(torch, args.dtype or ("bfloat16" if cuda else "float32"))

    build_start = time.perf_counter()
    model = build_model(args.real_size, device, dtype)
    build_s = time.perf_counter() - build_start
    generator = torch.Generator().manual_seed(1)
    vocab = model.config.vocab_size
    prompt = torch.randint(0, vocab, (args.prompt_tokens,), generator=generator).to(device)
    candidates = torch.randint(0, vocab, (args.candidates, args.candidate_tokens), generator=generator).to(device)

    methods = [  # (label, function, calls per round)
        ("unit: one forward over the prompt, full logits", lambda: model(input_ids=prompt[None]).logits, 5),
        (f"(i) one forward per candidate ({args.candidates})", lambda: one_per_candidate(model, prompt, candidates), 1),
        (f"(ii) one batch of {args.candidates} full sequences", lambda: one_batch(model, prompt, candidates), 1),
        ("(iii) PrefixScorer: prompt once + tree forward", lambda: prefix_scorer(model, prompt, candidates), 5),
    ]
    with torch.inference_mode():
        seconds = median_seconds([(fn, calls) for _, fn, calls in methods], repeats, device)
        checks = [_differences(model, prompt, candidates, str(dtype).removeprefix("torch."))]
        if dtype != torch.float32:
            checks.append(_differences(model.float(), prompt, candidates, "float32"))

    name = torch.cuda.get_device_name(device) if cuda else f"CPU ({torch.get_num_threads()} threads)"
    params = sum(p.numel() for p in model.parameters()) / 1e6
    shape = "Llasa-1B shape" if args.real_size else "small config"
    print(f"\nScoring: {args.candidates} candidates x {args.candidate_tokens} tokens after a "
          f"{args.prompt_tokens}-token prompt on {name}, {shape} ({params:.0f}M parameters, vocab {vocab}), "
          f"{str(dtype).removeprefix('torch.')}, {model.config._attn_implementation}, "
          f"torch {torch.__version__}, medians over {repeats} rounds, model built in {build_s:.0f} s")
    for line in checks:
        print(line)
    print(f"{'method':<50} {'ms':>9} {'x prompt fwd':>13} {'vs (i)':>7}")
    for (label, _, _), s in zip(methods, seconds):
        print(f"{label:<50} {1000 * s:>9.1f} {s / seconds[0]:>13.2f} {seconds[1] / s:>7.1f}")


def _differences(model, prompt: torch.Tensor, candidates: torch.Tensor, dtype_name: str) -> str:
    reference = one_per_candidate(model, prompt, candidates)
    batch = np.abs(one_batch(model, prompt, candidates) - reference).max()
    ours = np.abs(prefix_scorer(model, prompt, candidates) - reference).max()
    return (f"{dtype_name}: max |log-likelihood diff| vs (i): (ii) {batch:.2e}, (iii) {ours:.2e} "
            f"(log-likelihoods around {reference.mean():.1f})")


if __name__ == "__main__":
    main()
