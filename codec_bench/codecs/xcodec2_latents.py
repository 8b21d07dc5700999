"""``xcodec2-latents``: XCodec2's encoder output just before its FSQ quantizer, as a continuous front-end.

What the ``xcodec2`` tokens are made from, minus the quantization (``fc_encoder``'s output; 2,048 dims for the
released model) at 50 frames/s, read by the LLM through a trained projector (``llm.projector``): tokens vs
latents isolates what quantizing costs. Same weights, preprocessing, exact batching and ``long_clips`` policy as
the ``xcodec2`` codec (:class:`xcodec2.Xcodec2Base`). A float32 frame takes 8 KB in the cache (~1.5 GB per hour
of audio); ``storage: float16`` halves that.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..core.errors import CodecBenchError
from .base import FeatureFrontEnd
from .xcodec2 import Xcodec2Base

if TYPE_CHECKING:
    import torch

STORAGE = ("float32", "float16")


class Xcodec2Latents(Xcodec2Base, FeatureFrontEnd):
    """XCodec2's pre-quantization latents; options as :class:`xcodec2.Xcodec2Base`, plus ``storage``:
    ``"float32"`` (default) or ``"float16"`` (half the cache and memory; values rounded to 11 significant bits)."""

    name = "xcodec2-latents"

    def __init__(self, model_id: str = "hf-audio/xcodec2", device: str | None = None, dtype: str = "float32",
                 max_seconds: float = 30.0, long_clips: str = "truncate", offline: bool | None = None,
                 model: torch.nn.Module | None = None, storage: str = "float32"):
        if storage not in STORAGE:
            raise CodecBenchError(f"xcodec2-latents storage {storage!r} is not one of {', '.join(STORAGE)}")
        self.storage_dtype = storage
        super().__init__(model_id, device, dtype, max_seconds, long_clips, offline, model)
        self.feature_dim = int(self.model.fc_encoder.out_features)

    def _model_outputs(self, inputs: dict[str, torch.Tensor]) -> np.ndarray:
        """``(batch, dim, frames) float32``: the quantizer's input, caught on its way out of ``fc_encoder``."""
        import torch

        captured: list[torch.Tensor] = []
        hook = self.model.fc_encoder.register_forward_hook(lambda module, args, output: captured.append(output))
        try:
            self.model.encode(**inputs)
        finally:
            hook.remove()
        return captured[0].transpose(1, 2).to("cpu", torch.float32).numpy()

    def identity(self) -> dict:
        return super().identity() | {"codec": "xcodec2-latents", "latents": "pre_quantization", "storage": self.storage_dtype}
