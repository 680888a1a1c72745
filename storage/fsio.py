"""Durable-write helpers for the local store, and OSError → typed error translation."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from storage.errors import StorageError, StorageFull

_FULL = {errno.ENOSPC, errno.EDQUOT}


@contextmanager
def translate_os_errors(what: str) -> Iterator[None]:
    """Turn OSError into StorageFull (disk or quota full) or StorageError."""
    try:
        yield
    except OSError as exc:
        if exc.errno in _FULL:
            raise StorageFull(f"{what}: no space left on the store's filesystem") from exc
        raise StorageError(f"{what}: {exc}") from exc


def write_all(fd: int, data: bytes | memoryview) -> None:
    """os.write until every byte is written (it may write less than asked)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def release_pages(fd: int, offset: int = 0, length: int = 0) -> None:
    """Hand a written range to the disk and drop its clean pages from the page cache.

    On Linux POSIX_FADV_DONTNEED starts writeback of dirty pages and drops the clean
    ones, so calling it once when a range is written and again a little later frees it.
    Evidence is written once and rarely read soon: a 100 GiB image should not evict the
    machine's cache, and recycled pages are much cheaper to write into than fresh ones
    (bench/ingest.py). Advisory: a no-op where unsupported, never an error.
    """
    advise = getattr(os, "posix_fadvise", None)  # absent on macOS
    if advise is not None:
        with suppress(OSError):
            advise(fd, offset, length, os.POSIX_FADV_DONTNEED)


def fsync_dir_quietly(path: Path) -> None:
    """`fsync_dir` where durability of the name is wanted but not every platform or file
    system can open or sync a directory: failures are ignored."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Persist a directory's entries (a new or removed name), not just the file data."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(path: Path, stop: Path) -> None:
    """mkdir -p `path`, fsyncing each parent that gained an entry, up to `stop`."""
    missing: list[Path] = []
    current = path
    while current != stop and not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        try:
            # Private to the vault's user, whatever the umask allows.
            directory.mkdir(mode=0o700)
        except FileExistsError:
            continue
        fsync_dir(directory.parent)


def unlink_quietly(path: Path) -> None:
    with suppress(FileNotFoundError):
        path.unlink()
