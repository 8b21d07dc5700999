"""Reading the token cache: ``{clip id: codes}`` read lazily from its Parquet shards (:class:`CachedCodes`).

An index of ids (from the shards' small columns) is held in memory; codes are read from Parquet row groups on demand
(groups of about 1 MB, a small LRU of decoded groups), so a corpus larger than memory trains and evaluates with a
bounded footprint::

    codes = CachedCodes(finished_shards(folder))  # folder/shard-r0-00000-<token>.parquet, ...
    codes["1-100032-A-0"].shape == (1, 250)       # (num_codebooks, frames) int64, read from its row group
    codes.frames("1-100032-A-0") == 250           # from the index: no codes read
    codes.errors == {"1-100038-A-14": "..."}      # clips that could not be encoded: {id: why}

A damaged shard (truncated, not Parquet) is moved to ``broken/`` with a message, so its clips are encoded again.
"""

from __future__ import annotations

import os
import re
from collections import OrderedDict
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..core import ui
from ..core.errors import CodecBenchError

SHARD_NAME = re.compile(r"shard-r(\d+)-(\d+)(?:-[0-9a-f]+)?\.parquet$")


def finished_shards(folder: Path) -> list[Path]:
    """The finished shards of a cache folder, in :func:`shard_order`; a damaged one (truncated, not Parquet) is
    moved to ``broken/`` with a message, so its clips are encoded again."""
    shards = sorted((p for p in Path(folder).glob("shard-r*-*.parquet") if SHARD_NAME.search(p.name)), key=shard_order)
    return [p for p in shards if _readable(p)]


_checked: dict[tuple[str, int, int], bool] = {}


def _readable(shard: Path) -> bool:
    """Whether ``shard`` opens as Parquet (its footer is intact); a damaged one is moved aside, with a message."""
    try:
        stat = shard.stat()
    except FileNotFoundError:  # moved aside by another process
        return False
    key = (str(shard), stat.st_size, stat.st_mtime_ns)
    if key not in _checked:
        try:
            pq.ParquetFile(shard).close()
            _checked[key] = True
        except (pa.ArrowException, OSError) as err:
            _checked[key] = False
            aside = shard.parent / "broken" / shard.name
            aside.parent.mkdir(exist_ok=True)
            try:
                shard.rename(aside)
                ui.warn(f"{shard}: damaged ({str(err).splitlines()[0][:80]}); moved to {aside}, its clips are encoded again")
            except FileNotFoundError:
                pass
    return _checked[key]


def shard_order(path: Path) -> tuple[int, int, str]:
    """``(rank, index, name)`` of a ``shard-r<rank>-<index>-<token>.parquet`` file: the order shards are read in."""
    match = SHARD_NAME.search(path.name)
    return (int(match.group(1)), int(match.group(2)), path.name) if match else (-1, -1, path.name)


