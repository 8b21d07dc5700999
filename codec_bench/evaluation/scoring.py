"""Evaluation: label scoring (probabilities per label) and greedy generation, on held-out splits.

Scoring runs the shared prompt once and keeps its KV cache. All candidate answers are then scored in one
forward pass as a *tree*: their tokens are laid side by side after the cached prompt, each attending to the
prompt and to its own earlier tokens only (a 4-D attention mask, position ids restarting after the prompt). No
cache is copied, and the log-likelihood of every candidate comes from next-token log-probabilities (the logit at
position t scores the token at t + 1).

- single-label: candidates are "label<END>"; probabilities are the softmax of their log-likelihoods.
- multi-label, four ways to get a probability per label; the pipeline keeps, per run, the one with the highest
  cross-fitted micro-F1 on the validation split, each under its best decision rule (``decisions``):
  * "label_sets": every label set of the training split's own clips (not of mixtures) is a candidate answer
    ("a, b<END>"); a label's probability is the summed probability of the sets that hold it. Exact for the
    answers the model was taught; used while the training split has at most 512 distinct sets.
  * "item_path": the next answer item is one of "label, " or "label<END>"; following the greedy answer path
    item by item, each label's probability is the largest it gets as the next item (scales to any number of
    labels; sorted answers mean a label shows up once the path reaches it).
  * "label_sets_normalised": as label_sets, with each set's log-likelihood divided by its token count.
  * "label_questions" (runs trained with ``label_questions``): P(yes) of a "<label>?" question per label, all
    questions in one forward as a tree after the prompt, as they were trained.
  How the methods compare on the demo's ``mixtures`` and on rendered real instruments: docs/performance.md
  ("Multi-label tagging").
- generation: greedy decoding until <|TEXT_GENERATION_END|>, parsed into labels, exact match.
"""

from __future__ import annotations

import inspect
from typing import Sequence

import numpy as np
import torch
from scipy.special import softmax

from ..core import ui
from ..llm.batches import PROMPT_BRANCH, tree_attention
from ..llm.encoder import PromptEncoder
from ..llm.model import additive_mask
from ..prompts import Example, parse_answer
from .metrics import label_matrix


