"""What a fine-tuned run costs, carried by each of its records (``formats.Record.costs``), so the report can set
accuracy against cost (``report.costs``): the codes' bitrate, the LLM audio positions per second of audio and per
prompt (after patching or acoustic BPE), training time per epoch and label-scoring time per clip.

    >>> from codec_bench.codecs.embedded import EmbeddedCodec
    >>> codec = EmbeddedCodec()  # 50 frames/s, one codebook of 256 codes
    >>> stream_rate(codec, "interleave", 2), codec.bitrate_bps
    (25.0, 400.0)
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..codecs.base import ClipEncoder, TokenCodec
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


def run_costs(codec: ClipEncoder, encoder: PromptEncoder, examples: Sequence[Example], reading: CodecConfig,
              trained: TrainDone, scoring_seconds: float | None, scored_clips: int) -> dict:
    """The ``costs`` of a run's records: ``examples`` are the evaluated prompts (their audio positions are counted
    without reading the audio, except after acoustic BPE), ``reading`` how the LLM read the codes (codebooks, patch,
    bpe), ``scoring_seconds`` the label scoring of ``scored_clips`` clips. After BPE the positions per second are
    measured: the evaluated clips' positions over their seconds of audio."""
    positions = [encoder.audio_positions(e.id) for e in examples]
    rate = stream_rate(codec, reading.codebooks, reading.patch)
    if reading.bpe and positions:
        frames = sum(clip_frames(encoder.audio, e.id) for e in examples)
        rate = sum(positions) / (frames / codec.frame_rate_hz) if frames else rate
    costs = {"bitrate_bps": codec.bitrate_bps, "positions_per_second": rate, "patch": reading.patch,
             "mean_audio_positions": float(np.mean(positions)) if positions else None,
             "train_seconds_per_epoch": trained.seconds_per_epoch(),
             "scoring_seconds_per_clip": scoring_seconds / scored_clips if scoring_seconds is not None and scored_clips else None}
    return costs | ({"bpe": reading.bpe} if reading.bpe else {})
