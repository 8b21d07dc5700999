"""Several processes at once: the ranks of one job, and file locks around every writer that processes share.

Who runs in parallel: the ranks of one ``torchrun`` / ``accelerate launch`` job (``RANK`` / ``WORLD_SIZE``), the
cells of a study under ``engine: ray`` or ``submitit`` (which share a dataset's token cache, codec fit and
baseline), and two ``codec-bench run`` started on one ``--out``. Each shared writer holds a lock:

- :func:`build_lock` (blocking) for what is built once and reused: the token cache, a codec fit, a base model,
  a manifest, the baseline and probe rows, a study cell, a report. The first process builds; the others wait,
  then find the finished files and reuse them.
- :func:`run_folder_lock` (non-blocking) for a run folder: one job trains and evaluates in it at a time; a
  second job stops at once with a one-line error naming the folder and its holder. In a multi-process job only
  rank 0 takes it (the other ranks are its helpers).

The locks are ``filelock.FileLock`` (``fcntl.flock`` on Linux): the kernel drops a lock when its process dies,
so a killed process never leaves a stale lock behind. A lock file is ``.<name>.lock`` beside what it guards,
except in a folder the user reads as their own (a report's): there it lives in this user's lock folder
(:func:`lock_folder`), named by the guarded path, so the folder holds only the user's files. Beside each lock
file, ``<lock>.owner`` (JSON: host, pid, since, command) says who holds it, for the message of the processes
that wait; it is informational only. On a shared filesystem the locks work across machines where the filesystem
supports POSIX locks (NFSv4, Lustre and GPFS do; NFSv3 needs lockd); without that support a multi-node study
should give each node its own cache folder.

One process must not take the same lock twice (a second FileLock on one path blocks its own process): the
stages take them in one order (manifest, fit, cache, run folder, base model, baseline, probes).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from filelock import FileLock, Timeout

from .errors import CodecBenchError

POLL_SECONDS = 0.5


def rank() -> int:
    """This process's rank in a multi-process job (0 when alone)."""
    return int(os.environ.get("RANK", 0))


def world_size() -> int:
    """Processes in this job (1 when alone)."""
    return int(os.environ.get("WORLD_SIZE", 1))


def is_main_process() -> bool:
    return rank() == 0


def wait_for_everyone() -> None:
    """A barrier across the job's ranks (nothing when alone)."""
    if world_size() > 1:
        import torch
        from accelerate import PartialState

        # cpu=True on a machine without CUDA: accelerate then joins the gloo process group (as the Trainer will)
        PartialState(cpu=not torch.cuda.is_available()).wait_for_everyone()


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def usable_workers(requested: int | None) -> int:
    """DataLoader workers: ``requested``, never more than the cores. Default: with a GPU ``min(4, cores - 1)``
    (the GPU encodes while workers decode); without one 0 (on a CPU the workers would compete with the codec)."""
    cores = available_cores()
    if requested is None:
        import torch

        return max(0, min(4, cores - 1)) if torch.cuda.is_available() else 0
    if requested > cores:
        _say(f"--codec-num-workers {requested} is more than the {cores} cores here; using {cores}")
    return max(0, min(requested, cores))


def lock_folder() -> Path:
    """Where the locks of user-facing folders live: ``$XDG_CACHE_HOME/codec-bench/locks`` (``~/.cache`` by
    default; shared by the machines that share the home folder), else a folder of this user's in the temp folder."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "codec-bench" / "locks"
    try:
        cache.mkdir(parents=True, exist_ok=True)
        return cache
    except OSError:  # a read-only or missing home
        fallback = Path(tempfile.gettempdir()) / f"codec-bench-locks-{os.getuid() if hasattr(os, 'getuid') else 0}"
        fallback.mkdir(parents=True, exist_ok=True)
        return fallback


def lock_path(target: str | Path, beside: bool = True) -> Path:
    """The lock file of ``target`` (a file or folder): ``.<name>.lock`` beside it, or with ``beside=False``
    ``<name>-<hash of its absolute path>.lock`` in :func:`lock_folder`."""
    target = Path(target)
    if beside:
        return target.parent / f".{target.name}.lock"
    key = hashlib.sha256(str(target.resolve()).encode("utf-8")).hexdigest()[:16]
    return lock_folder() / f"{target.name}-{key}.lock"


def holder(target: str | Path, beside: bool = True) -> str:
    """Who holds the lock of ``target``, as its owner file says ("another process" when it cannot tell)."""
    path = Path(f"{lock_path(target, beside)}.owner")
    try:
        owner = json.loads(path.read_text(encoding="utf-8"))
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(owner["since"]))
        return f"pid {owner['pid']} on {owner['host']} since {since}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


def _write_owner(lock: Path) -> None:
    owner = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.time(), "command": " ".join(sys.argv)[:500]}
    path = Path(f"{lock}.owner")
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(json.dumps(owner), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:  # informational only: a read-only or full folder must not fail the lock
        tmp.unlink(missing_ok=True)


def _acquire(target: Path, blocking: bool, what: str, beside: bool = True) -> FileLock:
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    path = lock_path(target, beside)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if not blocking:
            raise
        _say(f"waiting for {what} {target} ({holder(target, beside)})")
        lock.acquire(poll_interval=POLL_SECONDS)
    _write_owner(path)
    return lock


@contextmanager
def build_lock(target: str | Path, what: str = "", beside: bool = True) -> Iterator[None]:
    """Hold the lock of ``target`` while building it; waits (with a message) while another process holds it.
    Inside, check whether the finished result exists before building it. ``beside=False``: the lock file lives in
    :func:`lock_folder`, not beside ``target`` (for folders the user reads, such as a report's)."""
    lock = _acquire(Path(target), True, what or "the lock of", beside)
    try:
        yield
    finally:
        lock.release()


@contextmanager
def run_folder_lock(folder: str | Path) -> Iterator[None]:
    """Hold ``folder`` for this job (rank 0 only; other ranks pass through); fail at once if another job holds it."""
    if not is_main_process():
        yield
        return
    try:
        lock = _acquire(Path(folder), False, "run folder")
    except Timeout:
        raise CodecBenchError(f"{folder}: run folder in use by another codec-bench job ({holder(folder)}); wait for it to "
                              "finish (its results are then reused), or pass another --out") from None
    try:
        yield
    finally:
        lock.release()


def _say(message: str) -> None:
    from . import ui

    ui.warn(message)
