"""``dac``: the Descript Audio Codec (``DacModel``, default ``descript/dac_16khz``).

16 kHz, hop 320 (50 frames/s), 12 codebooks of 1,024 codes. ``num_quantizers`` (default: all) keeps the first
codebooks. Each clip is zero-padded to a multiple of the hop length first (as ``DacFeatureExtractor`` does), so it
gets ``ceil(samples / hop)`` frames.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .rvq import ByQuantizers

if TYPE_CHECKING:
    import torch


class DacCodec(ByQuantizers):
    """DAC tokens; options as :class:`rvq.ByQuantizers`."""

    name = "dac"
    model_class, default_model_id, title = "DacModel", "descript/dac_16khz", "DAC"
    hop_padded = True

    def _quantizers(self, config) -> tuple[int, int, int]:
        return int(config.n_codebooks), int(config.n_codebooks), 1

    def _hop_and_frame_rate(self, config) -> tuple[int, float]:
        return int(config.hop_length), self.sample_rate_hz / int(config.hop_length)

    def _codes(self, batch: torch.Tensor) -> torch.Tensor:
        return self.model.encode(batch, n_quantizers=self.num_quantizers, return_dict=True).audio_codes

    def _waves(self, codes: torch.Tensor) -> torch.Tensor:
        return self.model.decode(audio_codes=codes).audio_values
