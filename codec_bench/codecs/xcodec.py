"""``xcodec``: HKUST's X-Codec (``XcodecModel``, default ``hf-audio/xcodec-hubert-librispeech``; also
``hf-audio/xcodec-wavlm-mls``, ``-wavlm-more-data``, ``-hubert-general``, ``-hubert-general-balanced``).

A semantic + acoustic codec: a DAC acoustic encoder's output and a frozen HuBERT (or WavLM) model's features,
concatenated and quantized together by one residual VQ. 16 kHz, hop 320 (50 frames/s), 8 codebooks of 1,024 codes
(10 bits x 50 frames/s = 0.5 kbps each). ``bandwidth`` (kbps, one of ``config.target_bandwidths``; default the
smallest, 0.5 -> 1 codebook; 1 -> 2, 1.5 -> 3, 2 -> 4, 4 -> 8) picks how many codebooks are used. Each clip is
zero-padded to a multiple of the hop length first (as its ``DacFeatureExtractor`` does; ``XcodecModel.encode``
itself pads the semantic model's input by half a hop on each side), so it gets ``ceil(samples / hop)`` frames.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .rvq import ByBandwidth

if TYPE_CHECKING:
    import torch


class XcodecCodec(ByBandwidth):
    """X-Codec tokens; options as :class:`rvq.ByBandwidth`."""

    name = "xcodec"
    model_class, default_model_id, title = "XcodecModel", "hf-audio/xcodec-hubert-librispeech", "X-Codec"
    hop_padded = True

    @staticmethod
    def _sample_rate(config) -> int:
        return int(config.sample_rate)

    def _codes(self, batch: torch.Tensor) -> torch.Tensor:
        return self.model.encode(batch, bandwidth=self.bandwidth, return_dict=True).audio_codes

    def identity(self) -> dict:
        # its HuBERT/WavLM runs attention: sdpa vs eager can flip near-tie codes
        return super().identity() | {"attn_implementation": self.model.semantic_model.config._attn_implementation}
