"""The embedded codec: log-mel k-means units fitted on the training split (HuBERT's first iteration).

It runs offline on any CPU with no weights to download. Audio is RMS-normalised (so gain does not pick the
unit), cut into 20-ms log-mel frames (50 frames/s, like XCodec2), standardised with the training split's
statistics and assigned to the nearest of ``codebook_size`` k-means centroids. One codebook by default;
``num_codebooks > 1`` makes it a residual quantizer (each further codebook is a k-means of what the previous ones
left, as in residual VQ codecs), a CPU stand-in for multi-codebook codecs. The fitted state (centroids, mean,
std) is saved as safetensors and its hash is part of the codec identity, so tokens from a codec fitted on other
data are never mixed up.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np

from .base import TokenCodec
from .features import log_mel

if TYPE_CHECKING:  # heavy imports happen where they are used: the command line checks inputs first
    import torch


class EmbeddedCodec(TokenCodec):
    """Mel k-means units: 16 kHz in, 50 tokens/s out, one codebook of ``codebook_size`` entries."""

    name = "embedded"
    needs_fit = True
    decode_note = "k-means units of log-mel frames: no decoder back to audio"

    def __init__(self, codebook_size: int = 256, n_mels: int = 64, max_fit_frames: int = 60_000, seed: int = 0,
                 num_codebooks: int = 1):
        self.sample_rate_hz = 16_000
        self.hop = 320
        self.frame_rate_hz = self.sample_rate_hz / self.hop
        self.num_codebooks = num_codebooks
        self.codebook_size = codebook_size
        self.n_mels = n_mels
        self.max_fit_frames = max_fit_frames
        self.seed = seed
        self.state: dict[str, torch.Tensor] | None = None

    def _frames(self, wave: np.ndarray) -> torch.Tensor:
        wave = np.asarray(wave, dtype=np.float32)
        wave = wave / (np.sqrt(np.mean(wave ** 2)) + 1e-8)
        return log_mel(wave, self.sample_rate_hz, self.n_mels, self.hop)

    def fit(self, waveforms: Iterable[np.ndarray]) -> None:
        """Fit mean, std and k-means centroids on the frames of ``waveforms`` (the training split; iterated once,
        or twice for a split of more than ``4 * max_fit_frames`` frames, see :meth:`fit_frames`)."""
        import torch
        from sklearn.cluster import MiniBatchKMeans

        frames = self.fit_frames(waveforms)
        mean, std = frames.mean(0), frames.std(0) + 1e-5
        # a tiny training split may hold fewer frames than units: fit as many as it can, the rest stay unused
        units = min(self.codebook_size, len(frames))
        residual = (frames - mean) / std
        self.state = {"mean": torch.from_numpy(mean.astype(np.float32)), "std": torch.from_numpy(std.astype(np.float32))}
        for k in range(self.num_codebooks):  # codebook k quantizes what codebooks 0..k-1 left
            kmeans = MiniBatchKMeans(units, random_state=self.seed + k, n_init=3, batch_size=4096, max_iter=100)
            kmeans.fit(residual)
            centroids = kmeans.cluster_centers_.astype(np.float32)
            residual = residual - centroids[kmeans.predict(residual)]
            self.state[centroid_key(k)] = torch.from_numpy(centroids)

    def fit_frames(self, waveforms: Iterable[np.ndarray]) -> np.ndarray:
        """``(n, n_mels)``: every frame of ``waveforms`` in order, or, past ``max_fit_frames``, that many drawn at
        random (seeded) from all of them. Memory stays bounded: beyond ``4 * max_fit_frames`` frames the first pass
        only counts, and a second pass collects the drawn frames (the same draw, in the same order)."""
        kept: list[np.ndarray] | None = []
        counts: list[int] = []
        for wave in waveforms:
            counts.append(max(len(wave), self.hop) // self.hop)  # log_mel's frame count
            if kept is not None and sum(counts) <= 4 * self.max_fit_frames:
                kept.append(self._frames(wave).numpy())
            else:
                kept = None
        total = sum(counts)
        if kept is not None and total <= self.max_fit_frames:
            return np.concatenate(kept)
        chosen = np.random.default_rng(self.seed).choice(total, self.max_fit_frames, replace=False)
        if kept is not None:
            return np.concatenate(kept)[chosen]
        order = np.argsort(chosen, kind="stable")
        wanted = chosen[order]
        out = np.empty((self.max_fit_frames, self.n_mels), dtype=np.float32)
        start = done = 0
        for wave, count in zip(waveforms, counts):
            stop = int(np.searchsorted(wanted, start + count))
            if stop > done:
                out[order[done:stop]] = self._frames(wave).numpy()[wanted[done:stop] - start]
            done, start = stop, start + count
        return out

    def save(self, path: str | Path) -> None:
        from safetensors.torch import save_file

        save_file(self._require_state(), str(path))

    def load(self, path: str | Path) -> None:
        from safetensors.torch import load_file

        self.state = load_file(str(path))

    def preprocess(self, wave: np.ndarray) -> torch.Tensor:
        """``(samples,)`` -> log-mel frames ``(frames, n_mels)``."""
        return self._frames(wave)

    def encode_preprocessed(self, items: Sequence[torch.Tensor]) -> list[np.ndarray]:
        state = self._require_state()
        books = [state[centroid_key(k)] for k in range(self.num_codebooks)]
        half_norms = [0.5 * (c ** 2).sum(1) for c in books]
        out = []
        for frames in items:
            x = (frames - state["mean"]) / state["std"]
            codes = []
            for centroids, half_norm in zip(books, half_norms):
                # argmin ||x - c||^2 == argmax (x.c - |c|^2 / 2)
                code = (x @ centroids.T - half_norm).argmax(1)
                codes.append(code.numpy().astype(np.int64))
                x = x - centroids[code]
            out.append(np.stack(codes))
        return out

    def identity(self) -> dict:
        state = self.state
        digest = (
            None
            if state is None
            else hashlib.sha256(b"".join(state[k].numpy().tobytes() for k in sorted(state))).hexdigest()[:16]
        )
        identity = {
            "codec": "embedded-mel-kmeans",
            "version": 1,
            "codebook_size": self.codebook_size,
            "n_mels": self.n_mels,
            "hop": self.hop,
            "sample_rate_hz": self.sample_rate_hz,
            "seed": self.seed,
            "state": digest,
        }
        return identity | ({"num_codebooks": self.num_codebooks} if self.num_codebooks > 1 else {})

    def fit_identity(self) -> dict:
        """What determines the fitted state, apart from the training clips."""
        return {k: v for k, v in self.identity().items() if k != "state"} | {"max_fit_frames": self.max_fit_frames}

    def probe_vector(self, codes: np.ndarray, token_embeddings: torch.Tensor | None = None) -> np.ndarray:
        """The frames the codes stand for (residual codebooks' centroids summed), averaged over the clip:
        ``(n_mels,) float32``."""
        state = self._require_state()
        codes = np.asarray(codes, dtype=np.int64)
        if not codes.size:
            return np.zeros(state["centroids"].shape[1], np.float32)
        return sum(state[centroid_key(k)].numpy()[codes[k]] for k in range(codes.shape[0])).mean(0)

    def needs_token_embeddings(self) -> bool:
        return False

    def _require_state(self) -> dict[str, torch.Tensor]:
        if self.state is None:
            raise RuntimeError("EmbeddedCodec.encode called before fit() or load()")
        return self.state


def centroid_key(k: int) -> str:
    """State key of codebook ``k`` ("centroids" for the first, as one-codebook states were always saved)."""
    return "centroids" if k == 0 else f"centroids_{k}"
