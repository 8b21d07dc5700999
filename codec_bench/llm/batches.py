"""Training batches: the dataset of prompts, the left-padding collator, and the "prompt + own branch" tree mask.

Rows are left-padded, so every answer ends at the last position (``loss.answer_span``); position ids follow the
real tokens, so padding changes nothing::

    >>> batch = LeftPadCollator(pad_id=0)([{"input_ids": [4, 5, 6], "labels": [-100, 5, 6]},
    ...                                    {"input_ids": [7], "labels": [7]}])
    >>> batch["input_ids"].tolist(), batch["attention_mask"].tolist(), batch["position_ids"].tolist()
    ([[4, 5, 6], [0, 0, 7]], [[1, 1, 1], [0, 0, 1]], [[0, 1, 2], [0, 0, 0]])

A row with label questions is a *tree*: its ``branch`` marks the prompt (-1), the answer (0) and each question
(1, 2, ...); a token sees the prompt and the earlier tokens of its own branch, and every branch's positions
restart after the prompt. Training (``tree_inputs``) and label scoring (``evaluation.scoring``) build it with
the one :func:`tree_attention`::

    >>> mask, positions = tree_inputs([{"branch": [-1, -1, 0, 0, 1, 1]}], 7)  # 1 pad, prompt 2, answer 2, question 2
    >>> positions.tolist()
    [[0, 0, 1, 2, 3, 2, 3]]
    >>> mask[0, 0, 6].int().tolist()  # the question's last token: the prompt and itself, never the answer
    [0, 1, 1, 0, 0, 1, 1]
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..prompts import Example
from .encoder import PromptEncoder
from .loss import IGNORE

PROMPT_BRANCH = -1  # the shared prompt: every branch sees it
PAD_BRANCH = -2  # left padding: sees itself only


class PromptDataset(torch.utils.data.Dataset):
    """Training features built on the fly: ``examples`` (a lazy prompts file) read one at a time and filled with
    their audio by ``encoder`` (which reads the token cache lazily). Nothing of the corpus is held in memory but
    the file offsets and the lengths the length-grouped sampler needs (computed without reading any audio)."""

    def __init__(self, examples: Sequence[Example], encoder: PromptEncoder):
        self.examples, self.encoder = examples, encoder

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> dict:
        return self.encoder.training_features(self.examples[index])

    def lengths(self) -> list[int]:
        """``len(self[i]["input_ids"])`` for every ``i``."""
        return [self.encoder.length(e) for e in self.examples]


class LeftPadCollator:
    """Left-pad ``input_ids``/``labels`` and add ``attention_mask`` and ``position_ids`` for real tokens."""

    def __init__(self, pad_id: int, pad_to_multiple_of: int = 1):
        self.pad_id = pad_id
        self.multiple = pad_to_multiple_of  # fewer distinct shapes: GPU kernels are picked once per shape

    def __call__(self, features: Sequence[dict]) -> dict[str, torch.Tensor]:
        length = max(len(f["input_ids"]) for f in features)
        length = -(-length // self.multiple) * self.multiple
        ids = torch.full((len(features), length), self.pad_id, dtype=torch.long)
        labels = torch.full((len(features), length), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(features), length), dtype=torch.long)
        for row, f in enumerate(features):
            n = len(f["input_ids"])
            ids[row, length - n:] = torch.tensor(f["input_ids"])
            labels[row, length - n:] = torch.tensor(f["labels"])
            mask[row, length - n:] = 1
        positions = (mask.cumsum(1) - 1).clamp(min=0)
        batch = {"input_ids": ids, "attention_mask": mask, "position_ids": positions, "labels": labels}
        if "branch" in features[0]:  # label questions: a tree after the prompt
            batch["attention_mask"], batch["position_ids"] = tree_inputs(features, length)
        if "audio" in features[0]:
            batch.update(self._audio(features, length))
        return batch

    @staticmethod
    def _audio(features: Sequence[dict], length: int) -> dict[str, torch.Tensor]:
        """Continuous features: ``audio_features: (batch, frames, dim)`` (float frames, or int64 speech-token ids of
        summed codebooks; zero-padded after each row's frames) and
        ``audio_positions: (batch, time) bool``, where they go in the left-padded rows."""
        frames = max(len(f["audio"]) for f in features)
        dtype = np.float32 if np.issubdtype(features[0]["audio"].dtype, np.floating) else np.int64
        audio = torch.from_numpy(np.zeros((len(features), frames, features[0]["audio"].shape[1]), dtype))
        where = torch.zeros((len(features), length), dtype=torch.bool)
        for row, f in enumerate(features):
            start = length - len(f["input_ids"]) + f["audio_start"]
            audio[row, : len(f["audio"])] = torch.from_numpy(np.array(f["audio"], dtype=dtype))
            where[row, start: start + len(f["audio"])] = True
        return {"audio_features": audio, "audio_positions": where}


def tree_inputs(features: Sequence[dict], length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(attention_mask (batch, 1, length, length) bool, position_ids (batch, length))`` for left-padded rows whose
    ``branch`` marks the prompt (-1), the answer (0) and label questions (1, 2, ...): see :func:`tree_attention`."""
    branch = torch.full((len(features), length), PAD_BRANCH, dtype=torch.long)
    for row, f in enumerate(features):
        branch[row, length - len(f["branch"]):] = torch.tensor(f["branch"])
    allowed, positions = tree_attention(branch)
    return allowed[:, None], positions


def tree_attention(branch: torch.Tensor, start: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(allowed (batch, length, length) bool [query, key], position_ids (batch, length) int64)`` of tokens whose
    ``branch: (batch, length)`` is ``PROMPT_BRANCH`` (-1), ``PAD_BRANCH`` (-2) or a branch number (0, 1, ...).

    A token sees the earlier tokens of the prompt and of its own branch; a padding position sees itself only, so
    no row of the mask is empty. Positions count from ``start`` (the length of a prompt already in a KV cache):
    the prompt's in order, every branch's restarting after the prompt; padding is at 0."""
    length = branch.shape[1]
    order = torch.arange(length, device=branch.device)
    causal = order[None, :] <= order[:, None]
    same = (branch[:, None, :] == PROMPT_BRANCH) | (branch[:, None, :] == branch[:, :, None])  # (batch, query, key)
    allowed = causal[None] & same & (branch[:, None, :] != PAD_BRANCH)
    allowed |= torch.eye(length, dtype=torch.bool, device=branch.device)[None] & (branch == PAD_BRANCH)[:, :, None]
    prompt = (branch == PROMPT_BRANCH).sum(1, keepdim=True)
    classes = int(branch.max()) - PAD_BRANCH + 1 if branch.numel() else 1
    member = F.one_hot(branch - PAD_BRANCH, classes)  # (batch, length, branches): the index of each token within its branch
    within = (member.cumsum(1) * member).sum(-1) - 1
    positions = torch.where(branch == PROMPT_BRANCH, within, torch.where(branch == PAD_BRANCH, 0, prompt + within))
    return allowed, positions + start * (branch != PAD_BRANCH)
