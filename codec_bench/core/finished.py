"""Every finished file proves it is whole: done-markers with sizes and checksums, checked before anything is reused.

A stage that finishes writes its files atomically (``io.atomic_path``), then its done-marker, a JSON file that
lists each file with its size and SHA-256 (:func:`mark_done`). On a rerun the stage reuses its output only if the
marker is there and every file it lists still has that size and checksum (:func:`check_done`); otherwise it says
which file is broken, in one line, and rebuilds what it can (:func:`rebuild`). Files above ``CHECKSUM_LIMIT`` are
checked by size only when reused (hashing a multi-GB model on every rerun would dominate it); their checksum is
still recorded. Cache shards are Parquet files with page checksums, checked by Parquet itself (``cache``).

Out of space: :func:`disk_guard` turns a write that failed for lack of space (``ENOSPC``, a quota, or a library's
own wording of it) into one line naming the folder, the free space, an estimate of what is needed and the fix.
Nothing half-written is left under a final name, so the rerun on a larger disk continues from the finished stages.
"""

from __future__ import annotations

import errno
import hashlib
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from . import io, ui
from .errors import CodecBenchError

CHECKSUM_LIMIT = 256 << 20
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
DISK_FULL_WORDS = ("no space left on device", "disk quota exceeded", "file write failed")


def fingerprint(path: str | Path) -> dict:
    """``{"bytes": size, "sha256": hex}`` of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return {"bytes": Path(path).stat().st_size, "sha256": digest.hexdigest()}


def mark_done(marker: str | Path, files: Iterable[str | Path], **info) -> None:
    """Write ``marker`` (atomic JSON): ``info`` plus ``files``, each (relative to the marker's folder) with its
    size and checksum. Call it after the files themselves are written."""
    marker = Path(marker)
    listed = {str(Path(f).resolve().relative_to(marker.parent.resolve())): fingerprint(f) for f in files}
    io.write_json(marker, {**info, "files": listed})


def check_done(marker: str | Path) -> str | None:
    """None when ``marker`` exists and every file it lists is whole; else what is wrong, in a few words."""
    marker = Path(marker)
    if not marker.is_file():
        return "not finished (no done-marker)"
    try:
        listed = io.read_json(marker)["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"{marker.name} is unreadable"
    for name, expected in listed.items():
        path = marker.parent / name
        if not path.is_file():
            return f"{name} is missing"
        size = path.stat().st_size
        if size != expected["bytes"]:
            return f"{name} has {size} bytes, {expected['bytes']} were written"
        if size <= CHECKSUM_LIMIT and fingerprint(path)["sha256"] != expected["sha256"]:
            return f"{name} changed since it was written (checksum)"
    return None


def reusable(marker: str | Path, what: str, output: str | Path | None = None) -> bool:
    """True when the stage's output can be reused. When it cannot although something was written (the marker,
    or ``output``: the stage's file or folder), what is wrong is announced in one line."""
    problem = check_done(marker)
    if problem is None:
        return True
    if Path(marker).is_file() or (output is not None and Path(output).exists()):
        ui.warn(f"{output or marker}: {what} not reused ({problem}); rebuilding it")
    return False


def rebuild(folder: str | Path) -> None:
    """Remove a broken stage output so that it is rebuilt from scratch."""
    folder = Path(folder)
    if folder.is_dir():
        shutil.rmtree(folder)
    elif folder.exists():
        folder.unlink()


def files_in(folder: str | Path, skip: tuple[str, ...] = ()) -> list[Path]:
    """Every file under ``folder`` except those named in ``skip`` (the marker itself)."""
    return sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.name not in skip)


def disk_error(err: BaseException) -> bool:
    """Whether ``err`` (or what caused it) is a write that failed for lack of space."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno in DISK_FULL:
            return True
        if any(words in str(err).lower() for words in DISK_FULL_WORDS):
            return True
        err = err.__cause__ or err.__context__
    return False


@contextmanager
def disk_guard(folder: str | Path, what: str, needed_bytes: int | None = None) -> Iterator[None]:
    """Turn running out of space inside the block into a one-line error naming ``folder``, the free space and an
    estimate of what ``what`` needs."""
    try:
        yield
    except CodecBenchError:
        raise
    except Exception as err:
        if not disk_error(err):
            raise
        free = shutil.disk_usage(_existing(Path(folder))).free
        need = f", about {_size(needed_bytes)} needed" if needed_bytes else ""
        raise CodecBenchError(
            f"{folder}: no space left on the device while {what} ({_size(free)} free{need}); free some "
            "space or pass --out on a larger disk and rerun: finished stages are kept, nothing half-written is"
        ) from err


def os_error_message(err: BaseException) -> str | None:
    """One line for an OS error a user can fix (no space, no permission, read-only filesystem); None otherwise."""
    if disk_error(err):
        where = Path(getattr(err, "filename", None) or ".")
        free = shutil.disk_usage(_existing(where)).free
        return f"{where}: no space left on the device ({_size(free)} free); free some space or use a larger disk and rerun"
    if isinstance(err, OSError) and err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{err.filename}: {err.strerror.lower()}; pass an --out (or --cache-root) folder this user can write to"
    return None


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"