class PrefixScorer:
    """Log-likelihoods of many continuations of one prefix: one forward over prefix + candidate tree, then the
    prefix's KV cache for later steps."""

    def __init__(self, model, prefix: Sequence[int] | torch.Tensor):
        """``prefix``: token ids, or input embeddings ``(time, hidden)`` (continuous features)."""
        self.model = model
        self.device = next(model.parameters()).device
        self.cache_name = cache_argument(model)
        self.prefix_embeds = prefix if isinstance(prefix, torch.Tensor) else None
        self.prefix = [] if self.prefix_embeds is not None else list(prefix)
        self.cache = None  # filled by the first score() or extend()
        self.length = len(prefix)
        self.last_logp: torch.Tensor | None = None

    def _first_inputs(self, ids: list[int]) -> dict[str, torch.Tensor]:
        """The first forward's inputs: the prefix followed by ``ids`` (as embeddings when the prefix is)."""
        tensor = torch.tensor([ids], dtype=torch.long, device=self.device)
        if self.prefix_embeds is None:
            return {"input_ids": tensor}
        embeds = self.model.get_input_embeddings()(tensor)[0]
        return {"inputs_embeds": torch.cat([self.prefix_embeds.to(embeds.dtype), embeds])[None]}

    def extend(self, ids: Sequence[int]) -> None:
        """Append ``ids`` to the prefix (causal, through the cache)."""
        if self.cache is None:  # nothing run yet: the prefix and the new ids are one causal pass
            self.prefix += list(ids)
            self.length += len(ids)
            out = self.model(**self._first_inputs(self.prefix), use_cache=True, logits_to_keep=1)
            self.cache, self.last_logp = out[self.cache_name], torch.log_softmax(out.logits[0, -1].float(), -1)
            return
        positions = torch.arange(self.length, self.length + len(ids), device=self.device)[None]
        out = self.model(input_ids=torch.tensor([list(ids)], device=self.device), position_ids=positions,
                         use_cache=True, logits_to_keep=1, **{self.cache_name: self.cache})
        self.cache = out[self.cache_name]
        self.length += len(ids)
        self.last_logp = torch.log_softmax(out.logits[0, -1].float(), -1)

    def score(self, candidates: Sequence[Sequence[int]]) -> np.ndarray:
        """``(n_candidates,)`` float64: log P(candidate | prefix), summed over its tokens."""
        bodies = [list(c[:-1]) for c in candidates]  # a candidate's last token is predicted, never fed
        tokens, owner, starts = [], [], []
        for index, body in enumerate(bodies):
            starts.append(len(tokens))
            tokens += body
            owner += [index] * len(body)
        tree_logits = self._tree_logits(tokens, owner)
        totals = self.last_logp[[c[0] for c in candidates]].double()
        if not tokens:
            return totals.cpu().numpy()
        logp = torch.log_softmax(tree_logits.float(), -1)
        for index, cand in enumerate(candidates):
            if len(cand) > 1:
                rows = torch.arange(starts[index], starts[index] + len(cand) - 1, device=self.device)
                totals[index] += logp[rows, torch.tensor(list(cand[1:]), device=self.device)].double().sum()
        self.cache.crop(self.length - self.cache.get_seq_length())  # drop the candidates again (negative = remove)
        return totals.cpu().numpy()

    def _tree_logits(self, tokens: list[int], owner: list[int]) -> torch.Tensor:
        """Logits of the tree tokens ``(len(tokens), vocab)``; ``owner``: each token's branch (0, 1, ...). Sets
        ``last_logp`` on the first call.

        The first call runs the prefix and the tree in ONE forward (prefix causal, each candidate attending to
        the prefix and its own earlier tokens: ``llm.batches.tree_attention``, as in training), so scoring costs
        one pass over prompt + candidates; later calls (after ``extend``) run the tree over the cached prefix, its
        positions after it. The tree is cropped off the cache afterwards.
        """
        first = self.cache is None
        head = self.length if first else 0
        branch = torch.tensor([[PROMPT_BRANCH] * head + owner], dtype=torch.long, device=self.device)
        visible, positions = tree_attention(branch, start=0 if first else self.length)
        cached = torch.ones(len(tokens), self.length, dtype=torch.bool, device=self.device)
        allowed = visible[0] if first else torch.cat([cached, visible[0]], 1)  # every tree token sees the cached prefix
        mask = additive_mask(allowed, next(self.model.parameters()).dtype)
        inputs = self._first_inputs(self.prefix + tokens) if first else {"input_ids": torch.tensor([tokens], device=self.device)}
        out = self.model(
            **inputs, position_ids=positions,
            attention_mask=mask[None, None], use_cache=True, logits_to_keep=len(tokens) + 1 if first else 0,
            **({} if first else {self.cache_name: self.cache}),
        )
        self.cache = out[self.cache_name]
        if first:
            self.last_logp = torch.log_softmax(out.logits[0, 0].float(), -1)
            return out.logits[0, 1:]
        return out.logits[0]


