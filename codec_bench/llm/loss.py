"""The answer-only, shifted next-token loss, and how many positions of logits it needs.

Batches are left-padded (``batches.LeftPadCollator``), so every answer ends at the last position of its row. The
model is asked for logits at the last ``k`` positions only (``logits_to_keep=k``, ``k = answer_span(labels)``):
the full-vocabulary projection (a quarter of Llasa-1B's weights) runs on a handful of rows instead of every
position. The logit at position t is scored against the token at t + 1, on answer tokens only::

    >>> labels = torch.tensor([[-100, -100, -100, 8, 9]])  # prompt x0 x1 x2, answer 8 9
    >>> answer_span(labels)  # logits at x2 (predicts 8), 8 (predicts 9) and 9 (not scored)
    3
    >>> shifted_answer_loss(logits[:, -3:], labels)  # mean of -log p(8 | ..x2) and -log p(9 | ..8)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE = -100  # the label of a position that is not scored (prompt, padding)


def shifted_answer_loss(logits: torch.Tensor, labels: torch.Tensor, num_items: int | torch.Tensor | None = None) -> torch.Tensor:
    """Next-token loss over answer tokens.

    ``logits: (batch, k, vocab)`` are the model's outputs at the last ``k`` positions; ``labels: (batch, time)``
    hold the answer ids and -100 elsewhere. The logit at position t is scored against the label at t + 1, so a
    model that copies its current input token gets no credit. Returns the mean over answer tokens, or the sum
    over ``num_items`` (Trainer's count across gradient-accumulation steps).
    """
    k = logits.shape[1]
    targets = labels[:, labels.shape[1] - k + 1:]  # label at t + 1 for each kept position t except the last
    flat_logits = logits[:, :-1].reshape(-1, logits.shape[-1]).float()
    loss = F.cross_entropy(flat_logits, targets.reshape(-1), ignore_index=IGNORE, reduction="sum")
    count = num_items if num_items is not None else (targets != IGNORE).sum().clamp(min=1)
    return loss / count


def answer_span(labels: torch.Tensor) -> int:
    """Positions to keep logits for: from the one before the earliest answer token to the end."""
    is_answer = labels != IGNORE
    first = torch.where(is_answer.any(1), is_answer.int().argmax(1), labels.shape[1]).min()
    return int(labels.shape[1] - first + 1)
