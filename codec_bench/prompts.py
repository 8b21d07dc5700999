"""Prompts in the paper's format: (instruction, answer) -> text with one audio slot, filled with the clip's tokens.

    <|TEXT_UNDERSTANDING_START|>{instruction}<|TEXT_UNDERSTANDING_END|>
    <|SPEECH_UNDERSTANDING_START|><|s_12|><|s_4051|>...<|SPEECH_UNDERSTANDING_END|>
    <|TEXT_GENERATION_START|>{answer}<|TEXT_GENERATION_END|>

(no line breaks in the real prompt). A question-answering prompt holds the question either in the instruction
(before the audio) or, with the question after the audio, in a second text block between the audio and the answer:
``...<|SPEECH_UNDERSTANDING_END|><|TEXT_UNDERSTANDING_START|>{question}<|TEXT_UNDERSTANDING_END|>
<|TEXT_GENERATION_START|>``. The answer is the label text; a multi-label answer is the sorted labels
joined by ", ". The answer sits between Llasa's TEXT_GENERATION markers, so the end marker closes every answer:
scoring a candidate includes it (which separates "dog" from "dog bark") and generation stops at it.

A prompt is stored with ``AUDIO_SLOT`` where the speech tokens go (``prompts/<split>.jsonl`` stays small however
long the clips are); the model side fills the slot from the token cache when it builds a batch: the speech
tokens ``<|s_N|>`` of the clip's codes (:func:`render` gives that text), or embeddings for continuous frames and
summed codebooks. This module knows nothing of any tokenizer: it produces strings and answer items.
``model.PromptEncoder`` turns them into ids, always looking tokens up by these strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from .core import io

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
ITEM_SEPARATOR = ", "  # a multi-label answer: "dog bark, siren" (data.manifest.MULTI_LABEL_SEPARATOR + a space)
QUESTION_MARK, YES, NO = "?", "yes", "no"  # a label question "<label>?" and its answers (multi-label, label_questions)
AUDIO_SLOT = "<|AUDIO_FEATURES|>"  # where the clip's audio goes: filled by the model side, never tokenized


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
    """One training or evaluation example: ``prompt`` text (one ``AUDIO_SLOT``) ends with TEXT_GENERATION_START;
    ``answer_items`` are the label texts in answer order (one for single-label); ``id`` is the clip whose audio
    fills the slot."""

    id: str
    prompt: str
    answer_items: tuple[str, ...]

    @property
    def answer(self) -> str:
        return ITEM_SEPARATOR.join(self.answer_items)


class ExampleFile(Sequence[Example]):
    """The examples of a prompts file (``{"id", "prompt", "answer_items"}`` rows), read lazily."""

    def __init__(self, path: str | Path):
        self.rows = io.JsonlFile(path)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [_example(r) for r in self.rows[index]]
        return _example(self.rows[index])

    def __iter__(self) -> Iterator[Example]:
        return (_example(r) for r in self.rows)


def _example(row: dict) -> Example:
    return Example(row["id"], row["prompt"], tuple(row["answer_items"]))


def example_row(example: Example) -> dict:
    """An example as a prompts-file row."""
    return {"id": example.id, "prompt": example.prompt, "answer_items": list(example.answer_items)}


def build_prompt(instruction: str, after_audio: str | None = None) -> str:
    """The prompt up to and including TEXT_GENERATION_START, with ``AUDIO_SLOT`` where the speech tokens go;
    ``after_audio`` (a question asked after the audio) in a text block of its own between the audio and the answer."""
    after = f"{TEXT_UNDERSTANDING_START}{after_audio}{TEXT_UNDERSTANDING_END}" if after_audio else ""
    return (
        f"{TEXT_UNDERSTANDING_START}{instruction}{TEXT_UNDERSTANDING_END}"
        f"{SPEECH_UNDERSTANDING_START}{AUDIO_SLOT}{SPEECH_UNDERSTANDING_END}"
        f"{after}{TEXT_GENERATION_START}"
    )


def render(prompt: str, codes: np.ndarray, codebook_size: int) -> str:
    """The prompt as the LLM reads it, as text: the audio slot replaced by the speech tokens of ``codes``."""
    return prompt.replace(AUDIO_SLOT, speech_string(codes, codebook_size))


def answer_items(labels: Sequence[str]) -> tuple[str, ...]:
    """Answer order: the labels sorted (one label stays as it is)."""
    return tuple(sorted(labels))


def build_example(clip_id: str, instruction: str, labels: Sequence[str], after_audio: str | None = None) -> Example:
    return Example(clip_id, build_prompt(instruction, after_audio), answer_items(labels))


def parse_answer(text: str, split_items: bool = True) -> tuple[str, ...]:
    """Generated answer text -> label items: split on the separator, stripped, empty items dropped. A single-label
    or question-answering answer is one item (``split_items=False``), so a label such as ``low, hum`` survives."""
    text = text.split(TEXT_GENERATION_END)[0]
    if not split_items:
        return (text.strip(),) if text.strip() else ()
    return tuple(item.strip() for item in text.split(ITEM_SEPARATOR.strip()) if item.strip())
