"""Clip audio for the codecs: decoded, resampled and preprocessed in DataLoader workers (:class:`ClipAudio`),
streamed for a codec's fit (:class:`ClipWaves`), one clip per audio file (:func:`unique_audio`) and each file's
rank in a job of several processes (:func:`share_of`)::

    ClipAudio([a], codec, max_seconds=30.0)[0] == ("a", codec.preprocess(wave), None, False)
                                                  # (clip id, audio, skip reason or None, truncated to max_seconds)
    unique_audio([q1, q2]) == ([q1], {"q1": ["q2"]})  # two questions about one recording: it is encoded once
    share_of("x.wav", world=2) in (0, 1)              # a stable hash of the path, whatever is already cached
"""

from __future__ import annotations

import os
import zlib
from typing import Iterator, Sequence

import numpy as np
import torch

from ..core.errors import AudioError
from ..data.audio import audio_seconds, load_audio
from ..data.augment import is_augmented, longest_source_seconds, render
from ..data.manifest import Clip
from .base import ClipEncoder


def audio_stamp(clip: Clip) -> str:
    """What identifies the audio a clip was encoded from, cheaply: ``<bytes>:<modification time, ns>`` of its file
    (of each source file for a mixture or shifted copy), ``missing`` for a file that is not there. A file
    replaced or edited in place gets another stamp, so the cache encodes it again::

        audio_stamp(Clip("a", "a.wav", ("dog",), "train")) == "48044:1733312345123456789"
    """
    paths = [s["path"] for s in clip.extra["sources"]] if is_augmented(clip) else [clip.path]
    return "+".join(_file_stamp(p) for p in paths)


def _file_stamp(path: str) -> str:
    try:
        found = os.stat(path)
    except OSError:
        return "missing"
    return f"{found.st_size}:{found.st_mtime_ns}"


def share_of(path: str, world: int) -> int:
    """The rank that encodes the audio file ``path`` in a job of ``world`` processes (a stable hash)."""
    return zlib.crc32(path.encode("utf-8")) % world


class ClipAudio(torch.utils.data.Dataset):
    """Decode, resample and preprocess one clip (runs in DataLoader workers)."""

    def __init__(self, clips: Sequence[Clip], codec: ClipEncoder, max_seconds: float | None):
        self.clips, self.codec, self.max_seconds = list(clips), codec, max_seconds

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> tuple[str, object, str | None, bool]:
        """``(clip id, preprocessed audio or None, skip reason or None, truncated to max_seconds)``."""
        clip = self.clips[index]
        try:
            if is_augmented(clip):  # a mixture or shifted copy of training clips (``data.augment``)
                wave = render(clip, self.codec.sample_rate_hz, self.max_seconds)
                seconds = longest_source_seconds(clip)
            else:
                wave = load_audio(clip.path, self.codec.sample_rate_hz, self.max_seconds)
                seconds = audio_seconds(clip.path)
            return clip.id, self.codec.preprocess(wave), None, self.max_seconds is not None and seconds > self.max_seconds + 1e-3
        except AudioError as err:
            return clip.id, None, str(err), False


def unique_audio(clips: Sequence[Clip]) -> tuple[list[Clip], dict[str, list[str]]]:
    """One clip per audio file, and ``{its id: ids of the other clips of that file}``: audio question answering
    has several questions per clip, and each file is encoded once."""
    first: dict[str, Clip] = {}
    siblings: dict[str, list[str]] = {}
    for clip in clips:
        if clip.path in first:
            siblings.setdefault(first[clip.path].id, []).append(clip.id)
        else:
            first[clip.path] = clip
    return list(first.values()), siblings


def size_hint(clip: Clip) -> int:
    """The clip's file size in bytes (0 when unknown): sorting by it puts clips of similar lengths in one batch."""
    try:
        return os.path.getsize(clip.path)
    except OSError:
        return 0


class ClipWaves:
    """The waveforms of ``clips`` at ``sample_rate_hz``, decoded anew on every iteration (a fit may read them twice;
    only one clip is in memory at a time). Clips that cannot be decoded are left out: the encode stage records
    why."""

    def __init__(self, clips: Sequence[Clip], sample_rate_hz: int):
        self.clips, self.sample_rate_hz = list(clips), sample_rate_hz

    def __iter__(self) -> Iterator[np.ndarray]:
        for clip in self.clips:
            try:
                yield load_audio(clip.path, self.sample_rate_hz)
            except AudioError:
                continue