class CachedCodes(Mapping[str, np.ndarray]):
    """``{clip id: codes}`` read lazily from cache shards.

    Memory: the index (id -> shard, row group, row; frames and codebooks per clip) and at most ``budget_bytes``
    of decoded row groups and ``open_files`` open shards (least recently used dropped first). Values are
    read-only views into a decoded group.
    A clip stored twice (two writers) keeps its first copy in shard order; given ``stamps`` (``{id: audio stamp}``,
    ``clip_audio.audio_stamp``), copies encoded from audio that has changed since are passed over (rows of shards
    written before stamps existed are taken as they are). Safe in forked DataLoader workers: file
    handles and decoded groups are per process.
    """

    def __init__(self, shards: Sequence[Path], wanted: set[str] | None = None, budget_bytes: int = 32 << 20,
                 open_files: int = 8, stamps: Mapping[str, str] | None = None):
        self.shards = list(shards)
        self.budget_bytes, self.open_files = budget_bytes, open_files
        self.errors: dict[str, str] = {}
        self._row: dict[str, int] = {}
        where, frames, books = [], [], []
        for s, shard in enumerate(self.shards):
            for g, table in _groups(shard):
                ids, errs = table.column("id").to_pylist(), table.column("error").to_pylist()
                found = table.column("stamp").to_pylist() if "stamp" in table.column_names else [None] * len(ids)
                lengths = _frames(table)
                for r, (clip_id, err) in enumerate(zip(ids, errs)):
                    if (wanted is not None and clip_id not in wanted) or clip_id in self._row or clip_id in self.errors:
                        continue
                    if stamps is not None and found[r] is not None and found[r] != stamps.get(clip_id, found[r]):
                        continue  # encoded from audio that has changed since: a newer row holds its codes
                    if err is not None:
                        self.errors[clip_id] = err
                        continue
                    self._row[clip_id] = len(where)
                    where.append((s, g, r))
                    frames.append(lengths[r])
                    books.append(table.column("num_codebooks")[r].as_py())
        self._where = np.asarray(where, dtype=np.int64).reshape(-1, 3)
        self._frames = np.asarray(frames, dtype=np.int64)
        self._books = np.asarray(books, dtype=np.int64)
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._files: OrderedDict[int, pq.ParquetFile] = OrderedDict()
        self._decoded: OrderedDict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._decoded_bytes = 0

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        for key in ("_files", "_decoded"):
            state[key] = OrderedDict()
        state["_decoded_bytes"] = 0
        return state

    def __len__(self) -> int:
        return len(self._row)

    def __iter__(self) -> Iterator[str]:
        return iter(self._row)

    def __contains__(self, clip_id: object) -> bool:
        return clip_id in self._row

    def __getitem__(self, clip_id: str) -> np.ndarray:
        row = self._row[clip_id]
        s, g, r = self._where[row]
        flat, offsets = self._group(int(s), int(g))
        return flat[offsets[r]: offsets[r + 1]].reshape(int(self._books[row]), -1)

    def frames(self, clip_id: str) -> int:
        """Frames of a clip, without reading its codes."""
        return int(self._frames[self._row[clip_id]])

    def num_codebooks(self, clip_id: str) -> int:
        return int(self._books[self._row[clip_id]])

    def _file(self, s: int) -> pq.ParquetFile:
        """An open shard; at most ``open_files`` stay open (each holds its footer and buffers)."""
        if s in self._files:
            self._files.move_to_end(s)
        else:
            self._files[s] = pq.ParquetFile(self.shards[s], page_checksum_verification=True)
            while len(self._files) > self.open_files:
                self._files.popitem(last=False)[1].close()
        return self._files[s]

    def _group(self, s: int, g: int) -> tuple[np.ndarray, np.ndarray]:
        if os.getpid() != self._pid:  # a forked worker: its own handles and decoded groups
            self._reset()
        key = (s, g)
        if key in self._decoded:
            self._decoded.move_to_end(key)
            return self._decoded[key]
        try:
            column = self._file(s).read_row_group(g, columns=["codes"]).column("codes").combine_chunks()
        except (pa.ArrowException, OSError) as err:
            raise CodecBenchError(f"{self.shards[s]}: damaged ({str(err).splitlines()[0][:80]}); delete this file and rerun "
                                  "the same command: its clips are encoded again") from err
        value = (column.flatten().to_numpy(zero_copy_only=False), column.offsets.to_numpy())
        self._decoded[key] = value
        self._decoded_bytes += value[0].nbytes
        while self._decoded_bytes > self.budget_bytes and len(self._decoded) > 1:
            _, (old, _) = self._decoded.popitem(last=False)
            self._decoded_bytes -= old.nbytes
        return value


def _groups(shard: Path) -> Iterator[tuple[int, pa.Table]]:
    """``(row group, table of its small columns)`` for each row group of ``shard``."""
    handle = pq.ParquetFile(shard)
    has_frames = "frames" in handle.schema_arrow.names
    for g in range(handle.num_row_groups):
        stamp = ["stamp"] if "stamp" in handle.schema_arrow.names else []  # shards before stamps: none
        columns = ["id", "num_codebooks", "error"] + stamp + (["frames"] if has_frames else ["codes"])
        yield g, handle.read_row_group(g, columns=columns)


def _frames(table: pa.Table) -> list[int]:
    """Frames per row: the ``frames`` column, or (shards written before it existed) from the codes' lengths."""
    if "frames" in table.column_names:
        return table.column("frames").to_pylist()
    lengths = np.diff(table.column("codes").combine_chunks().offsets.to_numpy())
    books = np.maximum(np.asarray(table.column("num_codebooks").to_pylist(), dtype=np.int64), 1)
    return (lengths // books).tolist()
