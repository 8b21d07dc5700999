"""Scoring from the KV cache with a tree mask equals one full forward per candidate."""

import numpy as np
import torch

from codec_bench.evaluation.scoring import PrefixScorer, generate_answers, score_multi_label, score_single_label
from codec_bench.llm.encoder import PromptEncoder
from codec_bench.prompts import build_example


def naive_loglik(model, prefix, candidate):
    ids = torch.tensor([list(prefix) + list(candidate)])
    logp = torch.log_softmax(model(input_ids=ids).logits[0].double(), -1)
    return sum(float(logp[len(prefix) - 1 + j, tok]) for j, tok in enumerate(candidate))


@torch.inference_mode()
def test_tree_scoring_equals_naive_scoring(tiny_lm):
    model, _ = tiny_lm
    rng = np.random.default_rng(0)
    prefix = rng.integers(0, 300, 23).tolist()
    candidates = [rng.integers(0, 320, n).tolist() for n in (1, 3, 5, 2, 4)]
    scorer = PrefixScorer(model, prefix)
    np.testing.assert_allclose(scorer.score(candidates), [naive_loglik(model, prefix, c) for c in candidates], atol=1e-4)
    # the cache is back to the prefix: scoring again, and after extending, still matches
    scorer.extend(candidates[1])
    longer = prefix + candidates[1]
    np.testing.assert_allclose(scorer.score(candidates), [naive_loglik(model, longer, c) for c in candidates], atol=1e-4)


AUDIO = {str(i): codes for i, codes in enumerate(np.random.default_rng(1).integers(0, 16, (4, 1, 8)))}


def _examples(n=4):
    return [build_example(str(i), "Which sound is this?", ["cat"]) for i in range(n)]


def test_single_label_probabilities(tiny_lm):
    model, tokenizer = tiny_lm
    encoder = PromptEncoder(tokenizer, 16, AUDIO)
    classes = ["cat", "dog bark", "siren"]
    probabilities = score_single_label(model, encoder, _examples(), classes)
    assert probabilities.shape == (4, 3)
    np.testing.assert_allclose(probabilities.sum(1), 1.0, rtol=1e-6)
    # same numbers as softmax over naive log-likelihoods of "label<END>"
    prefix = encoder.prompt_ids(_examples()[0])
    naive = np.array([naive_loglik(model, prefix, encoder.answer_ids([c])) for c in classes])
    np.testing.assert_allclose(probabilities[0], np.exp(naive - naive.max()) / np.exp(naive - naive.max()).sum(), atol=1e-5)


def test_multi_label_item_probabilities_are_in_range(tiny_lm):
    model, tokenizer = tiny_lm
    probabilities = score_multi_label(model, PromptEncoder(tokenizer, 16, AUDIO), _examples(2), ["cat", "dog bark", "siren"])
    assert probabilities.shape == (2, 3) and np.all((probabilities >= 0) & (probabilities <= 1))


def test_generation_returns_parsed_items(tiny_lm):
    model, tokenizer = tiny_lm
    answers = generate_answers(model, PromptEncoder(tokenizer, 16, AUDIO), _examples(3), max_new_tokens=4, batch_size=2)
    assert len(answers) == 3 and all(isinstance(a, tuple) for a in answers)


def test_label_set_marginals(tiny_lm):
    from codec_bench.evaluation.scoring import score_label_sets

    model, tokenizer = tiny_lm
    encoder = PromptEncoder(tokenizer, 16, AUDIO)
    sets = [("cat",), ("cat", "siren"), ("dog bark",)]
    probabilities = score_label_sets(model, encoder, _examples(2), ["cat", "dog bark", "siren"], sets)
    # every set holds cat or dog bark, never both: their marginals sum to 1; siren only with cat
    np.testing.assert_allclose(probabilities[:, 0] + probabilities[:, 1], 1.0, rtol=1e-6)
    assert np.all(probabilities[:, 2] < probabilities[:, 0])
