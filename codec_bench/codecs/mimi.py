"""``mimi``: Kyutai's streaming codec, Moshi's tokenizer (``MimiModel``, default ``kyutai/mimi``).

24 kHz, 12.5 frames/s, 32 codebooks of 2,048 codes, the first one distilled from WavLM (semantic).
``num_quantizers`` (default 8, as Moshi uses; at least the semantic ones plus one) keeps the first codebooks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .rvq import ByQuantizers

if TYPE_CHECKING:
    import torch


class MimiCodec(ByQuantizers):
    """Mimi tokens; options as :class:`rvq.ByQuantizers`."""

    name = "mimi"
    model_class, default_model_id, title = "MimiModel", "kyutai/mimi", "Mimi"

    def _quantizers(self, config) -> tuple[int, int, int]:
        total = int(config.num_quantizers)
        return total, min(8, total), int(getattr(config, "num_semantic_quantizers", 0)) + 1

    def _hop_and_frame_rate(self, config) -> tuple[int, float]:
        return int(config.frame_size), float(config.frame_rate)

    def _codes(self, batch: torch.Tensor) -> torch.Tensor:
        return self.model.encode(batch, num_quantizers=self.num_quantizers).audio_codes
