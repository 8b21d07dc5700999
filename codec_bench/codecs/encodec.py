"""``encodec``: Meta's EnCodec (``EncodecModel``, default ``facebook/encodec_24khz``), a convolutional + LSTM codec.

24 kHz mono, 75 frames/s, residual VQ of 1,024-code codebooks. ``bandwidth`` (kbps, one of
``config.target_bandwidths``; default the smallest, 1.5 -> 2 codebooks; 3 -> 4, 6 -> 8, 12 -> 16, 24 -> 32)
picks how many codebooks are used. Only mono, unchunked checkpoints (``chunk_length_s=None``, e.g. the 24 kHz
one) are supported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.errors import CodecBenchError
from .rvq import ByBandwidth

if TYPE_CHECKING:
    import torch


class EncodecCodec(ByBandwidth):
    """EnCodec tokens; options as :class:`rvq.ByBandwidth`."""

    name = "encodec"
    model_class, default_model_id, title = "EncodecModel", "facebook/encodec_24khz", "EnCodec"

    def __init__(self, model_id: str | None = None, bandwidth: float | None = None, device: str | None = None,
                 dtype: str = "float32", max_seconds: float = 30.0, offline: bool | None = None,
                 model: torch.nn.Module | None = None):
        super().__init__(model_id, bandwidth, device, dtype, max_seconds, offline, model)
        if self.model.config.chunk_length_s is not None:
            raise CodecBenchError(f"{self.model_id}: chunked EnCodec checkpoints (chunk_length_s set, e.g. the 48 kHz one) "
                                  "are not supported; use facebook/encodec_24khz")
        if self.model.config.normalize:  # its decoder needs each clip's scale, which the cache does not keep
            self.can_decode = False
            self.decode_note = "a normalising checkpoint: the cache keeps no per-clip scales to decode with"

    def _codes(self, batch: torch.Tensor) -> torch.Tensor:
        return self.model.encode(batch, bandwidth=self.bandwidth, return_dict=True).audio_codes[0]  # (1 chunk, batch, q, frames)

    def _waves(self, codes: torch.Tensor) -> torch.Tensor:
        return self.model.decode(codes[None], [None]).audio_values  # one chunk, no scales (an unnormalised checkpoint)
