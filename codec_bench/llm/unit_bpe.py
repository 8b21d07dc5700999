"""Acoustic BPE (``--bpe N``): frequent runs of codec units merged into N new tokens, learned on a fold's training
codes, so a clip takes fewer LLM positions (Shen et al. 2024, "Acoustic BPE for speech generation"; the codec-bpe
package). Measured, not assumed: docs/performance.md ("Acoustic BPE") gives the reduction on real audio.

A clip's units are its codes interleaved frame by frame, codebook k offset by k * ``codebook_size`` (the same order
as the interleaved speech tokens ``<|s_N|>``): unit u is spelled by the token ``<|s_u|>``. Learning runs the Hugging
Face ``tokenizers`` BPE trainer (Rust; a second on thousands of clips) over each clip as one word, a unit written as
the private-use character ``chr(0xF0000 + u)``; every merged unit then gets the token ``<|bpe_k|>`` (k = 0, 1, ...
in the order it was learned) whose embedding row starts as the mean of the rows it spells (``vocab.add_unit_tokens``).
Ids past the units, ``units + k``, are the merged units; :meth:`UnitBPE.encode` returns them, so ``units`` ids stay
the speech tokens' ones.

    >>> bpe = UnitBPE(4, learn_merges([np.array([1, 2, 1, 2, 3])] * 3, units=4, merges=1))
    >>> bpe.encode(np.array([1, 2, 3, 1, 2])).tolist(), bpe.spelling(4)
    ([4, 3, 4], (1, 2))
"""

from __future__ import annotations

import hashlib
import json
from typing import Iterable, Sequence

import numpy as np

from ..core.errors import CodecBenchError

UNIT_BASE = 0xF0000  # unit u is the character chr(UNIT_BASE + u): Unicode's last two private-use planes
MAX_UNITS = 0x110000 - UNIT_BASE  # 131,072: XCodec2's 65,536 fit, as do 8 interleaved codebooks of 16,384
MIN_PAIR_COUNT = 2  # a pair seen once in training is not a merge


def unit_token(k: int) -> str:
    """The token of the k-th merged unit."""
    return f"<|bpe_{k}|>"


def interleaved_units(codes: np.ndarray, codebook_size: int) -> np.ndarray:
    """``codes: (num_codebooks, frames)`` -> ``(frames * num_codebooks,)`` int64 units, frame-major, codebook k
    offset by ``k * codebook_size``: the order of the interleaved speech tokens."""
    codes = np.asarray(codes, dtype=np.int64)
    offsets = np.arange(codes.shape[0], dtype=np.int64)[:, None] * codebook_size
    return (codes + offsets).T.reshape(-1)


def _text(units: np.ndarray) -> str:
    return "".join(map(chr, (np.asarray(units, dtype=np.int64) + UNIT_BASE).tolist()))


def check_units(units: int) -> None:
    if not 0 < units <= MAX_UNITS:
        raise CodecBenchError(f"--bpe works on at most {MAX_UNITS:,} codec units (codebooks x codebook size); this codec "
                              f"has {units:,}: read it with --bpe 0")


def learn_merges(sequences: Iterable[np.ndarray], units: int, merges: int) -> list[tuple[int, int, int]]:
    """BPE over unit ``sequences`` (one per clip, values below ``units``): at most ``merges`` merged units, each made
    of a pair seen at least ``MIN_PAIR_COUNT`` times. Returns the merges in the order learned, as ``(left, right,
    merged)`` ids; ids below ``units`` are units, the k-th new merged unit is ``units + k`` (two merges that spell the
    same units give one merged unit)."""
    from tokenizers import Tokenizer, models, trainers

    check_units(units)
    if merges <= 0:
        return []
    alphabet = [chr(UNIT_BASE + u) for u in range(units)]  # every unit, seen or not: the clips stream through once
    tokenizer = Tokenizer(models.BPE())
    trainer = trainers.BpeTrainer(vocab_size=units + merges, min_frequency=MIN_PAIR_COUNT, show_progress=False,
                                  initial_alphabet=alphabet, limit_alphabet=units)
    tokenizer.train_from_iterator((_text(s) for s in sequences if len(s)), trainer)
    ids = {chr(UNIT_BASE + u): u for u in range(units)}
    learned = []
    for left, right in json.loads(tokenizer.to_str())["model"]["merges"]:
        merged = ids.setdefault(left + right, len(ids))
        learned.append((ids[left], ids[right], merged))
    return learned


class UnitBPE:
    """Applies learned merges: ``encode(units) -> ids`` (units and merged units ``units + k``) through the
    ``tokenizers`` BPE model, and ``spelling(id) -> units``."""

    def __init__(self, units: int, merges: Sequence[Sequence[int]]):
        from tokenizers import Tokenizer, models

        check_units(units)
        self.units = units
        self.merges = [tuple(int(i) for i in m) for m in merges]
        strings = [chr(UNIT_BASE + u) for u in range(units)]
        for left, right, merged in self.merges:
            if merged == len(strings):
                strings.append(strings[left] + strings[right])
            elif merged > len(strings) or strings[merged] != strings[left] + strings[right]:
                raise CodecBenchError(f"unit merge {(left, right, merged)} does not follow the merges before it")
        self._strings = strings
        vocab = {s: i for i, s in enumerate(strings)}
        model = models.BPE(vocab=vocab, merges=[(strings[a], strings[b]) for a, b, _ in self.merges], cache_capacity=0)
        self._tokenizer = Tokenizer(model)

    @property
    def merged_units(self) -> int:
        """How many merged units (new tokens) there are."""
        return len(self._strings) - self.units

    def spelling(self, unit_id: int) -> tuple[int, ...]:
        """The units an id stands for (a unit spells itself)."""
        return tuple(ord(c) - UNIT_BASE for c in self._strings[unit_id])

    def encode(self, units: np.ndarray) -> np.ndarray:
        """``(n,)`` units -> ``(m,) int64`` ids, m <= n, merges applied in the order learned."""
        if len(units) == 0:
            return np.zeros(0, dtype=np.int64)
        return np.asarray(self._tokenizer.encode(_text(units)).ids, dtype=np.int64)


def training_digest(clip_ids: Iterable[str]) -> str:
    """Which training clips merges were learned on: a SHA-256 over their sorted ids."""
    return hashlib.sha256("\n".join(sorted(clip_ids)).encode()).hexdigest()
