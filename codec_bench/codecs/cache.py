"""Token cache: codec tokens for every clip of a dataset, computed once, on disk as Parquet shards (open them with
``datasets.load_dataset("parquet", data_files=...)`` or pyarrow), read back lazily.

Layout: ``CACHE_ROOT/<dataset>/<codec.cache_key()>/`` holds ``cache.json`` (format version, codec identity and
audio preprocessing) and ``shard-r<rank>-<n>-<token>.parquet`` files with the columns ``id``, ``codes``
(flattened int64), ``num_codebooks``, ``frames`` and ``error`` (why a clip was skipped, else null); a continuous
front-end's shards hold its features as float32 (or float16, its ``storage_dtype``) ``codes``, ``num_codebooks`` =
feature dimension. The folder name hashes the codec identity (model, config, dtype, fitted state), so a cache
built by another codec or config is never reused, and ``cache.json`` is checked on every open.

Writing: shards are written to a temporary name and renamed (a random token in the name: two writers never
produce the same file), so a killed encode resumes at the last finished shard and a clip already in a shard is
never encoded again. Clips of the same audio file (the questions of one audio question answering clip) are
encoded once and stored under each id. Clips are keyed by id, not split, so the folds of a k-fold dataset share
one cache. The clips are dealt into ``WORLD_SIZE`` shares by a hash of their audio path (stable, whatever is
already cached); under ``torchrun`` / ``accelerate launch`` each rank encodes its share. Each share is built
under a file lock (``core.parallel.build_lock``): parallel study cells or runs that need the same cache wait for
the first one and reuse its shards. Jobs of different sizes (1 and 2 processes) on one cache at the same time
may both encode a clip; readers keep its first copy.

Reading: :meth:`TokenCache.load` gives a lazy :class:`cached_codes.CachedCodes`. Decoding the clips' audio in
DataLoader workers is ``clip_audio``; fitting a codec on the training split is ``fit``.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from ..core import io, ui
from ..core.errors import CodecBenchError
from ..core.parallel import build_lock, rank, usable_workers, world_size
from ..data.manifest import Clip
from .base import ClipEncoder, TokenCodec
from .cached_codes import CachedCodes, finished_shards, shard_order
from .clip_audio import ClipAudio, audio_stamp, share_of, size_hint, unique_audio

FORMAT_VERSION = 1
MAX_SHARD_VALUES = 2 ** 27  # a shard is also closed at this many values (512 MB of float32 frames; int32 offsets)
GROUP_BYTES = 1 << 20  # Parquet row groups of about this many bytes of codes: the unit a lazy read decodes
MAX_GROUP_ROWS = 64


def shard_schema(dtype: str = "int64") -> pa.Schema:
    values = pa.from_numpy_dtype(np.dtype(dtype))
    return pa.schema([("id", pa.string()), ("codes", pa.list_(values)), ("num_codebooks", pa.int32()),
                      ("frames", pa.int32()), ("error", pa.string()), ("stamp", pa.string())])


class TokenCache:
    """The cache folder of one dataset and one codec."""

    def __init__(self, root: str | Path, dataset: str, codec: ClipEncoder, max_seconds: float | None = None):
        self.codec = codec
        self.max_seconds = max_seconds
        self.stamps: dict[str, str] = {}  # {clip id: audio stamp} of the clips built or checked (``audio_stamp``)
        self.folder = Path(root) / dataset / cache_folder_name(codec, max_seconds)
        self.header = {"format_version": FORMAT_VERSION, "dataset": dataset, "codec": codec.describe(),
                       "identity": codec.identity(), "audio": {"sample_rate_hz": codec.sample_rate_hz, "mono": True,
                                                               "max_seconds": max_seconds}}
        if not isinstance(codec, TokenCodec):  # frames: the header says how they are stored
            self.header["values"] = codec.storage_dtype
        self._check_header()

    def _check_header(self) -> None:
        path = self.folder / "cache.json"
        if not path.is_file():
            return
        try:
            found = io.read_json(path)
        except ValueError:
            ui.warn(f"{path}: unreadable (truncated?); written again from this run's codec identity")
            io.write_json(path, self.header)
            return
        if found.get("format_version") != FORMAT_VERSION:
            raise CodecBenchError(f"{path}: token cache format {found.get('format_version')} is not {FORMAT_VERSION}; "
                                  f"delete {self.folder} to rebuild it")
        if found != self.header:
            differs = ", ".join(f"{k}={_at(found, k)!r} (this run: {_at(self.header, k)!r})"
                                for k in _differences(found, self.header))
            raise CodecBenchError(f"{path}: cache built with {differs}; delete {self.folder} to rebuild it")

    def done_ids(self) -> set[str]:
        return set(self._stored_stamps())

    def _stored_stamps(self) -> dict[str, set[str | None]]:
        """``{clip id: stamps of its stored rows}`` (``None`` for rows of shards written before stamps)."""
        stored: dict[str, set[str | None]] = {}
        for shard in self._shards():
            names = pq.ParquetFile(shard).schema_arrow.names
            table = pq.read_table(shard, columns=["id"] + (["stamp"] if "stamp" in names else []))
            found = table.column("stamp").to_pylist() if "stamp" in names else [None] * table.num_rows
            for clip_id, stamp in zip(table.column("id").to_pylist(), found):
                stored.setdefault(clip_id, set()).add(stamp)
        return stored

    def changed(self, clips: Sequence[Clip]) -> list[Clip]:
        """The clips stored from audio that has changed since (a file replaced or edited in place, a corrupt file
        mended): :meth:`build` encodes them again and :meth:`load` passes their old rows over."""
        stored = self._stored_stamps()
        return [c for c in clips if c.id in stored and not self._current(c, stored)]

    def _current(self, clip: Clip, stored: dict[str, set[str | None]]) -> bool:
        """Whether a stored row holds this clip's audio as it is now (rows from before stamps are trusted); stamps
        the clip (``self.stamps``, read by :meth:`load`)."""
        self.stamps[clip.id] = audio_stamp(clip)
        found = stored.get(clip.id, set())
        return None in found or self.stamps[clip.id] in found

    def _shards(self) -> list[Path]:
        """The finished shards (a damaged one is moved aside: ``cached_codes.finished_shards``)."""
        return finished_shards(self.folder)

    def build(self, clips: Sequence[Clip], batch_size: int = 16, num_workers: int = 0, shard_size: int = 512,
              all_clips: bool = False, stage: str = "encode") -> dict:
        """Encode this process's share of the clips not cached yet; returns ``{"encoded", "cached", "skipped"}``
        counts for this process. ``all_clips``: encode every clip here even under several processes (work that
        only rank 0 does)."""
        me, world = (0, 1) if all_clips else (rank(), world_size())
        self.folder.mkdir(parents=True, exist_ok=True)
        with build_lock(self.folder / f"share-{me}-of-{world}", "token cache share"):
            if not (self.folder / "cache.json").is_file():
                io.write_json(self.folder / "cache.json", self.header)
            stored = self._stored_stamps()
            done = {c.id for c in clips if self._current(c, stored)}
            todo, siblings = unique_audio([c for c in sorted(clips, key=lambda c: c.id) if c.id not in done])
            todo = [c for c in todo if share_of(c.path, world) == me]
            todo.sort(key=size_hint)  # similar lengths together: less padding per batch
            cached = len(stored) - sum(c.id in stored for c in clips if c.id not in done)  # changed: not cached
            with ui.stage(stage, len(todo), f"clips ({cached} from cache)") as bar:
                return self._encode(todo, siblings, me, cached, batch_size, num_workers, shard_size, bar)

    def _encode(self, todo: list[Clip], siblings: dict[str, list[str]], me: int, cached: int, batch_size: int,
                num_workers: int, shard_size: int, bar: ui.StageBar) -> dict:
        next_index = 1 + max([shard_order(p)[1] for p in self._shards() if shard_order(p)[0] == me], default=-1)
        counts = {"encoded": 0, "cached": cached, "skipped": 0, "truncated": 0}
        rows: list[dict] = []
        values = 0
        for batch in self._batches(todo, batch_size, num_workers):
            encoded = self._encode_batch(batch)
            encoded = [dict(r, stamp=self.stamps.get(r["id"])) for r in encoded]
            rows += encoded + [dict(r, id=other) for r in encoded for other in siblings.get(r["id"], [])]
            values += sum(len(r["codes"]) for r in encoded)
            bar.advance(len(batch))
            if len(rows) >= shard_size or values >= MAX_SHARD_VALUES:
                next_index, rows, values = self._write_shard(rows, me, next_index, counts), [], 0
        if rows:
            self._write_shard(rows, me, next_index, counts)
        return counts

    def _batches(self, clips: list[Clip], batch_size: int, num_workers: int | None):
        """Batches of ``(id, preprocessed, error, truncated)``; ``num_workers`` None: ``min(4, cores - 1)``."""
        if not clips:
            return []
        num_workers = usable_workers(num_workers)
        loader = torch.utils.data.DataLoader(
            ClipAudio(clips, self.codec, self.max_seconds), batch_size=batch_size, num_workers=num_workers,
            collate_fn=list, pin_memory=False, prefetch_factor=4 if num_workers else None,
        )
        return loader

    def _encode_batch(self, batch: list[tuple[str, object, str | None, bool]]) -> list[dict]:
        ok = [(i, item) for i, item, err, _ in batch if err is None]
        try:
            codes = self.codec.encode_preprocessed([item for _, item in ok]) if ok else []
        except torch.cuda.OutOfMemoryError as err:
            raise CodecBenchError("CUDA out of memory while encoding; lower --batch-size (cached shards are kept)") from err
        by_id = {i: c for (i, _), c in zip(ok, codes)}
        rows = []
        for clip_id, _, err, truncated in batch:
            code = by_id.get(clip_id)
            rows.append({"id": clip_id, "codes": [] if code is None else code.reshape(-1),
                         "frames": 0 if code is None else int(code.shape[-1]),
                         "num_codebooks": 0 if code is None else int(code.shape[0]), "error": err, "truncated": truncated})
        return rows

    def _write_shard(self, rows: list[dict], me: int, index: int, counts: dict) -> int:
        schema = shard_schema(self.codec.storage_dtype)
        columns = {k: [r.get(k) for r in rows] for k in ("id", "num_codebooks", "frames", "error", "stamp")}
        values = [np.asarray(r["codes"], dtype=self.codec.storage_dtype) for r in rows]
        offsets = np.concatenate([[0], np.cumsum([v.size for v in values])]).astype(np.int32)
        flat = np.concatenate(values) if values else np.zeros(0)
        columns["codes"] = pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, type=schema.field("codes").type.value_type))
        row_bytes = max(1, flat.nbytes // max(len(rows), 1))
        group_rows = int(np.clip(GROUP_BYTES // row_bytes, 1, MAX_GROUP_ROWS))
        name = f"shard-r{me}-{index:05d}-{uuid.uuid4().hex[:8]}.parquet"
        with io.atomic_path(self.folder / name) as tmp:
            pq.write_table(pa.table(columns, schema=schema), tmp, row_group_size=group_rows, write_page_checksum=True)
        counts["skipped"] += sum(r["error"] is not None for r in rows)
        counts["truncated"] = counts.get("truncated", 0) + sum(bool(r.get("truncated")) for r in rows)
        counts["encoded"] += sum(r["error"] is None for r in rows)
        return index + 1

    def add(self, items: Iterable[tuple[str, np.ndarray]], shard_size: int = 512) -> int:
        """Store codes computed elsewhere: ``(clip id, codes (num_codebooks, frames))`` pairs, streamed into shards
        (codes imported from another tool, or synthetic corpora for ``bench/scale.py``); returns how many."""
        self.folder.mkdir(parents=True, exist_ok=True)
        counts = {"encoded": 0, "cached": 0, "skipped": 0}
        with build_lock(self.folder / "share-0-of-1", "token cache share"):
            if not (self.folder / "cache.json").is_file():
                io.write_json(self.folder / "cache.json", self.header)
            index = 1 + max([shard_order(p)[1] for p in self._shards() if shard_order(p)[0] == 0], default=-1)
            rows: list[dict] = []
            for clip_id, codes in items:
                codes = np.asarray(codes)
                rows.append({"id": clip_id, "codes": codes.reshape(-1), "frames": int(codes.shape[-1]),
                             "num_codebooks": int(codes.shape[0]), "error": None})
                if len(rows) >= shard_size:
                    index, rows = self._write_shard(rows, 0, index, counts), []
            if rows:
                self._write_shard(rows, 0, index, counts)
        return counts["encoded"]

    def load(self, ids: Iterable[str] | None = None) -> tuple[CachedCodes, dict[str, str]]:
        """``(codes, errors)``: a lazy read-only mapping ``{id: codes (num_codebooks, frames) int64}`` over the
        shards (a continuous front-end's features are ``(feature_dim, frames)`` in its storage dtype), restricted
        to ``ids`` when given, and ``{id: skip reason}`` of the clips that could not be encoded. Clips whose audio
        this cache has stamped (:meth:`build`, :meth:`changed`) are read from rows of their current audio."""
        codes = CachedCodes(self._shards(), None if ids is None else set(ids), stamps=self.stamps or None)
        return codes, codes.errors


DEFAULT_MAX_SECONDS = 30.0


def cache_folder_name(codec: ClipEncoder, max_seconds: float | None) -> str:
    """``codec.cache_key()``, plus the clip-length limit when it is not the default 30 s (``-max10s``, ``-full``):
    caches of one codec with other limits live side by side (the default keeps the folder names it always had)."""
    if max_seconds == DEFAULT_MAX_SECONDS:
        return codec.cache_key()
    return f"{codec.cache_key()}-{'full' if max_seconds is None else f'max{max_seconds:g}s'}"


def _differences(a: dict, b: dict, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested dicts."""
    keys = []
    for key in sorted(set(a) | set(b)):
        if isinstance(a.get(key), dict) and isinstance(b.get(key), dict):
            keys += _differences(a[key], b[key], f"{prefix}{key}.")
        elif a.get(key) != b.get(key):
            keys.append(f"{prefix}{key}")
    return keys


def _at(tree: dict, dotted: str):
    for part in dotted.split("."):
        tree = tree.get(part) if isinstance(tree, dict) else None
    return tree
