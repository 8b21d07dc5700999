"""What every pretrained codec shares: loading weights by hub id or folder, one-line option checks, the identity of
a model config, encoding in exact fp32 (TF32 off on CUDA), TF32 or bf16 autocast, and decoding codes back to audio
(:func:`decode_codes`)."""

from __future__ import annotations

import contextlib
import hashlib
import json
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

import numpy as np

from ..core.errors import CodecBenchError
from ..loading import load_pretrained

if TYPE_CHECKING:
    import torch

CONFIG_KEYS_IGNORED = {"transformers_version", "_name_or_path", "architectures", "dtype", "torch_dtype",
                       "_attn_implementation_autoset", "output_attentions", "output_hidden_states"}


def load_model(class_name: str, model_id: str, title: str, folder_hint: str, offline: bool | None = None) -> torch.nn.Module:
    """``transformers.<class_name>.from_pretrained`` (hub id or local folder, safetensors, no remote code) with a
    one-line error naming the id and how to pass a local copy."""
    import transformers

    return load_pretrained(getattr(transformers, class_name), model_id, title, folder_hint, offline)


def device_of(device: str | None) -> torch.device:
    """``device``, else CUDA when there is one, else the CPU."""
    import torch

    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def check_precision_and_length(name: str, dtype: str, dtypes: Sequence[str], max_seconds: float) -> None:
    """One-line errors for a pretrained codec's ``dtype`` (one of ``dtypes``) and ``max_seconds`` (positive)."""
    if dtype not in dtypes:
        raise CodecBenchError(f"{name} dtype {dtype!r} is not one of {', '.join(dtypes)}")
    if not max_seconds > 0:
        raise CodecBenchError(f"{name} max_seconds must be positive, got {max_seconds}")


def config_sha(config) -> str:
    """16 hex digits of the model config's hash, without bookkeeping keys (dtype, paths, versions), also inside
    sub-model configs (``*_model_config``), so a model in memory and the same model loaded from disk agree."""
    values = {k: v for k, v in config.to_dict().items() if k not in CONFIG_KEYS_IGNORED}
    for key in [k for k, v in values.items() if k.endswith("_model_config") and isinstance(v, dict)]:
        values[key] = {k: v for k, v in values[key].items() if k not in CONFIG_KEYS_IGNORED}
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:16]


@contextlib.contextmanager
def precision(device: torch.device, dtype: str) -> Iterator[None]:
    """For the duration of one encode: ``"float32"`` exact (TF32 off for CUDA matmuls and cuDNN convolutions),
    ``"tf32"`` (on; computes like fp32 on a CPU) or ``"bfloat16"`` (autocast); the TF32 flags are restored after."""
    import torch

    if device.type != "cuda":
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bfloat16"):
            yield
        return
    saved = _tf32_flags()
    _set_tf32_flags(dtype == "tf32")
    try:
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=dtype == "bfloat16"):
            yield
    finally:
        _set_tf32_flags(*saved)


def decode_codes(decoder: Callable[[torch.Tensor], torch.Tensor], codes: np.ndarray, device: torch.device, dtype: str,
                 name: str) -> np.ndarray:
    """``codes: (batch, codebooks, frames) int64`` -> ``decoder(codes on the device)``, in the codec's precision,
    as ``(batch, samples) float32`` on the CPU; running out of GPU memory is one line."""
    import torch

    batch = torch.from_numpy(np.ascontiguousarray(codes)).to(device)
    try:
        with torch.inference_mode(), precision(device, dtype):
            waves = decoder(batch)
    except torch.OutOfMemoryError as err:
        raise out_of_memory(name, len(codes), 0.0, "decoding") from err
    return waves.reshape(len(codes), -1).to("cpu", torch.float32).numpy()


def out_of_memory(name: str, clips: int, seconds: float, doing: str = "encoding") -> CodecBenchError:
    """The one-line error for a batch that did not fit on the GPU (the cached shards are kept)."""
    import torch

    torch.cuda.empty_cache()
    length = f" of {seconds:.1f} s" if seconds else ""
    return CodecBenchError(f"out of GPU memory {doing} {clips} clips{length} with {name}; pass a smaller "
                           f"--codec-batch-size (for example {max(1, clips // 2)})")


def _tf32_flags() -> tuple:
    """TF32 state of CUDA matmuls and cuDNN convolutions (the ``fp32_precision`` API of torch >= 2.9, else the old flags)."""
    import torch

    if hasattr(torch.backends.cudnn, "conv"):
        return torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision
    return torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32


def _set_tf32_flags(matmul: bool | str, conv: bool | str | None = None) -> None:
    import torch

    conv = matmul if conv is None else conv
    if hasattr(torch.backends.cudnn, "conv"):
        as_name = lambda flag: flag if isinstance(flag, str) else ("tf32" if flag else "ieee")  # noqa: E731
        torch.backends.cuda.matmul.fp32_precision = as_name(matmul)
        torch.backends.cudnn.conv.fp32_precision = as_name(conv)
    else:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = bool(matmul), bool(conv)
