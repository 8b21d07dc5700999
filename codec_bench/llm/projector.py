"""The continuous-input baseline, LLM side: feature frames -> a trained projector -> the LLM's input embeddings.

The paper compares codec-token LLMs with waveform- and spectrogram-based LLMs. Here the same LLM gets the same
prompt text, with the speech tokens replaced by the clip's feature frames (log-mel, or XCodec2's pre-quantization
latents; see ``codecs.logmel`` and ``codecs.xcodec2_latents``): the prompt holds one slot (``prompts.AUDIO_SLOT``), the
encoder turns it into one placeholder position per frame, and before the LLM runs, those positions' input embeddings
are replaced by ``projector(frames)``. Training (answer-only, shifted next-token loss), label scoring (``evaluate.PrefixScorer``
on embeddings) and generation are the codec-token pipeline's, so the row it gives is directly comparable.

Projector (LLaVA-1.5's two-layer MLP): each feature dimension standardised with the training split's mean and
std, then ``Linear(D, H) -> GELU -> Linear(H, H)`` with ``H`` the LLM's hidden size, one output per frame (no
frame stacking by default: log-mel and XCodec2 run at 50 frames/s, as XCodec2's tokens, so the LLM reads as many
positions as with tokens; ``patch`` k concatenates k frames into one ``k * D`` input, ``llm.patching``).
It lives on the LLM as ``model.audio_projector``: full fine-tuning trains it with everything, LoRA trains it whole
beside the adapters (peft ``modules_to_save``). It is saved as ``model/audio_projector.safetensors``
(safetensors, loaded back onto the fine-tuned model).

The same slot carries multi-codebook codes read one position per frame (``codebooks: sum``):
:class:`SummedCodesPromptEncoder` sums the frame's speech-token embeddings instead of projecting features.

Several GPUs: the frames are projected into the embeddings before the wrapped forward. DDP and DeepSpeed ZeRO-2
keep every parameter whole there, so the projection is the same (not run here: no multi-GPU machine); FSDP shards
them, and training stops with a one-line error saying so.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ..core.errors import CodecBenchError

PROJECTOR = "audio_projector"
PROJECTOR_FILE = "audio_projector.safetensors"


class AudioProjector(torch.nn.Module):
    """``(..., feature_dim)`` frames -> ``(..., hidden_size)`` input embeddings."""

    def __init__(self, feature_dim: int, hidden_size: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(feature_dim))
        self.register_buffer("std", torch.ones(feature_dim))
        self.net = torch.nn.Sequential(torch.nn.Linear(feature_dim, hidden_size), torch.nn.GELU(),
                                       torch.nn.Linear(hidden_size, hidden_size))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = (frames.to(self.mean.dtype) - self.mean) / self.std
        return self.net(x.to(self.net[0].weight.dtype))


def attach_projector(model, feature_dim: int, train_features: Iterable[np.ndarray] = (), seed: int = 0) -> AudioProjector:
    """A new projector on ``model`` (as ``model.audio_projector``), standardising with the statistics of
    ``train_features`` (each ``(feature_dim, frames)``, streamed: one clip in memory at a time); returns it."""
    torch.manual_seed(seed)
    hidden = model.get_input_embeddings().weight.shape[1]
    projector = AudioProjector(feature_dim, hidden)
    stats = frame_statistics(train_features)
    if stats is not None:
        projector.mean.copy_(torch.from_numpy(stats[0]))
        projector.std.copy_(torch.from_numpy(stats[1] + 1e-5))
    projector.to(model.get_input_embeddings().weight.device)
    setattr(model, PROJECTOR, projector)
    return projector


def frame_statistics(features: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-dimension mean and (population) std over all frames of ``features`` (each ``(dim, frames)``), in one
    streaming pass (Chan et al.'s pairwise update of count, mean and sum of squared deviations, float64); None
    when there are no frames."""
    count, mean, squares = 0, None, None
    for clip in features:
        x = np.asarray(clip, dtype=np.float64)
        n = x.shape[1]
        if n == 0:
            continue
        clip_mean = x.mean(1)
        clip_squares = ((x - clip_mean[:, None]) ** 2).sum(1)
        if mean is None:
            count, mean, squares = n, clip_mean, clip_squares
            continue
        delta = clip_mean - mean
        total = count + n
        mean = mean + delta * n / total
        squares = squares + clip_squares + delta ** 2 * count * n / total
        count = total
    return None if mean is None else (mean, np.sqrt(squares / count))


def projector_of(model) -> torch.nn.Module:
    """The projector the forward pass uses (through a peft wrapper: the trained copy)."""
    module = getattr(model, PROJECTOR, None)
    if module is None:
        raise CodecBenchError(
            "this model has no audio projector; continuous features need a run trained with a continuous front-end"
        )
    copies = getattr(module, "modules_to_save", None)
    return copies[module.active_adapters[0]] if copies is not None else module


def save_projector(model, folder: Path) -> None:
    projector = projector_of(model)
    Path(folder).mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in projector.state_dict().items()}, str(Path(folder) / PROJECTOR_FILE))


@contextlib.contextmanager
def without_projector(model) -> Iterator[None]:
    """Detach a plain (not peft-wrapped) projector while the LLM's own weights are saved, so the saved model
    loads as the plain LLM it is; a LoRA adapter keeps its copy."""
    module = model.__dict__.get("_modules", {}).get(PROJECTOR)
    if module is None or hasattr(module, "modules_to_save"):
        yield
        return
    delattr(model, PROJECTOR)
    try:
        yield
    finally:
        setattr(model, PROJECTOR, module)


def load_projector(model, folder: Path) -> bool:
    """Attach the projector saved in ``folder`` to ``model``; False when the folder holds none (a token run)."""
    path = Path(folder) / PROJECTOR_FILE
    if not path.is_file():
        return False
    state = load_file(str(path))
    projector = attach_projector(model, state["mean"].shape[0])
    projector.load_state_dict(state)
    projector.to(model.get_input_embeddings().weight.device)
    return True


def embed_with_audio(model, input_ids: torch.Tensor, audio_features: torch.Tensor, audio_positions: torch.Tensor) -> torch.Tensor:
    """Input embeddings ``(batch, time, hidden)`` with the audio positions replaced by projected frames.

    ``audio_features: (batch, frames, feature_dim)`` float (projected), or ``(batch, frames, ids)`` speech-token
    ids (their input embeddings summed, -1 skipped: ``SummedCodesPromptEncoder``), each row's frames first (padding
    after);
    ``audio_positions: (batch, time) bool``, as many True per row as that row has frames, in frame order.
    """
    embeds = model.get_input_embeddings()(input_ids)
    counts = audio_positions.sum(1)
    frames = torch.arange(audio_features.shape[1], device=counts.device)[None] < counts[:, None]
    if audio_features.is_floating_point():
        vectors = projector_of(model)(audio_features)
    else:  # speech-token ids (batch, frames, ids): their embeddings summed per frame; -1 (a short patch's) skipped
        present = audio_features >= 0
        rows = model.get_input_embeddings()(audio_features.clamp(min=0))
        vectors = (rows * present[..., None].to(rows.dtype)).sum(-2)
    projected = vectors[frames].to(embeds.dtype)
    rows, columns = audio_positions.nonzero(as_tuple=True)
    return embeds.index_put((rows, columns), projected)


