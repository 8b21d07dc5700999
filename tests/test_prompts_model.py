"""Prompt text and ids: Llasa's format, ids looked up by string, the answer mask."""

import numpy as np
import pytest

from codec_bench.core.errors import CodecBenchError
from codec_bench.llm.encoder import PromptEncoder, speech_id_table
from codec_bench.prompts import build_example, parse_answer, render, speech_string

INSTRUCTION = "Which sound is this? Answer with its name."


def test_prompt_text_is_the_paper_format():
    example = build_example("c1", INSTRUCTION, ["siren", "dog bark"])
    assert example.prompt == (
        "<|TEXT_UNDERSTANDING_START|>Which sound is this? Answer with its name.<|TEXT_UNDERSTANDING_END|>"
        "<|SPEECH_UNDERSTANDING_START|><|AUDIO_FEATURES|><|SPEECH_UNDERSTANDING_END|><|TEXT_GENERATION_START|>"
    )
    assert render(example.prompt, np.array([[3, 15, 0, 7]]), 16) == (
        "<|TEXT_UNDERSTANDING_START|>Which sound is this? Answer with its name.<|TEXT_UNDERSTANDING_END|>"
        "<|SPEECH_UNDERSTANDING_START|><|s_3|><|s_15|><|s_0|><|s_7|><|SPEECH_UNDERSTANDING_END|>"
        "<|TEXT_GENERATION_START|>"
    )
    assert example.answer == "dog bark, siren"  # multi-label answers: sorted labels joined by ", "


def test_a_question_after_the_audio_has_a_text_block_of_its_own():
    example = build_example("c1#q1", "Answer with one word.", ["yes"], after_audio="Question: Is there a bird?")
    assert example.prompt == (
        "<|TEXT_UNDERSTANDING_START|>Answer with one word.<|TEXT_UNDERSTANDING_END|>"
        "<|SPEECH_UNDERSTANDING_START|><|AUDIO_FEATURES|><|SPEECH_UNDERSTANDING_END|>"
        "<|TEXT_UNDERSTANDING_START|>Question: Is there a bird?<|TEXT_UNDERSTANDING_END|><|TEXT_GENERATION_START|>"
    )


def test_ids_and_mask_pinned_for_a_llasa_layout_tokenizer(tiny_lm):
    # layout like Llasa's: text vocabulary, then bos/eos/pad, the 8 markers, then <|s_0|>... (here 16 of them)
    _, tokenizer = tiny_lm
    encoder = PromptEncoder(tokenizer, 16, {"c1": np.array([[3, 15, 0, 7]])})
    example = build_example("c1", INSTRUCTION, ["siren", "dog bark"])
    features = encoder.training_features(example)
    assert encoder.length(example) == len(features["input_ids"])
    assert features["input_ids"] == [300, 303, 292, 297, 287, 298, 30, 295, 299, 294, 296, 13, 304, 305,
                                     314, 326, 311, 318, 306, 307, 267, 269, 11, 220, 268, 308]
    assert features["labels"] == [-100] * 20 + [267, 269, 11, 220, 268, 308]
    tokens = tokenizer.convert_ids_to_tokens(features["input_ids"])
    assert tokens[14:18] == ["<|s_3|>", "<|s_15|>", "<|s_0|>", "<|s_7|>"]
    assert tokens[-1] == "<|TEXT_GENERATION_END|>" and tokens[19] == "<|TEXT_GENERATION_START|>"


def test_speech_ids_from_text_equal_the_lookup_table(tiny_lm):
    _, tokenizer = tiny_lm
    codes = np.array([[5, 0, 15, 9, 9]])
    ids = PromptEncoder(tokenizer, 16).text_ids(speech_string(codes, 16))
    np.testing.assert_array_equal(ids, speech_id_table(tokenizer, 16)[codes[0]])


@pytest.mark.parametrize("num_codebooks", [1, 2])
def test_filled_slot_gives_the_ids_of_the_rendered_text(tiny_lm, num_codebooks):
    """The encoder never writes the speech-token text, yet its ids are the tokenizer's on that text."""
    _, tokenizer = tiny_lm
    codes = np.random.default_rng(0).integers(0, 16 // num_codebooks, (num_codebooks, 7))
    for instruction in (INSTRUCTION, "Question: is it loud?", " leading space, trailing space "):
        example = build_example("c", instruction, ["cat"])
        encoder = PromptEncoder(tokenizer, 16 // num_codebooks, {"c": codes}, num_codebooks)
        text = render(example.prompt, codes, 16 // num_codebooks)
        assert encoder.prompt_ids(example) == [tokenizer.bos_token_id] + tokenizer(text, add_special_tokens=False)["input_ids"]


def test_tokenizer_without_speech_tokens_is_refused(tiny_lm):
    _, tokenizer = tiny_lm
    with pytest.raises(CodecBenchError, match="has no token <\\|s_99\\|>"):
        PromptEncoder(tokenizer, 100)


def test_several_codebooks_are_interleaved_with_offsets():
    assert speech_string(np.array([[1, 2], [3, 4]]), 10) == "<|s_1|><|s_13|><|s_2|><|s_14|>"


def test_parse_answer():
    assert parse_answer("dog bark, siren<|TEXT_GENERATION_END|>junk") == ("dog bark", "siren")
    assert parse_answer("  ") == ()
