"""Residual-VQ codecs from transformers: EnCodec, DAC, Mimi and X-Codec, all native transformers classes (no remote
code).

* **EnCodec** (``EncodecModel``, default ``facebook/encodec_24khz``): Meta's convolutional + LSTM codec, 24 kHz
  mono, 75 frames/s, residual VQ of 1,024-code codebooks. ``bandwidth`` (kbps, one of ``config.target_bandwidths``;
  default the smallest, 1.5 -> 2 codebooks; 3 -> 4, 6 -> 8, 12 -> 16, 24 -> 32) picks how many codebooks are used.
  Only mono, unchunked checkpoints (``chunk_length_s=None``, e.g. the 24 kHz one) are supported.
* **DAC** (``DacModel``, default ``descript/dac_16khz``): Descript Audio Codec, 16 kHz, hop 320 (50 frames/s),
  12 codebooks of 1,024 codes. ``num_quantizers`` (default: all) keeps the first codebooks. Each clip is zero-padded
  to a multiple of the hop length first (as ``DacFeatureExtractor`` does), so it gets ``ceil(samples / hop)`` frames.
* **Mimi** (``MimiModel``, default ``kyutai/mimi``): Kyutai's streaming codec (Moshi's tokenizer), 24 kHz,
  12.5 frames/s, 32 codebooks of 2,048 codes, the first one distilled from WavLM (semantic). ``num_quantizers``
  (default 8, as Moshi uses) keeps the first codebooks.
* **X-Codec** (``XcodecModel``, default ``hf-audio/xcodec-hubert-librispeech``; also ``hf-audio/xcodec-wavlm-mls``,
  ``-wavlm-more-data``, ``-hubert-general``, ``-hubert-general-balanced``): HKUST's semantic + acoustic codec - a DAC
  acoustic encoder's output and a frozen HuBERT (or WavLM) model's features, concatenated and quantized together by
  one residual VQ. 16 kHz, hop 320 (50 frames/s), 8 codebooks of 1,024 codes (10 bits x 50 frames/s = 0.5 kbps each).
  ``bandwidth`` (kbps, one of ``config.target_bandwidths``; default the smallest, 0.5 -> 1 codebook; 1 -> 2,
  1.5 -> 3, 2 -> 4, 4 -> 8) picks how many codebooks are used. Each clip is zero-padded to a multiple of the hop
  length first (as its ``DacFeatureExtractor`` does; ``XcodecModel.encode`` itself pads the semantic model's input by
  half a hop on each side), so it gets ``ceil(samples / hop)`` frames.

Flattening: these codecs give several codebooks per frame, and the benchmark's LLM reads one token stream.
:func:`codec_bench.prompts.speech_string` interleaves them frame by frame (frame 0 codebook 0, frame 0 codebook 1,
..., frame 1 codebook 0, ...), codebook ``k`` offset by ``k * codebook_size``, so the LLM vocabulary needs
``num_codebooks * codebook_size`` speech tokens and a clip costs ``num_codebooks * frames`` tokens. This is the
default. The alternative, ``codebooks: sum`` (``--codebooks sum``), sums the same tokens' input embeddings into one
position per frame (as MusicGen and Moshi feed RVQ codes; ``continuous.SummedCodesPromptEncoder``): the sequence
stays at ``frames`` positions.

Batches are exact: the convolutions' padding (and Mimi's attention; X-Codec's HuBERT/WavLM, whose first conv's
group norm spans the whole clip) let zero padding change the frames of a shorter clip, so
:meth:`TransformersCodec.encode_preprocessed` runs clips of equal (preprocessed) length together; a batch of mixed
lengths is one model call per length. Feed batches sorted by length for speed.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from typing import Any, Iterator, Sequence, TYPE_CHECKING

import numpy as np

from ..core.errors import CodecBenchError
from .base import Codec
from ..core.hub import load_pretrained
from .xcodec2 import _set_tf32_flags, _tf32_flags, check_precision_and_length, config_sha
if TYPE_CHECKING:  # heavy imports happen where they are used: the command line checks inputs first
    import torch

DTYPES = ("float32", "bfloat16")

FAMILIES: dict[str, dict[str, Any]] = {
    "encodec": {"class": "EncodecModel", "model_id": "facebook/encodec_24khz", "title": "EnCodec"},
    "dac": {"class": "DacModel", "model_id": "descript/dac_16khz", "title": "DAC"},
    "mimi": {"class": "MimiModel", "model_id": "kyutai/mimi", "title": "Mimi"},
    "xcodec": {"class": "XcodecModel", "model_id": "hf-audio/xcodec-hubert-librispeech", "title": "X-Codec"},
}
BANDWIDTH_FAMILIES = ("encodec", "xcodec")  # codebooks picked by bandwidth (kbps), not num_quantizers
HOP_PADDED_FAMILIES = ("dac", "xcodec")  # clips zero-padded to a multiple of the hop length (their feature extractor)


def load_model(family: str, model_id: str, offline: bool | None = None) -> torch.nn.Module:
    """``<Family>Model.from_pretrained`` (hub id or local folder) with a one-line error if unreachable."""
    import transformers

    return load_pretrained(getattr(transformers, FAMILIES[family]["class"]), model_id, FAMILIES[family]["title"], family, offline)


class TransformersCodec(Codec):
    """EnCodec / DAC / Mimi / X-Codec tokens: ``num_codebooks`` residual-VQ codebooks of ``codebook_size`` codes per
    frame.

    ``family``: ``"encodec"``, ``"dac"``, ``"mimi"`` or ``"xcodec"``. ``model_id``: hub id or local folder (default
    per family). ``bandwidth``: EnCodec and X-Codec only (kbps). ``num_quantizers``: DAC and Mimi only (how many
    codebooks to keep).
    ``dtype``: ``"float32"`` (default; TF32 off during encode on CUDA) or ``"bfloat16"`` (autocast; changes codes).
    ``model``: an already-built model (tests); then ``model_id`` only names it in ``identity()``.
    """

    version = 1  # bump when preprocessing or batching changes the codes

    def __init__(self, family: str, model_id: str | None = None, bandwidth: float | None = None,
                 num_quantizers: int | None = None, device: str | None = None, dtype: str = "float32",
                 max_seconds: float = 30.0, offline: bool | None = None, model: torch.nn.Module | None = None):
        import torch

        if family not in FAMILIES:
            raise CodecBenchError(f"unknown transformers codec family {family!r}; choose one of {', '.join(FAMILIES)}")
        check_precision_and_length(family, dtype, DTYPES, max_seconds)
        if bandwidth is not None and family not in BANDWIDTH_FAMILIES:
            raise CodecBenchError(f"{family} has no bandwidth option; use num_quantizers")
        if num_quantizers is not None and family in BANDWIDTH_FAMILIES:
            raise CodecBenchError(f"{family} picks its codebooks by bandwidth; pass bandwidth, not num_quantizers")
        self.family = family
        self.name = family
        self.model_id = model_id or FAMILIES[family]["model_id"]
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.dtype = dtype
        self.max_seconds = float(max_seconds)
        self.model = (model if model is not None else load_model(family, self.model_id, offline)).to(self.device).eval()
        config = self.model.config
        if int(getattr(config, "audio_channels", 1)) != 1:
            raise CodecBenchError(f"{self.model_id}: only mono {family} checkpoints are supported")
        self.sample_rate_hz = int(config.sample_rate if family == "xcodec" else config.sampling_rate)
        self.codebook_size = int(config.codebook_size)
        self.bandwidth: float | None = None
        self.num_quantizers: int | None = None
        if family in BANDWIDTH_FAMILIES:
            if family == "encodec" and config.chunk_length_s is not None:
                raise CodecBenchError(f"{self.model_id}: chunked EnCodec checkpoints (chunk_length_s set, e.g. the "
                                      f"48 kHz one) are not supported; use facebook/encodec_24khz")
            bandwidths = [float(b) for b in config.target_bandwidths]
            self.bandwidth = bandwidths[0] if bandwidth is None else float(bandwidth)
            if self.bandwidth not in bandwidths:
                raise CodecBenchError(f"{family} bandwidth {bandwidth} is not one of {bandwidths} (kbps)")
            self.num_codebooks = int(self.model.quantizer.get_num_quantizers_for_bandwidth(self.bandwidth))
            self.hop_length = int(config.hop_length)
            self.frame_rate_hz = self.sample_rate_hz / self.hop_length
        else:
            total = int(config.n_codebooks if family == "dac" else config.num_quantizers)
            default = total if family == "dac" else min(8, total)
            self.num_quantizers = default if num_quantizers is None else int(num_quantizers)
            low = int(getattr(config, "num_semantic_quantizers", 0)) + 1 if family == "mimi" else 1
            if not low <= self.num_quantizers <= total:
                raise CodecBenchError(f"{family} num_quantizers must be in {low}..{total}, got {num_quantizers}")
            self.num_codebooks = self.num_quantizers
            if family == "dac":
                self.hop_length = int(config.hop_length)
                self.frame_rate_hz = self.sample_rate_hz / self.hop_length
            else:
                self.hop_length = int(config.frame_size)
                self.frame_rate_hz = float(config.frame_rate)
        self.max_samples = int(round(self.max_seconds * self.sample_rate_hz))

    def __getstate__(self) -> dict:
        """A pickled copy (a DataLoader worker started by spawn) only preprocesses, so the model stays behind."""
        return {**self.__dict__, "model": None}

    # ----- CPU side (DataLoader workers) -----
    def preprocess(self, wave: np.ndarray) -> np.ndarray:
        """``(samples,)`` float32 -> the model input: cut to ``max_seconds``; for DAC and X-Codec zero-padded to a
        multiple of the hop length."""
        wave = np.asarray(wave, dtype=np.float32).reshape(-1)[: self.max_samples]
        if wave.size == 0:
            raise CodecBenchError(f"{self.family} cannot encode an empty clip")
        if self.family in HOP_PADDED_FAMILIES and wave.size % self.hop_length:
            wave = np.pad(wave, (0, self.hop_length - wave.size % self.hop_length))
        return np.ascontiguousarray(wave)

    # ----- model device -----
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
            with torch.inference_mode(), self._precision():
                if self.family == "encodec":
                    codes = self.model.encode(batch, bandwidth=self.bandwidth, return_dict=True).audio_codes
                    codes = codes[0]  # (nb_chunks=1, batch, q, frames) -> (batch, q, frames)
                elif self.family == "dac":
                    codes = self.model.encode(batch, n_quantizers=self.num_quantizers, return_dict=True).audio_codes
                elif self.family == "xcodec":  # (batch, q, frames)
                    codes = self.model.encode(batch, bandwidth=self.bandwidth, return_dict=True).audio_codes
                else:
                    codes = self.model.encode(batch, num_quantizers=self.num_quantizers).audio_codes
        except torch.OutOfMemoryError as err:
            torch.cuda.empty_cache()
            seconds = waves[0].size / self.sample_rate_hz
            raise CodecBenchError(
                f"out of GPU memory encoding {len(waves)} clips of {seconds:.1f} s with {self.family}; "
                f"pass a smaller --batch-size (for example {max(1, len(waves) // 2)})") from err
        codes = codes.to("cpu", torch.int64).numpy()
        if codes.shape[1] != self.num_codebooks:  # pragma: no cover - guards against a transformers API change
            raise CodecBenchError(f"{self.family} returned {codes.shape[1]} codebooks, expected {self.num_codebooks}")
        return [np.ascontiguousarray(codes[k]) for k in range(codes.shape[0])]

    @contextlib.contextmanager
    def _precision(self) -> Iterator[None]:
        """fp32 without TF32 (or bf16 autocast) for the duration of one encode; restores the flags."""
        import torch

        bf16 = self.dtype == "bfloat16"
        if self.device.type != "cuda":
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                yield
            return
        saved = _tf32_flags()
        _set_tf32_flags(False)
        try:
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
                yield
        finally:
            _set_tf32_flags(*saved)

    def identity(self) -> dict:
        identity = {"codec": self.family, "version": self.version, "model": self.model_id,
                    "config_sha": config_sha(self.model.config),
                    "bandwidth": self.bandwidth, "num_quantizers": self.num_quantizers,
                    "num_codebooks": self.num_codebooks, "dtype": self.dtype, "max_seconds": self.max_seconds,
                    "sample_rate_hz": self.sample_rate_hz}
        if self.family == "xcodec":  # its HuBERT/WavLM runs attention: sdpa vs eager can flip near-tie codes
            identity["attn_implementation"] = self.model.semantic_model.config._attn_implementation
        return identity


def EncodecCodec(**options) -> TransformersCodec:
    """EnCodec (default ``facebook/encodec_24khz``); options as :class:`TransformersCodec` (``bandwidth``)."""
    return TransformersCodec("encodec", **options)


def DacCodec(**options) -> TransformersCodec:
    """DAC (default ``descript/dac_16khz``); options as :class:`TransformersCodec` (``num_quantizers``)."""
    return TransformersCodec("dac", **options)


def MimiCodec(**options) -> TransformersCodec:
    """Mimi (default ``kyutai/mimi``); options as :class:`TransformersCodec` (``num_quantizers``, default 8)."""
    return TransformersCodec("mimi", **options)


def XcodecCodec(**options) -> TransformersCodec:
    """X-Codec (default ``hf-audio/xcodec-hubert-librispeech``); options as :class:`TransformersCodec` (``bandwidth``,
    default the smallest)."""
    return TransformersCodec("xcodec", **options)
