"""Prompts in the paper's format: (clip tokens, instruction, answer) -> text with speech-token strings.

    <|TEXT_UNDERSTANDING_START|>{instruction}<|TEXT_UNDERSTANDING_END|>
    <|SPEECH_UNDERSTANDING_START|><|s_12|><|s_4051|>...<|SPEECH_UNDERSTANDING_END|>
    <|TEXT_GENERATION_START|>{answer}<|TEXT_GENERATION_END|>

(no line breaks in the real prompt). The answer is the label text; a multi-label answer is the sorted labels
joined by ", ". The answer sits between Llasa's TEXT_GENERATION markers, so the end marker closes every answer:
scoring a candidate includes it (which separates "dog" from "dog bark") and generation stops at it.

This module knows nothing of any tokenizer: it produces strings and answer items. ``model.PromptEncoder`` turns
them into ids, always looking tokens up by these strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

TEXT_UNDERSTANDING_START = "<|TEXT_UNDERSTANDING_START|>"
TEXT_UNDERSTANDING_END = "<|TEXT_UNDERSTANDING_END|>"
SPEECH_UNDERSTANDING_START = "<|SPEECH_UNDERSTANDING_START|>"
SPEECH_UNDERSTANDING_END = "<|SPEECH_UNDERSTANDING_END|>"
TEXT_GENERATION_START = "<|TEXT_GENERATION_START|>"
TEXT_GENERATION_END = "<|TEXT_GENERATION_END|>"
SPEECH_GENERATION_START = "<|SPEECH_GENERATION_START|>"
SPEECH_GENERATION_END = "<|SPEECH_GENERATION_END|>"
MARKERS = (
    TEXT_UNDERSTANDING_START, TEXT_UNDERSTANDING_END, SPEECH_UNDERSTANDING_START, SPEECH_UNDERSTANDING_END,
    TEXT_GENERATION_START, TEXT_GENERATION_END, SPEECH_GENERATION_START, SPEECH_GENERATION_END,
)
ITEM_SEPARATOR = ", "
AUDIO_SLOT = "<|AUDIO_FEATURES|>"  # where a continuous front-end's frames go (never tokenized; see ``continuous``)


def speech_token(code: int) -> str:
    return f"<|s_{code}|>"


def speech_string(codes: np.ndarray, codebook_size: int) -> str:
    """``codes: (num_codebooks, frames)`` -> ``<|s_N|>...``; several codebooks are interleaved frame by frame,
    codebook ``k`` offset by ``k * codebook_size``."""
    codes = np.asarray(codes)
    offsets = np.arange(codes.shape[0])[:, None] * codebook_size
    return "".join(speech_token(int(c)) for c in (codes + offsets).T.reshape(-1))


@dataclass(frozen=True)
class Example:
    """One training or evaluation example: ``prompt`` text ends with TEXT_GENERATION_START; ``answer_items``
    are the label texts in answer order (one for single-label)."""

    id: str
    prompt: str
    answer_items: tuple[str, ...]

    @property
    def answer(self) -> str:
        return ITEM_SEPARATOR.join(self.answer_items)


def build_prompt(instruction: str, codes: np.ndarray | None, codebook_size: int) -> str:
    """The prompt up to and including TEXT_GENERATION_START; ``codes`` None (continuous features) puts
    ``AUDIO_SLOT`` where the speech tokens go."""
    audio = AUDIO_SLOT if codes is None else speech_string(codes, codebook_size)
    return (
        f"{TEXT_UNDERSTANDING_START}{instruction}{TEXT_UNDERSTANDING_END}"
        f"{SPEECH_UNDERSTANDING_START}{audio}{SPEECH_UNDERSTANDING_END}"
        f"{TEXT_GENERATION_START}"
    )


def answer_items(labels: Sequence[str]) -> tuple[str, ...]:
    """Answer order: the labels sorted (one label stays as it is)."""
    return tuple(sorted(labels))


def build_example(clip_id: str, instruction: str, codes: np.ndarray | None, codebook_size: int, labels: Sequence[str]) -> Example:
    return Example(clip_id, build_prompt(instruction, codes, codebook_size), answer_items(labels))


def parse_answer(text: str) -> tuple[str, ...]:
    """Generated answer text -> label items (split on the separator, stripped, empty items dropped)."""
    text = text.split(TEXT_GENERATION_END)[0]
    return tuple(item.strip() for item in text.split(ITEM_SEPARATOR.strip()) if item.strip())
