"""Token cache: codec tokens for every clip of a dataset, computed once, on disk as Parquet shards (open them with
``datasets.load_dataset("parquet", data_files=...)`` or pyarrow).

Layout: ``CACHE_ROOT/<dataset>/<codec.cache_key()>/`` holds ``cache.json`` (format version, codec identity and
audio preprocessing) and ``shard-r<rank>-<n>.parquet`` files with the columns ``id``, ``codes`` (flattened int64),
``num_codebooks`` and ``error`` (why a clip was skipped, else null); a continuous front-end's shards hold its
features as float32 (or float16, its ``storage_dtype``) ``codes``, ``num_codebooks`` = feature dimension. The folder name hashes the codec identity
(model, config, dtype, fitted state), so a cache built by another codec or config is never reused, and
``cache.json`` is checked on every open.

Shards are written to a temporary name and renamed: a killed encode resumes at the last finished shard, and a
clip already in a shard is never encoded again. Clips of the same audio file (the questions of one audio
question answering clip) are encoded once and stored under each id. Clips are keyed by id, not split, so the
folds of a k-fold dataset share one cache. Under ``accelerate launch`` (or torchrun) each process encodes every WORLD_SIZE-th clip
and writes its own shards; reading the folder merges them.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from rich.progress import Progress

from . import io
from .audio import load_audio
from .codecs.base import Codec
from .data.manifest import Clip
from .errors import AudioError, CodecBenchError

FORMAT_VERSION = 1
MAX_SHARD_VALUES = 2 ** 27  # a shard is also closed at this many values (512 MB of float32 frames; int32 offsets)


def value_dtype(codec: Codec) -> str:
    """What the shards store: int64 codes, or a continuous front-end's features in its ``storage_dtype``."""
    return getattr(codec, "storage_dtype", "float32") if codec.continuous else "int64"


def shard_schema(dtype: str = "int64") -> pa.Schema:
    values = pa.from_numpy_dtype(np.dtype(dtype))
    return pa.schema([("id", pa.string()), ("codes", pa.list_(values)), ("num_codebooks", pa.int32()), ("error", pa.string())])


class ClipAudio(torch.utils.data.Dataset):
    """Decode, resample and preprocess one clip (runs in DataLoader workers)."""

    def __init__(self, clips: Sequence[Clip], codec: Codec, max_seconds: float | None):
        self.clips, self.codec, self.max_seconds = list(clips), codec, max_seconds

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> tuple[str, object, str | None]:
        clip = self.clips[index]
        try:
            wave = load_audio(clip.path, self.codec.sample_rate_hz, self.max_seconds)
            return clip.id, self.codec.preprocess(wave), None
        except AudioError as err:
            return clip.id, None, str(err)


