"""Files that several processes may write at once: atomic replacement and a lock per cache entry.

`atomic_write(path, write)` writes through a uniquely named temporary file in the same folder and
renames it over `path` (os.replace), so a reader sees the old file or the new one, never half of
one, and two writers never share a temporary name. `entry_lock(path)` holds an exclusive lock on
`<path>.lock` (fcntl.flock where it exists, else an O_EXCL lock file that is polled), so two runs
sharing one out/ folder compute each cache entry once: the second waits, then reads the first's.
With `blocking=False` a held lock raises `LockBusy` instead of waiting (the runner, while it has jobs
in flight, takes the next entry rather than wait with locks of its own held).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["atomic_write", "entry_lock", "LockBusy", "writable_dir", "sha256_file"]

STALE_LOCK_SECONDS = 6 * 3600.0  # the fallback lock file of a run that died is ignored after this


class LockBusy(Exception):
    """Another process holds the entry's lock (raised only by `entry_lock(…, blocking=False)`)."""


def atomic_write(path: str | Path, write: Callable[[IO[Any]], None], mode: str = "w") -> Path:
    """Write `path` atomically: `write(fh)` fills a temporary file beside it, which then replaces it."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def sha256_file(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, as hex."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@contextlib.contextmanager
def _flock(lock: Path, blocking: bool = True) -> Iterator[None]:
    with open(lock, "a") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockBusy(str(lock)) from None
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def _lockfile(lock: Path, poll: float = 0.2, blocking: bool = True) -> Iterator[None]:
    """Where there is no fcntl: create the lock file exclusively, waiting while another holds it."""
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            with contextlib.suppress(OSError):
                if time.time() - lock.stat().st_mtime > STALE_LOCK_SECONDS:
                    lock.unlink()
                    continue
            if not blocking:
                raise LockBusy(str(lock)) from None
            time.sleep(poll)
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        yield
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()


def entry_lock(
    path: str | Path, use_fcntl: bool | None = None, blocking: bool = True
) -> contextlib.AbstractContextManager[None]:
    """An exclusive lock for the cache entry `path` (on `<path>.lock`), held for the `with` block;
    with `blocking=False`, entering raises `LockBusy` when another process holds it."""
    lock = Path(str(path) + ".lock")
    if use_fcntl is None:
        use_fcntl = fcntl is not None
    return _flock(lock, blocking) if use_fcntl else _lockfile(lock, blocking=blocking)


def writable_dir(path: str | Path) -> str | None:
    """None if `path` is (or can be made) a folder we can write into; else why not, in a few words."""
    path = Path(path)
    for parent in [path, *path.parents]:
        if parent.exists() and not parent.is_dir():
            return f"{parent} is a file, not a folder"
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".write-test.")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return f"cannot write there ({exc.strerror or exc})"
    return None
