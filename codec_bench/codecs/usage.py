"""What a token stream uses of its codebooks, measured on a corpus: per codebook, the share of its entries that occur
(utilisation) and the entropy of its codes (bits per token; at most log2 of the codebook size, reached when every
entry is equally frequent). A codec whose codebooks are half unused, or whose codes carry 4 bits of 16 possible,
spends LLM vocabulary and positions on nothing.

    >>> usage = codebook_usage([np.array([[0, 0, 1, 1], [2, 2, 2, 2]])], codebook_size=4)
    >>> usage["utilisation"], usage["entropy_bits"]
    ([0.5, 0.25], [1.0, 0.0])

:func:`corpus_usage` counts it once per token cache and set of clips, read from the cache's Parquet shards, and keeps
the answer beside the shards (``usage-<digest>.json``): every fold, model and recipe of a (dataset, codec) reads it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from ..core import io
from ..core.parallel import build_lock

USAGE_FORMAT = 1


def codebook_counts(codes: Iterable[np.ndarray], codebook_size: int) -> np.ndarray:
    """``codes``: one ``(num_codebooks, frames)`` int array per clip -> ``(num_codebooks, codebook_size)`` int64 counts
    of every entry of every codebook (zero rows when there are no clips)."""
    counts: np.ndarray | None = None
    for clip in codes:
        clip = np.asarray(clip, dtype=np.int64)
        if counts is None:
            counts = np.zeros((clip.shape[0], codebook_size), dtype=np.int64)
        for book, row in enumerate(clip):
            counts[book] += np.bincount(row, minlength=codebook_size)[:codebook_size]
    return counts if counts is not None else np.zeros((0, codebook_size), dtype=np.int64)


def codebook_usage(codes: Iterable[np.ndarray], codebook_size: int) -> dict:
    """``{"utilisation": [share of entries used, per codebook], "entropy_bits": [bits per token, per codebook],
    "tokens": codes counted over all codebooks, "codebook_size"}`` of ``codes`` (one ``(num_codebooks, frames)``
    array per clip); the entropy is that of the empirical distribution of a codebook's codes, ``-sum p log2 p``."""
    counts = codebook_counts(codes, codebook_size)
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.where(totals > 0, counts / np.maximum(totals, 1), 0.0)
        entropy = -np.sum(np.where(shares > 0, shares * np.log2(shares), 0.0), axis=1)
    return {"utilisation": [float(u) for u in (counts > 0).mean(axis=1)], "entropy_bits": [float(h) + 0.0 for h in entropy],
            "tokens": int(counts.sum()), "codebook_size": int(codebook_size)}


def corpus_usage(cache_folder: str | Path, codes: Mapping[str, np.ndarray], ids: Iterable[str], codebook_size: int) -> dict:
    """:func:`codebook_usage` of the clips ``ids`` (those in ``codes``, the token cache read lazily), with ``"clips"``:
    counted once per cache folder and set of clips, kept in ``cache_folder/usage-<digest of the ids>.json`` (written
    atomically under a lock: parallel cells of one codec wait for the first and read its answer)."""
    ids = sorted({i for i in ids if i in codes})
    digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]
    path = Path(cache_folder) / f"usage-{digest}.json"
    with build_lock(path, "codebook usage"):
        if path.is_file():
            try:
                found = io.read_json(path)
                if found.get("format") == USAGE_FORMAT and found.get("codebook_size") == codebook_size:
                    return {k: v for k, v in found.items() if k != "format"}
            except ValueError:  # half-written by a killed process: counted again below
                pass
        usage = codebook_usage((codes[i] for i in ids), codebook_size) | {"clips": len(ids)}
        io.write_json(path, {"format": USAGE_FORMAT} | usage)
    return usage
