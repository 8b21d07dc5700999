"""Scores that do not depend on the batch size: greedy generation over left-padded batches of 1, 4 and 16 prompts
of different lengths gives the same answers and the same per-step log-probabilities (padding is masked and position
ids follow the real tokens), for prompt ids and for prompt embeddings (continuous features); and label scoring, one
clip per forward, gives the same probabilities whichever clips are scored together."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from codec_bench.evaluation.scoring import generate_answers, score_multi_label, score_single_label
from codec_bench.llm.encoder import ContinuousPromptEncoder, PromptEncoder
from codec_bench.prompts import build_example

BATCH_SIZES = (1, 4, 16)
CLASSES = ["cat", "dog bark", "siren"]


def _clips(n: int = 16):
    """``n`` clips of 2 to 40 frames: prompts of different lengths, so batches are padded."""
    rng = np.random.default_rng(7)
    audio = {str(i): rng.integers(0, 16, (1, int(rng.integers(2, 41)))) for i in range(n)}
    return audio, [build_example(str(i), "Which sound is this?", [CLASSES[i % 3]]) for i in range(n)]


def _recorded_generation(model, encoder, examples, batch_size: int):
    """``generate_answers`` at ``batch_size``, and each prompt's log-probabilities at every generated step
    ``(steps, vocab)``, recorded from the model's own ``generate``."""
    steps: list[torch.Tensor] = []
    original = model.generate

    def generate(**kwargs):
        out = original(**kwargs, output_scores=True, return_dict_in_generate=True)
        logp = torch.stack(out.scores, 1).float().log_softmax(-1)  # (batch, steps, vocab)
        steps.extend(logp.unbind(0))
        return out.sequences

    model.generate = generate
    try:
        answers = generate_answers(model, encoder, examples, max_new_tokens=6, batch_size=batch_size)
    finally:
        del model.generate
    return answers, steps


class EmbeddedPrompts(PromptEncoder):
    """The continuous features' generation inputs (left-padded ``inputs_embeds``), here of the embedded prompt ids."""

    generation_inputs = ContinuousPromptEncoder.generation_inputs

    def prefix(self, model, example):
        return model.get_input_embeddings()(torch.tensor(self.prompt_ids(example)))


@pytest.mark.parametrize("prompts", [PromptEncoder, EmbeddedPrompts])
def test_generation_does_not_depend_on_the_batch_size(tiny_lm, prompts):
    model, tokenizer = tiny_lm
    audio, examples = _clips()
    encoder = prompts(tokenizer, 16, audio)
    assert len({len(encoder.prompt_ids(e)) for e in examples}) > 8  # padded batches indeed
    runs = {size: _recorded_generation(model, encoder, examples, size) for size in BATCH_SIZES}
    answers, steps = runs[1]
    for size in BATCH_SIZES[1:]:
        assert runs[size][0] == answers, size
        for alone, batched in zip(steps, runs[size][1]):
            n = min(len(alone), len(batched))  # a finished row of a batch goes on with padding
            torch.testing.assert_close(batched[:n], alone[:n], atol=1e-4, rtol=0)


def test_label_scoring_does_not_depend_on_which_clips_are_scored_together(tiny_lm):
    model, tokenizer = tiny_lm
    audio, examples = _clips()
    encoder = PromptEncoder(tokenizer, 16, audio)
    for score in (lambda ex: score_single_label(model, encoder, ex, CLASSES),
                  lambda ex: score_multi_label(model, encoder, ex, CLASSES)):
        alone = score(examples)
        for size in BATCH_SIZES:
            chunks = np.concatenate([score(examples[i: i + size]) for i in range(0, len(examples), size)])
            np.testing.assert_allclose(chunks, alone, atol=1e-6, rtol=0)
            assert (chunks.argmax(1) == alone.argmax(1)).all()
