"""Atomic file writes and JSON/JSONL helpers: a file that exists is a finished file.

Every stage writes to ``<name>.tmp-<pid>``, flushes it to the disk (fsync) and renames it, so neither a killed run
nor a crash of the machine leaves a partial file under a final name. What a stage finished is then recorded with
sizes and checksums in its done-marker (``finished``).
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence, overload

import numpy as np


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path`` (for a file or a folder); rename it onto ``path`` only if the block
    succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent)  # the rename itself
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def _fsync(path: Path) -> None:
    """Flush a file, or a folder's files and the folder's entries, to the disk."""
    if path.is_dir():
        for child in path.rglob("*"):
            if child.is_file():
                _fsync(child)
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:  # some filesystems cannot fsync a folder
        pass
    finally:
        os.close(descriptor)


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_jsonable) + "\n")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> int:
    """Write ``rows`` (streamed) one JSON object a line; returns how many."""
    count = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, default=_jsonable) + "\n")
            count += 1
    return count


def read_jsonl(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


class JsonlFile(Sequence[dict]):
    """A JSONL file read lazily: only each row's byte offset stays in memory; a row is parsed when asked for.
    Iteration streams the file; indexing seeks. Safe in forked DataLoader workers (a handle per process)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        offsets, position = [], 0
        with open(self.path, "rb") as f:
            for line in f:
                if line.strip():
                    offsets.append(position)
                position += len(line)
        self._offsets = np.asarray(offsets, dtype=np.int64)
        self._handle = None
        self._pid = -1

    def __len__(self) -> int:
        return len(self._offsets)

    @overload
    def __getitem__(self, index: int) -> dict: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict]: ...

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if self._pid != os.getpid():
            self._handle, self._pid = open(self.path, "rb"), os.getpid()
        self._handle.seek(int(self._offsets[index]))
        return json.loads(self._handle.readline())

    def __iter__(self) -> Iterator[dict]:
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)

    def __getstate__(self) -> dict:
        return dict(self.__dict__, _handle=None, _pid=-1)


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "tolist"):  # numpy scalars and arrays
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
