"""Residual-VQ codecs from transformers (EnCodec, DAC, Mimi, X-Codec): what the four share.

Each family is a file of its own (``encodec``, ``dac``, ``mimi``, ``xcodec``) that names its transformers class
and default checkpoint and says how its codebooks are chosen: by ``bandwidth`` (kbps; :class:`ByBandwidth`) or by
``num_quantizers`` (:class:`ByQuantizers`). Loading (hub id or folder, native classes, no remote code), precision
(exact fp32 with TF32 off on CUDA, or bf16 autocast, which changes codes), exact batching and identity are here.

Flattening: these codecs give several codebooks per frame, and the LLM reads one token stream. By default the
codes are interleaved frame by frame (frame 0 codebook 0, frame 0 codebook 1, ..., frame 1 codebook 0, ...),
codebook ``k`` offset by ``k * codebook_size`` (``prompts.speech_string``), so the LLM vocabulary needs
``num_codebooks * codebook_size`` speech tokens and a clip costs ``num_codebooks * frames`` tokens. With
``codebooks: sum`` (``--codebooks sum``) the same tokens' input embeddings are summed into one position per frame,
as MusicGen and Moshi feed RVQ codes (``llm.projector.SummedCodesPromptEncoder``).

Batches are exact: the convolutions' padding (and Mimi's attention; X-Codec's HuBERT/WavLM, whose first conv's
group norm spans the whole clip) let zero padding change the frames of a shorter clip, so
:meth:`ResidualVQCodec.encode_preprocessed` runs clips of equal (preprocessed) length together; a batch of mixed
lengths is one model call per length. Feed batches sorted by length for speed.
"""

from __future__ import annotations

from abc import abstractmethod
from collections import defaultdict
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..core.errors import CodecBenchError
from .base import TokenCodec
from .pretrained import check_precision_and_length, config_sha, decode_codes, device_of, load_model, out_of_memory, precision

if TYPE_CHECKING:
    import torch

DTYPES = ("float32", "bfloat16")


class ResidualVQCodec(TokenCodec):
    """Tokens of a transformers residual-VQ codec: ``num_codebooks`` codebooks of ``codebook_size`` codes per frame.

    ``model_id``: hub id or local folder (default: the family's). ``dtype``: ``"float32"`` (default; TF32 off during
    encode on CUDA) or ``"bfloat16"`` (autocast; changes codes). ``max_seconds``: clips are cut to this length.
    ``model``: an already-built model (tests); then ``model_id`` only names it in ``identity()``.
    """

    version = 1  # bump when preprocessing or batching changes the codes
    model_class: str  # the transformers class
    default_model_id: str
    title: str  # the codec's name in messages
    hop_padded = False  # clips zero-padded to a multiple of the hop length first (DAC's and X-Codec's extractor)
    can_decode = True  # the transformers model's ``decode``

    def __init__(self, model_id: str | None = None, device: str | None = None, dtype: str = "float32",
                 max_seconds: float = 30.0, offline: bool | None = None, model: torch.nn.Module | None = None):
        check_precision_and_length(self.name, dtype, DTYPES, max_seconds)
        self.model_id = model_id or self.default_model_id
        self.device = device_of(device)
        self.dtype = dtype
        self.max_seconds = float(max_seconds)
        built = model if model is not None else load_model(self.model_class, self.model_id, self.title, self.name, offline)
        self.model = built.to(self.device).eval()
        if int(getattr(self.model.config, "audio_channels", 1)) != 1:
            raise CodecBenchError(f"{self.model_id}: only mono {self.name} checkpoints are supported")
        self.sample_rate_hz = self._sample_rate(self.model.config)
        self.codebook_size = int(self.model.config.codebook_size)
        self.max_samples = int(round(self.max_seconds * self.sample_rate_hz))
        self.bandwidth: float | None = None
        self.num_quantizers: int | None = None

    @staticmethod
    def _sample_rate(config) -> int:
        return int(config.sampling_rate)

    def __getstate__(self) -> dict:
        """A pickled copy (a DataLoader worker started by spawn) only preprocesses, so the model stays behind."""
        return {**self.__dict__, "model": None}

    def preprocess(self, wave: np.ndarray) -> np.ndarray:
        """``(samples,)`` float32 -> the model input: cut to ``max_seconds``; zero-padded to a multiple of the hop
        length where the family's feature extractor does that."""
        wave = np.asarray(wave, dtype=np.float32).reshape(-1)[: self.max_samples]
        if wave.size == 0:
            raise CodecBenchError(f"{self.name} cannot encode an empty clip")
        if self.hop_padded and wave.size % self.hop_length:
            wave = np.pad(wave, (0, self.hop_length - wave.size % self.hop_length))
        return np.ascontiguousarray(wave)

    def encode_preprocessed(self, items: Sequence[np.ndarray]) -> list[np.ndarray]:
        """``preprocess`` outputs -> one ``codes: (num_codebooks, frames) int64`` per clip; clips of equal length run
        as one model call, so every clip's codes equal its codes alone."""
        by_length: dict[int, list[int]] = defaultdict(list)
        for index, wave in enumerate(items):
            by_length[int(np.asarray(wave).size)].append(index)
        out: list[np.ndarray | None] = [None] * len(items)
        for length in sorted(by_length):
            indices = by_length[length]
            for index, codes in zip(indices, self._encode_batch([items[i] for i in indices])):
                out[index] = codes
        return out  # type: ignore[return-value]

    def _encode_batch(self, waves: list[np.ndarray]) -> list[np.ndarray]:
        import torch

        batch = torch.from_numpy(np.stack([np.asarray(w, dtype=np.float32) for w in waves]))[:, None, :]
        batch = batch.to(self.device, non_blocking=True)
        try:
            with torch.inference_mode(), precision(self.device, self.dtype):
                codes = self._codes(batch)
        except torch.OutOfMemoryError as err:
            raise out_of_memory(self.name, len(waves), waves[0].size / self.sample_rate_hz) from err
        codes = codes.to("cpu", torch.int64).numpy()
        if codes.shape[1] != self.num_codebooks:  # pragma: no cover - guards against a transformers API change
            raise CodecBenchError(f"{self.name} returned {codes.shape[1]} codebooks, expected {self.num_codebooks}")
        return [np.ascontiguousarray(codes[k]) for k in range(codes.shape[0])]

    @abstractmethod
    def _codes(self, batch: torch.Tensor) -> torch.Tensor:
        """``batch: (batch, 1, samples)`` -> ``(batch, num_codebooks, frames)`` codes."""

    def _decode_batch(self, codes: np.ndarray) -> np.ndarray:
        return decode_codes(self._waves, codes, self.device, self.dtype, self.name)

    def _waves(self, codes: torch.Tensor) -> torch.Tensor:
        """``codes: (batch, num_codebooks, frames)`` -> the decoded audio ``(batch, [1,] samples)`` (Mimi, X-Codec)."""
        return self.model.decode(codes).audio_values

    def identity(self) -> dict:
        return {"codec": self.name, "version": self.version, "model": self.model_id, "config_sha": config_sha(self.model.config),
                "bandwidth": self.bandwidth, "num_quantizers": self.num_quantizers, "num_codebooks": self.num_codebooks,
                "dtype": self.dtype, "max_seconds": self.max_seconds, "sample_rate_hz": self.sample_rate_hz}


