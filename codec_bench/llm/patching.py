"""Frame patching: ``patch`` (k) consecutive codec frames become one LLM position, so a clip costs
``ceil(frames / k)`` audio positions (times the codebooks when they are interleaved) instead of ``frames``.

Token codecs (``patch_token_ids``): the k frames' speech-token ids are gathered into one position whose input
embedding is the *sum* of their rows, as ``codebooks: sum`` already sums a frame's codebooks (MusicGen / Moshi
style) and as MiMo-Audio groups 4 steps into one. Summing needs no new weights, keeps every speech-token row the
interleaved prompt trains, and a patch of one frame is exactly the unpatched sum. It is order-blind within a
patch (the k frames' order is lost); a concatenation would keep it, at the cost of a new trained layer in front of
the LLM, which the token path deliberately does not have. Several codebooks: with ``codebooks: sum`` a position
holds all k x num_codebooks ids; with ``interleave`` each codebook keeps its own position per patch
(``ceil(frames / k) * num_codebooks`` positions, patch-major like the unpatched interleaving is frame-major).
A last, short patch holds fewer ids; the missing ones are ``-1``, which ``projector.embed_with_audio`` skips.

    >>> patch_token_ids(np.array([[10, 11, 12]]), 2, sum_codebooks=True).tolist()
    [[10, 11], [12, -1]]

Continuous front-ends (``patch_frames``): the k frames are *concatenated* into one ``k * feature_dim`` vector,
the projector's input (LLaVA's and MiMo-Audio's choice: order kept, the projector learns how to mix them; an
average would throw the within-patch detail away before anything is trained). A last, short patch repeats its
last frame, so no vector holds values the features never take.

    >>> patch_frames(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), 2).tolist()
    [[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 5.0, 6.0]]
"""

from __future__ import annotations

import numpy as np

PAD_ID = -1  # a missing id in a short last patch: contributes nothing to the position's summed embedding


def patched_length(frames: int, patch: int) -> int:
    """Positions ``frames`` frames take in patches of ``patch``: ``ceil(frames / patch)``."""
    return -(-int(frames) // int(patch))


def patch_token_ids(ids: np.ndarray, patch: int, sum_codebooks: bool) -> np.ndarray:
    """``ids: (num_codebooks, frames)`` speech-token ids -> ``(positions, width) int64`` ids per position (their
    embeddings are summed), ``-1`` where a short last patch has none. ``sum_codebooks``: one position per patch
    (width ``num_codebooks * patch``); else one per patch and codebook, patch-major (width ``patch``)."""
    ids = np.asarray(ids, dtype=np.int64)
    books, frames = ids.shape
    positions = patched_length(frames, patch)
    padded = np.full((books, positions * patch), PAD_ID, dtype=np.int64)
    padded[:, :frames] = ids
    grouped = padded.reshape(books, positions, patch).transpose(1, 0, 2)  # (positions, books, patch)
    return grouped.reshape(positions, books * patch) if sum_codebooks else grouped.reshape(positions * books, patch)


def patch_frames(frames: np.ndarray, patch: int) -> np.ndarray:
    """``frames: (frames, dim)`` -> ``(ceil(frames / patch), patch * dim)``: each row the ``patch`` consecutive
    frames concatenated in time order; a short last patch repeats its last frame. ``patch == 1``: unchanged."""
    frames = np.asarray(frames)
    if patch == 1:
        return frames
    count, dim = frames.shape
    positions = patched_length(count, patch)
    if count == 0:
        return np.zeros((0, patch * dim), dtype=frames.dtype)
    index = np.minimum(np.arange(positions * patch), count - 1)  # the short last patch repeats its last frame
    return frames[index].reshape(positions, patch * dim)


def positions_per_second(frame_rate_hz: float, rows: int, patch: int = 1) -> float:
    """LLM audio positions per second of audio: ``frame_rate_hz / patch`` per position stream, times ``rows``
    streams (interleaved codebooks; 1 for summed codebooks and features)."""
    return float(frame_rate_hz) * rows / patch
