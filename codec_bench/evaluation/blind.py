"""The blind reference rows of audio question answering: what the question alone answers.

Question-answering sets can often be answered from the question (visual QA reports question-only baselines;
Clotho-AQA balances its yes/no questions for that reason), so every AQA run gets two rows that never hear the audio:

- ``baseline_blind_llm`` (:data:`BLIND_METHOD`): the same LLM and recipe, trained and evaluated on the same prompts
  with the audio slot empty (zero audio positions, for token codecs and continuous front-ends alike; see
  :class:`EmptyAudio` and ``study.blind``), scored by label scoring;
- ``baseline_majority_by_form`` (:data:`MAJORITY_METHOD`): the training split's most frequent answer for the
  question's form (:func:`question_form`).

**Question form**, from the question text only (the answer must not decide it at test time): a question whose first
word is an auxiliary verb (``is``, ``are``, ``does``, ``can``, ... :data:`AUXILIARIES`) is a ``yes/no`` question;
any other is named by its first word, or its first two for ``how`` (``what``, ``which``, ``how many``, ``where``).

    >>> [question_form(q) for q in ("Is there a bird?", "How many instruments play?", "Which plays, flute or harp?")]
    ['yes/no', 'how many', 'which']
    >>> majority_answers(["Is it loud?", "Is it wet?", "Are birds singing?", "What is it?"], ["no", "yes", "no", "rain"],
    ...                  ["Is it dry?", "What was that?", "Where is it?"])
    ['no', 'rain', 'no']
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterator, Mapping, Sequence

import numpy as np

BLIND_METHOD = "baseline_blind_llm"
MAJORITY_METHOD = "baseline_majority_by_form"
YES_NO_FORM = "yes/no"
AUXILIARIES = frozenset("is are was were am do does did can could will would should shall may might must has have had "
                        "isn't aren't wasn't weren't don't doesn't didn't can't couldn't won't wouldn't".split())


def question_form(question: str) -> str:
    """``yes/no`` for a question opening with an auxiliary verb, else its first word (two for ``how``), lower-cased."""
    words = re.findall(r"[a-z']+", question.lower())
    if not words:
        return ""
    if words[0] in AUXILIARIES:
        return YES_NO_FORM
    return " ".join(words[:2]) if words[0] == "how" else words[0]


def majority_answers(train_questions: Sequence[str], train_answers: Sequence[str], questions: Sequence[str]) -> list[str]:
    """Each question's answer by the blind majority rule: the most frequent training answer of its form (ties: the
    answer seen first), the most frequent training answer overall for a form training never saw."""
    by_form: dict[str, Counter] = {}
    for question, answer in zip(train_questions, train_answers):
        by_form.setdefault(question_form(question), Counter())[answer] += 1
    overall = Counter(train_answers)

    def top(counts: Counter) -> str:
        return max(counts, key=lambda a: (counts[a], -list(counts).index(a)))
    return [top(by_form.get(question_form(q)) or overall) for q in questions]


class EmptyAudio(Mapping[str, np.ndarray]):
    """The clips of ``clips`` with no audio: ``(rows, 0)`` arrays (no speech token, no frame) of ``dtype``, so a prompt
    encoder fills the audio slot with nothing. ``rows``: the codec's rows (codebooks, or feature dimensions)."""

    def __init__(self, clips: Mapping[str, np.ndarray], rows: int, dtype=np.int64):
        self.clips, self.empty = clips, np.zeros((rows, 0), dtype=dtype)

    def __getitem__(self, clip_id: str) -> np.ndarray:
        if clip_id not in self.clips:
            raise KeyError(clip_id)
        return self.empty

    def __len__(self) -> int:
        return len(self.clips)

    def __iter__(self) -> Iterator[str]:
        return iter(self.clips)

    def __contains__(self, clip_id: object) -> bool:
        return clip_id in self.clips

    def frames(self, clip_id: str) -> int:
        return 0

    def num_codebooks(self, clip_id: str) -> int:
        return self.empty.shape[0]