class ByBandwidth(ResidualVQCodec):
    """A family whose codebooks are picked by ``bandwidth`` (kbps, one of ``config.target_bandwidths``; default the
    smallest)."""

    def __init__(self, model_id: str | None = None, bandwidth: float | None = None, device: str | None = None,
                 dtype: str = "float32", max_seconds: float = 30.0, offline: bool | None = None,
                 model: torch.nn.Module | None = None):
        super().__init__(model_id, device, dtype, max_seconds, offline, model)
        config = self.model.config
        bandwidths = [float(b) for b in config.target_bandwidths]
        self.bandwidth = bandwidths[0] if bandwidth is None else float(bandwidth)
        if self.bandwidth not in bandwidths:
            raise CodecBenchError(f"{self.name} bandwidth {bandwidth} is not one of {bandwidths} (kbps)")
        self.num_codebooks = int(self.model.quantizer.get_num_quantizers_for_bandwidth(self.bandwidth))
        self.hop_length = int(config.hop_length)
        self.frame_rate_hz = self.sample_rate_hz / self.hop_length


class ByQuantizers(ResidualVQCodec):
    """A family whose first ``num_quantizers`` codebooks are kept (at least ``lowest``, at most all of them)."""

    def __init__(self, model_id: str | None = None, num_quantizers: int | None = None, device: str | None = None,
                 dtype: str = "float32", max_seconds: float = 30.0, offline: bool | None = None,
                 model: torch.nn.Module | None = None):
        super().__init__(model_id, device, dtype, max_seconds, offline, model)
        total, default, lowest = self._quantizers(self.model.config)
        self.num_quantizers = default if num_quantizers is None else int(num_quantizers)
        if not lowest <= self.num_quantizers <= total:
            raise CodecBenchError(f"{self.name} num_quantizers must be in {lowest}..{total}, got {num_quantizers}")
        self.num_codebooks = self.num_quantizers
        self.hop_length, self.frame_rate_hz = self._hop_and_frame_rate(self.model.config)

    @abstractmethod
    def _quantizers(self, config) -> tuple[int, int, int]:
        """``(all codebooks, default, fewest allowed)``."""

    @abstractmethod
    def _hop_and_frame_rate(self, config) -> tuple[int, float]:
        """``(hop length in samples, frames per second)``."""