def cache_argument(model) -> str:
    """The name transformers uses for the KV cache: ``cache`` from 5.24 on, ``past_key_values`` before."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"


@torch.inference_mode()
def score_single_label(model, encoder: PromptEncoder, examples: Sequence[Example], classes: Sequence[str]) -> np.ndarray:
    """``(n_examples, n_classes)`` probabilities: softmax over the log-likelihoods of "label<END>"."""
    candidates = [encoder.answer_ids([c]) for c in classes]
    out = np.zeros((len(examples), len(classes)))
    for i, example in enumerate(ui.track(examples, "score", unit="clips")):
        loglik = PrefixScorer(model, encoder.prefix(model, example)).score(candidates)
        out[i] = softmax(loglik)
    return out


@torch.inference_mode()
def score_multi_label(model, encoder: PromptEncoder, examples: Sequence[Example], classes: Sequence[str],
                      max_items: int | None = None) -> np.ndarray:
    """``(n_examples, n_classes)`` per-label probabilities by item scoring along the greedy answer path."""
    items = [list(encoder.text_ids(c)) for c in classes]
    candidates = [ids + list(encoder.separator) for ids in items] + [ids + [encoder.end_id] for ids in items]
    n = len(classes)
    out = np.zeros((len(examples), n))
    for i, example in enumerate(ui.track(examples, "score", unit="clips")):
        scorer = PrefixScorer(model, encoder.prefix(model, example))
        for _ in range(max_items or n):
            p = softmax(scorer.score(candidates))
            out[i] = np.maximum(out[i], p[:n] + p[n:])
            best = int(np.argmax(p))
            if best >= n:
                break
            scorer.extend(candidates[best])
    return out


@torch.inference_mode()
def score_label_sets(model, encoder: PromptEncoder, examples: Sequence[Example], classes: Sequence[str],
                     label_sets: Sequence[tuple[str, ...]], normalise: bool = False) -> np.ndarray:
    """``(n_examples, n_classes)`` per-label marginals: every label set seen in training is a candidate answer,
    the candidates' probabilities (softmax of their log-likelihoods) are summed over the sets holding each label.
    ``normalise``: the log-likelihood per answer token instead (longer sets, more labels or longer names, are not
    penalised for their length)."""
    candidates = [encoder.answer_ids(answer) for answer in label_sets]
    lengths = np.array([len(c) for c in candidates], dtype=float) if normalise else 1.0
    member = label_matrix(label_sets, classes)
    out = np.zeros((len(examples), len(classes)))
    for i, example in enumerate(ui.track(examples, "score", unit="clips")):
        out[i] = softmax(PrefixScorer(model, encoder.prefix(model, example)).score(candidates) / lengths) @ member
    return out


@torch.inference_mode()
def score_label_questions(model, encoder: PromptEncoder, examples: Sequence[Example], classes: Sequence[str]) -> np.ndarray:
    """``(n_examples, n_classes)`` P(yes) of every label question "<label>?" (a run trained with
    ``label_questions``): all questions in one forward per clip as a tree after the prompt, as in training; a
    label's probability is the softmax of the "yes" and "no" logits at its question mark."""
    questions = [encoder.question_ids(c) for c in classes]
    yes, no = encoder.yes_no_ids
    tokens, owner, last = [], [], []
    for k, question in enumerate(questions):
        tokens += question
        owner += [k] * len(question)
        last.append(len(tokens) - 1)
    out = np.zeros((len(examples), len(classes)))
    for i, example in enumerate(ui.track(examples, "score", unit="clips")):
        scorer = PrefixScorer(model, encoder.prefix(model, example))
        logits = scorer._tree_logits(tokens, owner)[last].float()  # positions restart after each prompt
        out[i] = torch.sigmoid(logits[:, yes] - logits[:, no]).cpu().numpy()
    return out


@torch.inference_mode()
def generate_answers(model, encoder: PromptEncoder, examples: Sequence[Example], max_new_tokens: int = 48,
                     batch_size: int = 16, split_items: bool = True) -> list[tuple[str, ...]]:
    """Greedy answers, parsed into label items (``split_items=False``: the whole answer is one item, as for a
    single-label task, whose labels may hold the multi-label separator)."""
    answers: list[tuple[str, ...]] = []
    with ui.stage("generate", len(examples), "clips") as bar:
        for first in range(0, len(examples), batch_size):  # batches read lazily from the prompts file
            batch = examples[first: first + batch_size]
            inputs, start = encoder.generation_inputs(model, batch)
            out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=encoder.end_id,
                                 pad_token_id=encoder.pad_id)
            answers += [parse_answer(encoder.decode(row[start:].tolist()), split_items) for row in out]
            bar.advance(len(batch))
    return answers

