"""XCodec2 (the codec Llasa was trained on): 16 kHz audio -> one codebook of 65,536 FSQ codes at 50 tokens/s.

The model is transformers' native ``Xcodec2Model`` (no remote code). Its w2v-BERT input features are computed
here without torchaudio: :func:`kaldi_fbank` is ``torchaudio.compliance.kaldi.fbank`` with the arguments
``Xcodec2FeatureExtractor`` passes (80 bins, 25/10 ms Povey frames, pre-emphasis 0.97, 20 Hz-8 kHz, log floor
float32 eps), written in torch; tests check it against ``SeamlessM4TFeatureExtractor``'s numpy Kaldi port.

Per clip, as the extractor does: append one zero sample, zero-pad to a multiple of the hop (320 samples) - the
acoustic branch's input; pad that 160 samples on both sides, take the fbank, normalise each bin over the clip
(unbiased variance), stack frame pairs into 160-dim vectors - the semantic branch's input. The clip owns
``(samples + 1) // 320`` code frames (``Xcodec2Model.encode``'s ``audio_codes_mask``).

Batches are exact: the acoustic encoder's convolutions (replicate-padded anti-aliasing filters, biases) and the
semantic adapter's convolutions let zero padding change the last frames of a shorter clip, which masks cannot
undo. So :meth:`Xcodec2Codec.encode_preprocessed` runs clips of equal padded length together (length
bucketing); a batch of equal-length clips (all 5-s clips, or long clips cut to ``max_seconds``) is one model
call, a batch of mixed lengths is one call per length. Feed batches sorted by length for speed.
"""

from __future__ import annotations

import functools
import math
from abc import abstractmethod
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..core.errors import CodecBenchError
from .base import ClipEncoder, TokenCodec
from .pretrained import check_precision_and_length, config_sha, decode_codes, device_of, load_model, out_of_memory, precision

if TYPE_CHECKING:  # heavy imports happen where they are used: the command line checks inputs first
    import torch

FBANK = {"num_mel_bins": 80, "frame_length": 400, "frame_shift": 160, "fft_length": 512, "preemphasis": 0.97,
         "low_freq_hz": 20.0, "stride": 2, "scale": 2 ** 15, "norm_eps": 1e-7}
DTYPES = ("float32", "tf32", "bfloat16")
LONG_CLIPS = ("truncate", "chunk")