class TokenCache:
    """The cache folder of one dataset and one codec."""

    def __init__(self, root: str | Path, dataset: str, codec: Codec, max_seconds: float | None = None):
        self.codec = codec
        self.max_seconds = max_seconds
        self.folder = Path(root) / dataset / codec.cache_key()
        self.header = {"format_version": FORMAT_VERSION, "dataset": dataset, "codec": codec.describe(),
                       "identity": codec.identity(), "audio": {"sample_rate_hz": codec.sample_rate_hz, "mono": True,
                                                               "max_seconds": max_seconds}}
        if codec.continuous:
            self.header["values"] = value_dtype(codec)
        self._check_header()

    def _check_header(self) -> None:
        path = self.folder / "cache.json"
        if not path.is_file():
            return
        found = io.read_json(path)
        if found.get("format_version") != FORMAT_VERSION:
            raise CodecBenchError(f"{path}: token cache format {found.get('format_version')} is not {FORMAT_VERSION}; delete {self.folder} to rebuild it")
        if found != self.header:
            raise CodecBenchError(f"{path}: cache made by another codec configuration than its folder name says; delete {self.folder} to rebuild it")

    def done_ids(self) -> set[str]:
        return {i for shard in self._shards() for i in pq.read_table(shard, columns=["id"]).column("id").to_pylist()}

    def _shards(self) -> list[Path]:
        return sorted(self.folder.glob("shard-r*-*.parquet"))

    def build(self, clips: Sequence[Clip], batch_size: int = 16, num_workers: int = 0, shard_size: int = 512,
              progress: bool = True, all_clips: bool = False) -> dict:
        """Encode the clips not cached yet; returns ``{"encoded", "cached", "skipped"}`` counts for this process.
        ``all_clips``: encode every clip here even under several processes (work that only rank 0 does)."""
        rank, world = (0, 1) if all_clips else (int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)))
        done = self.done_ids()
        todo, siblings = unique_audio([c for c in sorted(clips, key=lambda c: c.id) if c.id not in done])
        todo = todo[rank::world]
        self.folder.mkdir(parents=True, exist_ok=True)
        if rank == 0 and not (self.folder / "cache.json").is_file():
            io.write_json(self.folder / "cache.json", self.header)
        todo.sort(key=_size_hint)  # similar lengths together: less padding per batch
        next_index = 1 + max([int(p.stem.split("-")[-1]) for p in self.folder.glob(f"shard-r{rank}-*.parquet")], default=-1)
        counts = {"encoded": 0, "cached": len(done), "skipped": 0}
        rows: list[dict] = []
        with Progress(disable=not progress, transient=True) as bar:
            task = bar.add_task(f"encoding ({self.codec.name})", total=len(todo))
            for batch in self._batches(todo, batch_size, num_workers):
                encoded = self._encode_batch(batch)
                rows += encoded + [dict(r, id=other) for r in encoded for other in siblings.get(r["id"], [])]
                bar.advance(task, len(batch))
                if len(rows) >= shard_size or sum(len(r["codes"]) for r in rows) >= MAX_SHARD_VALUES:
                    next_index = self._write_shard(rows, rank, next_index, counts)
                    rows = []
            if rows:
                self._write_shard(rows, rank, next_index, counts)
        return counts

    def _batches(self, clips: list[Clip], batch_size: int, num_workers: int):
        if not clips:
            return []
        loader = torch.utils.data.DataLoader(
            ClipAudio(clips, self.codec, self.max_seconds), batch_size=batch_size, num_workers=num_workers,
            collate_fn=list, pin_memory=False, prefetch_factor=4 if num_workers else None,
        )
        return loader

    def _encode_batch(self, batch: list[tuple[str, object, str | None]]) -> list[dict]:
        ok = [(i, item) for i, item, err in batch if err is None]
        try:
            codes = self.codec.encode_preprocessed([item for _, item in ok]) if ok else []
        except torch.cuda.OutOfMemoryError as err:
            raise CodecBenchError("CUDA out of memory while encoding; lower --batch-size (cached shards are kept)") from err
        by_id = {i: c for (i, _), c in zip(ok, codes)}
        rows = []
        for clip_id, _, err in batch:
            code = by_id.get(clip_id)
            rows.append({"id": clip_id, "codes": [] if code is None else code.reshape(-1),
                         "num_codebooks": 0 if code is None else int(code.shape[0]), "error": err})
        return rows

    def _write_shard(self, rows: list[dict], rank: int, index: int, counts: dict) -> int:
        schema = shard_schema(value_dtype(self.codec))
        columns = {k: [r[k] for r in rows] for k in ("id", "num_codebooks", "error")}
        values = [np.asarray(r["codes"], dtype=value_dtype(self.codec)) for r in rows]
        offsets = np.concatenate([[0], np.cumsum([v.size for v in values])]).astype(np.int32)
        flat = np.concatenate(values) if values else np.zeros(0)
        columns["codes"] = pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, type=schema.field("codes").type.value_type))
        with io.atomic_path(self.folder / f"shard-r{rank}-{index:05d}.parquet") as tmp:
            pq.write_table(pa.table(columns, schema=schema), tmp)
        counts["skipped"] += sum(r["error"] is not None for r in rows)
        counts["encoded"] += sum(r["error"] is None for r in rows)
        return index + 1

    def load(self) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """``({id: codes (num_codebooks, frames) int64}, {id: skip reason})`` from all shards (a continuous
        front-end's features are ``(feature_dim, frames)`` in its storage dtype). Values are read as whole numpy columns."""
        codes: dict[str, np.ndarray] = {}
        errors: dict[str, str] = {}
        for shard in self._shards():
            table = pq.read_table(shard)
            column = table.column("codes").combine_chunks()
            flat, offsets = column.flatten().to_numpy(zero_copy_only=False), column.offsets.to_numpy()
            rows = zip(table.column("id").to_pylist(), table.column("num_codebooks").to_pylist(), table.column("error").to_pylist())
            for row, (clip_id, books, err) in enumerate(rows):
                if err is not None:
                    errors[clip_id] = err
                else:
                    codes[clip_id] = flat[offsets[row]: offsets[row + 1]].reshape(books, -1)
        return codes, errors


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


def _size_hint(clip: Clip) -> int:
    try:
        return os.path.getsize(clip.path)
    except OSError:
        return 0


def fit_codec(codec: Codec, clips: Sequence[Clip], state_folder: str | Path, progress: bool = True) -> None:
    """Fit a codec that needs it (the embedded one) on ``clips`` (a training split), or load the fit saved for
    exactly these clips and settings. The fit is saved as safetensors under ``state_folder``."""
    if not codec.needs_fit:
        return
    key = hashlib.sha256(json.dumps([codec.fit_identity(), sorted(c.id for c in clips)]).encode()).hexdigest()[:12]
    path = Path(state_folder) / f"{codec.name}-fit-{key}.safetensors"
    if path.is_file():
        codec.load(path)
        return
    waves = []
    for clip in clips:
        try:
            waves.append(load_audio(clip.path, codec.sample_rate_hz))
        except AudioError:
            continue  # the encode stage records the skip with its reason
    codec.fit(waves)
    path.parent.mkdir(parents=True, exist_ok=True)
    with io.atomic_path(path) as tmp:
        codec.save(tmp)
