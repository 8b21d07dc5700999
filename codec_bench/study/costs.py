"""What a fine-tuned run costs, carried by each of its records (``formats.Record.costs``), so the report can set
accuracy against cost (``report.costs``): the codes' bitrate and tokens per second, the LLM audio positions per second
of audio and per prompt (after patching or acoustic BPE), training time per epoch and label-scoring time per clip; and
what the token stream uses of its codebooks on the corpus (``codecs.usage``: utilisation and entropy per codebook).

    >>> from codec_bench.codecs.embedded import EmbeddedCodec
    >>> codec = EmbeddedCodec()  # 50 frames/s, one codebook of 256 codes
    >>> stream_rate(codec, "interleave", 2), codec.bitrate_bps
    (25.0, 400.0)
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from ..codecs.base import ClipEncoder, TokenCodec
from ..codecs.cache import cache_folder_name
from ..codecs.usage import corpus_usage
from ..config import CodecConfig
from ..formats import TrainDone
from ..llm.encoder import PromptEncoder, clip_frames
from ..llm.patching import positions_per_second
from ..prompts import Example


def stream_rate(codec: ClipEncoder, codebooks: str = "interleave", patch: int = 1) -> float:
    """LLM audio positions per second of audio: the frame rate over the patch, times the codebooks when they are
    interleaved (summed codebooks and features: one stream)."""
    streams = codec.num_codebooks if isinstance(codec, TokenCodec) and codebooks == "interleave" else 1
    return positions_per_second(codec.frame_rate_hz, streams, patch)


def stream_usage(codec: ClipEncoder, codes: Mapping[str, np.ndarray], cache_root: str | Path, dataset: str,
                 max_seconds: float | None, clip_ids: Iterable[str]) -> dict:
    """What the codec's token stream is and uses, for a run's ``costs``: ``tokens_per_second`` (codes per second of
    audio, all codebooks) and, on the clips ``clip_ids`` (the training and evaluated clips), ``codebook_utilisation``
    and ``codebook_entropy_bits`` (one value per codebook, ``codecs.usage``) and ``usage_clips``; counted once per
    token cache and set of clips. Continuous front-ends have no tokens: ``{"tokens_per_second": None}``."""
    if not isinstance(codec, TokenCodec):
        return {"tokens_per_second": None}
    folder = Path(cache_root) / dataset / cache_folder_name(codec, max_seconds)
    usage = corpus_usage(folder, codes, clip_ids, codec.codebook_size)
    return {"tokens_per_second": float(codec.frame_rate_hz * codec.num_codebooks),
            "codebook_utilisation": usage["utilisation"], "codebook_entropy_bits": usage["entropy_bits"],
            "usage_clips": usage["clips"]}


def run_costs(codec: ClipEncoder, encoder: PromptEncoder, examples: Sequence[Example], reading: CodecConfig,
              trained: TrainDone, scoring_seconds: float | None, scored_clips: int, usage: dict | None = None) -> dict:
    """The ``costs`` of a run's records: ``examples`` are the evaluated prompts (their audio positions are counted
    without reading the audio, except after acoustic BPE), ``reading`` how the LLM read the codes (codebooks, patch,
    bpe), ``scoring_seconds`` the label scoring of ``scored_clips`` clips, ``usage`` the token stream's
    (:func:`stream_usage`). After BPE the positions per second are measured: the evaluated clips' positions over
    their seconds of audio."""
    positions = [encoder.audio_positions(e.id) for e in examples]
    rate = stream_rate(codec, reading.codebooks, reading.patch)
    if reading.bpe and positions:
        frames = sum(clip_frames(encoder.audio, e.id) for e in examples)
        rate = sum(positions) / (frames / codec.frame_rate_hz) if frames else rate
    costs = {"bitrate_bps": codec.bitrate_bps, "positions_per_second": rate, "patch": reading.patch,
             "mean_audio_positions": float(np.mean(positions)) if positions else None,
             "train_seconds_per_epoch": trained.seconds_per_epoch(),
             "scoring_seconds_per_clip": scoring_seconds / scored_clips if scoring_seconds is not None and scored_clips else None}
    return costs | ({"bpe": reading.bpe} if reading.bpe else {}) | (usage or {})