@functools.lru_cache(maxsize=4)
def _kaldi_mel_banks(num_bins: int, fft_length: int, sample_rate_hz: int, low_freq_hz: float) -> torch.Tensor:
    """Kaldi's triangular mel filters (``torchaudio.compliance.kaldi.get_mel_banks``, no VTLN), float32,
    ``(fft_length // 2 + 1, num_bins)`` with a zero row for the Nyquist bin."""
    import torch

    mel = lambda f: 1127.0 * torch.log(1.0 + f / 700.0)  # noqa: E731
    low, high = 1127.0 * math.log(1.0 + low_freq_hz / 700.0), 1127.0 * math.log(1.0 + sample_rate_hz / 2 / 700.0)
    delta = (high - low) / (num_bins + 1)
    index = torch.arange(num_bins).unsqueeze(1)
    left, centre, right = low + index * delta, low + (index + 1.0) * delta, low + (index + 2.0) * delta
    bin_mel = mel(sample_rate_hz / fft_length * torch.arange(fft_length // 2)).unsqueeze(0)
    up, down = (bin_mel - left) / (centre - left), (right - bin_mel) / (right - centre)
    banks = torch.clamp(torch.minimum(up, down), min=0.0)
    return torch.nn.functional.pad(banks, (0, 1)).T.contiguous()


@functools.lru_cache(maxsize=4)
def _povey_window(length: int) -> torch.Tensor:
    import torch

    return torch.hann_window(length, periodic=False).pow(0.85)


def kaldi_fbank(wave: torch.Tensor, sample_rate_hz: int = 16_000) -> torch.Tensor:
    """``wave: (samples,)`` float32 in [-1, 1] -> log mel filterbank ``(frames, 80)``, ``frames = 1 + (samples -
    400) // 160`` (Kaldi ``snip_edges``), equal to torchaudio's Kaldi fbank with Xcodec2FeatureExtractor's arguments."""
    import torch

    size, shift = FBANK["frame_length"], FBANK["frame_shift"]
    wave = wave.to(torch.float32) * FBANK["scale"]
    frames = wave.as_strided((1 + (wave.numel() - size) // shift, size), (shift, 1))
    frames = frames - frames.mean(dim=1, keepdim=True)  # remove DC offset
    previous = torch.cat([frames[:, :1], frames[:, :-1]], dim=1)
    frames = (frames - FBANK["preemphasis"] * previous) * _povey_window(size)
    power = torch.fft.rfft(frames, n=FBANK["fft_length"]).abs().pow(2.0)
    banks = _kaldi_mel_banks(FBANK["num_mel_bins"], FBANK["fft_length"], sample_rate_hz, FBANK["low_freq_hz"])
    return torch.clamp(power @ banks, min=torch.finfo(torch.float32).eps).log()


def semantic_features(padded_wave: np.ndarray, hop_length: int) -> np.ndarray:
    """Hop-padded waveform ``(samples,)`` -> w2v-BERT input ``(samples // hop_length, 160)`` float32: the fbank of
    the waveform padded by ``hop_length // 2`` on both sides, normalised per bin over the clip, frame pairs stacked."""
    import torch

    wave = torch.nn.functional.pad(torch.from_numpy(padded_wave), (hop_length // 2, hop_length // 2))
    feats = kaldi_fbank(wave)
    feats = (feats - feats.mean(0)) / torch.sqrt(feats.var(0, unbiased=True) + FBANK["norm_eps"])
    stride = FBANK["stride"]
    usable = feats.shape[0] - feats.shape[0] % stride
    return feats[:usable].reshape(usable // stride, stride * feats.shape[1]).numpy()


class Xcodec2Base(ClipEncoder):
    """XCodec2's preprocessing, exact batching and precision, shared by its codes (:class:`Xcodec2Codec`) and its
    pre-quantization latents (``xcodec2_latents``); subclasses say what :meth:`_model_outputs` returns per frame.

    ``dtype``: ``"float32"`` (default, exact: TF32 is switched off for matmuls and cuDNN convolutions during encode),
    ``"tf32"`` (TF32 matmuls and convolutions on CUDA) or ``"bfloat16"`` (autocast); both change some codes (how
    many, measured: docs/performance.md, "XCodec2 encoding"). On a CPU ``"tf32"`` computes like fp32.

    ``long_clips``: clips longer than ``max_seconds`` are either cut to their first ``max_seconds``
    (``"truncate"``, default) or encoded as consecutive ``max_seconds`` chunks whose codes are concatenated
    (``"chunk"``; each chunk gets ``(chunk_samples + 1) // 320`` frames, as if it were a clip of its own).

    ``model``: an already-built ``Xcodec2Model`` (tests); then ``model_id`` only names it in ``identity()``.
    """

    version = 1  # bump when preprocessing or batching changes the codes

    def __init__(self, model_id: str = "hf-audio/xcodec2", device: str | None = None, dtype: str = "float32",
                 max_seconds: float = 30.0, long_clips: str = "truncate", offline: bool | None = None,
                 model: torch.nn.Module | None = None):
        check_precision_and_length("xcodec2", dtype, DTYPES, max_seconds)
        if long_clips not in LONG_CLIPS:
            raise CodecBenchError(f"xcodec2 long_clips {long_clips!r} is not one of {', '.join(LONG_CLIPS)}")
        self.model_id = model_id
        self.device = device_of(device)
        self.dtype = dtype
        self.max_seconds = float(max_seconds)
        self.long_clips = long_clips
        self.model = (model if model is not None else load_model("Xcodec2Model", model_id, "XCodec2", "xcodec2", offline))
        self.model = self.model.to(self.device).eval()
        config = self.model.config
        self.sample_rate_hz = int(config.sampling_rate)
        self.hop_length = int(config.hop_length)
        self.frame_rate_hz = self.sample_rate_hz / self.hop_length
        self.max_samples = int(round(self.max_seconds * self.sample_rate_hz))

    def __getstate__(self) -> dict:
        """A pickled copy (a DataLoader worker started by spawn) only preprocesses, so the model stays behind."""
        return {**self.__dict__, "model": None}

    # ----- CPU side (DataLoader workers) -----
    def preprocess(self, wave: np.ndarray) -> dict[str, Any]:
        """``(samples,)`` float32 at 16 kHz -> ``{"chunks": [chunk, ...]}``, one chunk unless ``long_clips="chunk"``
        splits a long clip. A chunk holds ``input_values: (padded_samples,)`` float32, ``input_features:
        (padded_samples // 320, 160)`` float32 and ``num_frames`` (the code frames the chunk owns)."""
        wave = np.asarray(wave, dtype=np.float32).reshape(-1)
        if self.long_clips == "truncate" or wave.size <= self.max_samples:
            segments = [wave[: self.max_samples]]
        else:
            segments = [wave[start: start + self.max_samples] for start in range(0, wave.size, self.max_samples)]
        return {"chunks": [self._prepare_chunk(segment) for segment in segments]}

    def _prepare_chunk(self, segment: np.ndarray) -> dict[str, Any]:
        valid = segment.size + 1  # the extractor appends one zero sample, counted as audio by its padding mask
        padded = np.zeros(math.ceil(valid / self.hop_length) * self.hop_length, dtype=np.float32)
        padded[: segment.size] = segment
        return {"input_values": padded, "input_features": semantic_features(padded, self.hop_length),
                "valid_samples": valid, "num_frames": valid // self.hop_length}

    # ----- model device -----
    def encode_preprocessed(self, items: Sequence[dict[str, Any]]) -> list[np.ndarray]:
        """``preprocess`` outputs -> one ``(rows, frames)`` array per clip. Chunks of equal padded length run as one
        model call (at most ``len(items)`` chunks at a time), so every clip's array equals its array alone."""
        chunks = [(i, j, chunk) for i, item in enumerate(items) for j, chunk in enumerate(item["chunks"])]
        by_length: dict[int, list] = defaultdict(list)
        for entry in chunks:
            by_length[entry[2]["input_values"].size].append(entry)
        parts: list[dict[int, np.ndarray]] = [{} for _ in items]
        limit = max(1, len(items))
        for length in sorted(by_length):
            group = by_length[length]
            for start in range(0, len(group), limit):
                batch = group[start: start + limit]
                for (i, j, _), codes in zip(batch, self._encode_batch([c for _, _, c in batch])):
                    parts[i][j] = codes
        return [np.concatenate([p[j] for j in sorted(p)], axis=1) for p in parts]

    def _encode_batch(self, chunks: list[dict[str, Any]]) -> list[np.ndarray]:
        import torch

        inputs = {name: tensor.to(self.device, non_blocking=True) for name, tensor in collate(chunks).items()}
        try:
            with torch.inference_mode(), precision(self.device, self.dtype):
                outputs = self._model_outputs(inputs)
        except torch.OutOfMemoryError as err:
            seconds = max(c["input_values"].size for c in chunks) / self.sample_rate_hz
            raise out_of_memory(self.name, len(chunks), seconds) from err
        return [np.ascontiguousarray(outputs[k, :, : c["num_frames"]]) for k, c in enumerate(chunks)]

    @abstractmethod
    def _model_outputs(self, inputs: dict[str, torch.Tensor]) -> np.ndarray:
        """``(batch, rows, frames)`` values of a collated batch."""

    def identity(self) -> dict:
        return {"codec": "xcodec2", "version": self.version, "model": self.model_id, "config_sha": config_sha(self.model.config),
                "dtype": self.dtype, "max_seconds": self.max_seconds, "long_clips": self.long_clips,
                "features": {"fbank": FBANK, "hop_length": self.hop_length, "sample_rate_hz": self.sample_rate_hz},
                "attn_implementation": self.model.config._attn_implementation}


class Xcodec2Codec(Xcodec2Base, TokenCodec):
    """XCodec2 tokens: 16 kHz in, 50 tokens/s, one codebook of ``prod(quantization_levels)`` (65,536) FSQ codes.
    Options as :class:`Xcodec2Base`."""

    name = "xcodec2"
    num_codebooks = 1
    can_decode = True  # ``Xcodec2Model.decode``: codes -> 16 kHz audio, 320 samples per frame

    def __init__(self, model_id: str = "hf-audio/xcodec2", device: str | None = None, dtype: str = "float32",
                 max_seconds: float = 30.0, long_clips: str = "truncate", offline: bool | None = None,
                 model: torch.nn.Module | None = None):
        super().__init__(model_id, device, dtype, max_seconds, long_clips, offline, model)
        self.codebook_size = int(np.prod(self.model.config.quantization_levels))

    def _model_outputs(self, inputs: dict[str, torch.Tensor]) -> np.ndarray:
        """``(batch, 1, frames) int64`` codes."""
        import torch

        return self.model.encode(**inputs).audio_codes.to("cpu", torch.int64).numpy()

    def _decode_batch(self, codes: np.ndarray) -> np.ndarray:
        decoder = lambda batch: self.model.decode(audio_codes=batch).audio_values  # noqa: E731
        return decode_codes(decoder, codes, self.device, self.dtype, self.name)


def collate(chunks: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Pad chunks into ``Xcodec2Model.encode`` inputs: ``input_values: (batch, 1, samples)``, ``padding_mask:
    (batch, samples)``, ``input_features: (batch, feature_frames, 160)`` padded with 1.0 (the extractor's
    ``padding_value``) and ``input_features_mask: (batch, feature_frames)``. Pinned memory when CUDA is present."""
    import torch

    samples = max(c["input_values"].size for c in chunks)
    frames = max(c["input_features"].shape[0] for c in chunks)
    pin = torch.cuda.is_available()
    batch = {"input_values": torch.zeros(len(chunks), 1, samples, pin_memory=pin),
             "padding_mask": torch.zeros(len(chunks), samples, dtype=torch.long, pin_memory=pin),
             "input_features": torch.ones(len(chunks), frames, chunks[0]["input_features"].shape[1], pin_memory=pin),
             "input_features_mask": torch.zeros(len(chunks), frames, dtype=torch.long, pin_memory=pin)}
    for k, chunk in enumerate(chunks):
        wave, feats = torch.from_numpy(chunk["input_values"]), torch.from_numpy(chunk["input_features"])
        batch["input_values"][k, 0, : wave.numel()] = wave
        batch["padding_mask"][k, : chunk["valid_samples"]] = 1
        batch["input_features"][k, : feats.shape[0]] = feats
        batch["input_features_mask"][k, : feats.shape[0]] = 1
    return batch
