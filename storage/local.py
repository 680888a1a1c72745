"""Write-once object store on a local filesystem (the embedded default).

Layout under `root`: the key is the relative path (`objects/sha256/<hex>`, `ledger/...`);
`staging/` holds uploads in progress on the same filesystem; `meta/` holds legal hold and
retention records.

An object is written to staging, fsynced, made read-only, then `os.link`ed to its key.
A link never replaces an existing name, so a key is written at most once even when two
identical uploads commit at the same moment; the loser sees the existing file.

Protection here is best-effort: mode 0444 and a store that refuses to delete evidence
stop accidents, not an administrator. The WORM guarantee comes from S3 Object Lock.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from storage.base import (
    READ_BYTES_LIMIT,
    Protection,
    Retention,
    StoredObject,
    Upload,
    check_extension,
    merge_retention,
    resolve_range,
)
from storage.errors import (
    IntegrityError,
    ObjectExists,
    ObjectNotFound,
    RetentionViolation,
    SizeLimitExceeded,
    StorageError,
)
from storage.fsio import (
    fsync_dir,
    make_dirs,
    release_pages,
    translate_os_errors,
    unlink_quietly,
    write_all,
)
from storage.hashing import Digests
from storage.keys import check_key, check_named_write, check_prefix, content_key, is_protected
from storage.local_meta import ProtectionRecords
from storage.upload import BaseUpload

#: owner read-only: evidence is neither writable nor readable by other users of the machine
_READ_ONLY = 0o400
_PRIVATE_DIR = 0o700
#: an upload's bytes go to the disk and leave the page cache in windows of this size
_WRITEBACK_WINDOW = 8 << 20
#: uploads stage in staging/; whole small objects (ledger archive, tokens, tiles, CRLs),
#: written by the ledger's own threads at any moment, in staging-small/, so an upload's
#: staging says only what uploads left behind
_INTERNAL_DIRS = ("staging", "staging-small", "meta")


class LocalWormStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._staging = self.root / "staging"
        self._small_staging = self.root / "staging-small"
        with translate_os_errors(f"creating the store at {self.root}"):
            for directory in (self.root, self._staging, self._small_staging, self.root / "meta"):
                directory.mkdir(parents=True, exist_ok=True, mode=_PRIVATE_DIR)
            # Tightens a store made by an earlier release (or under a loose umask).
            os.chmod(self.root, _PRIVATE_DIR)
        self._records = ProtectionRecords(self.root / "meta")

    def __repr__(self) -> str:
        return f"LocalWormStore({str(self.root)!r})"

    # -- paths ------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _existing(self, key: str) -> Path:
        path = self._path(key)
        if not path.is_file():
            raise ObjectNotFound(key)
        return path

    # -- writing ----------------------------------------------------------------------

    def begin_upload(
        self,
        *,
        expected_sha256: str | None = None,
        max_size: int | None = None,
        retention: Retention | None = None,
    ) -> Upload:
        return _LocalUpload(
            self, expected_sha256=expected_sha256, max_size=max_size, retention=retention
        )

    def _new_staging_file(self, *, small: bool = False) -> tuple[Path, int]:
        path = (self._small_staging if small else self._staging) / f"{uuid.uuid4().hex}.tmp"
        with translate_os_errors("creating a staging file"):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        return path, fd

    def _seal_and_link(self, tmp: Path, fd: int, key: str) -> bool:
        """Persist the staging file, make it read-only and give it its key.

        Returns False if the key already existed (the staging file is then left for the
        caller to remove). The caller closes nothing: `fd` is closed here.
        """
        try:
            os.fsync(fd)
            release_pages(fd)
            os.fchmod(fd, _READ_ONLY)
        finally:
            os.close(fd)
        final = self.root / key
        make_dirs(final.parent, self.root)
        try:
            os.link(tmp, final)
        except FileExistsError:
            return False
        fsync_dir(final.parent)
        return True

    def _drop_staging(self, tmp: Path) -> None:
        # Failing here is harmless: the object is safe under its key already, and
        # cleanup_staging() sweeps the leftover.
        with suppress(OSError):
            unlink_quietly(tmp)

    def put_bytes(self, key: str, data: bytes, *, retention: Retention | None = None) -> None:
        path = self._path(key)
        check_named_write(key, hashlib.sha256(data).hexdigest())
        if retention is not None:
            retention.require_future()
        if not self._same_content(key, path, data):
            tmp, fd = self._new_staging_file(small=True)
            try:
                with translate_os_errors(f"writing {key}"):
                    try:
                        write_all(fd, data)
                    except BaseException:
                        os.close(fd)
                        raise
                    created = self._seal_and_link(tmp, fd, key)
            finally:
                self._drop_staging(tmp)
            if not created:
                # Lost a race with a concurrent writer of the same key.
                self._same_content(key, path, data)
        if retention is not None:
            self._retain_at_least(key, retention)

    def _same_content(self, key: str, path: Path, data: bytes) -> bool:
        """False if `key` is free; True if it holds `data`; ObjectExists otherwise."""
        try:
            with path.open("rb") as fh:
                if os.fstat(fh.fileno()).st_size == len(data) and fh.read() == data:
                    return True
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StorageError(f"reading {key}: {exc}") from exc
        raise ObjectExists(key)

    def _retain_at_least(self, key: str, retention: Retention) -> None:
        def change(current: Protection) -> Protection:
            merged = merge_retention(current.retention, retention)
            return current if merged is None else replace(current, retention=merged)

        self._records.update(key, change)

    # -- reading ----------------------------------------------------------------------

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            raise ObjectNotFound(key) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def open_range(
        self, key: str, start: int = 0, end: int | None = None, chunk_size: int = 1 << 20
    ) -> Iterator[bytes]:
        path = self._path(key)
        stop = resolve_range(start, end, self.size(key), chunk_size)
        return self._read_range(path, start, stop, chunk_size)

    @staticmethod
    def _read_range(path: Path, start: int, stop: int, chunk_size: int) -> Iterator[bytes]:
        with path.open("rb", buffering=0) as fh:
            fh.seek(start)
            remaining = stop - start
            while remaining > 0:
                chunk = fh.read(min(chunk_size, remaining))
                if not chunk:
                    raise IntegrityError(f"{path.name} ended {remaining} bytes early")
                remaining -= len(chunk)
                yield chunk

    def read_bytes(self, key: str) -> bytes:
        size = self.size(key)
        if size > READ_BYTES_LIMIT:
            raise SizeLimitExceeded(READ_BYTES_LIMIT, f"{key} ({size} bytes)")
        return self._path(key).read_bytes()

    def list_keys(self, prefix: str) -> Iterator[str]:
        check_prefix(prefix)
        head = prefix.rpartition("/")[0]
        start = self.root / head if head else self.root
        return self._walk(start, f"{head}/" if head else "", prefix)

    def _walk(self, directory: Path, rel: str, prefix: str) -> Iterator[str]:
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return
        # Sorting directories as "name/" yields keys in plain string order, as S3 does.
        items: list[tuple[str, str, bool]] = []
        for entry in entries:
            if not rel and entry.name in _INTERNAL_DIRS:
                continue
            is_dir = entry.is_dir(follow_symlinks=False)
            items.append((entry.name + "/" if is_dir else entry.name, rel + entry.name, is_dir))
        items.sort()
        for _, key, is_dir in items:
            if is_dir:
                sub = key + "/"
                if sub.startswith(prefix) or prefix.startswith(sub):
                    yield from self._walk(directory / key.rpartition("/")[2], sub, prefix)
            elif key.startswith(prefix):
                yield key

    # -- protection -------------------------------------------------------------------

    def protection(self, key: str) -> Protection:
        self._existing(key)
        return self._records.read(key)

    def set_legal_hold(self, key: str, on: bool) -> None:
        self._existing(key)
        self._records.update(key, lambda current: replace(current, legal_hold=on))

    def extend_retention(self, key: str, retention: Retention) -> None:
        self._existing(key)
        retention.require_future()

        def change(current: Protection) -> Protection:
            check_extension(key, current.retention, retention)
            return replace(current, retention=retention)

        self._records.update(key, change)

    def delete(self, key: str) -> None:
        path = self._existing(key)
        if is_protected(key):
            raise RetentionViolation(f"{key}: evidence and ledger objects are never deleted")
        current = self._records.read(key)
        if current.legal_hold:
            raise RetentionViolation(f"{key} is under legal hold")
        if current.retention is not None and current.retention.until > datetime.now(UTC):
            raise RetentionViolation(
                f"{key} is retained until {current.retention.until.isoformat()}"
            )
        with translate_os_errors(f"deleting {key}"):
            path.unlink()
            fsync_dir(path.parent)
        self._records.remove(key)

    def cleanup_staging(self, older_than_s: float = 0) -> int:
        cutoff = time.time() - older_than_s
        removed = 0
        with translate_os_errors("cleaning staging"):
            for directory in (self._staging, self._small_staging):
                swept = 0
                for entry in os.scandir(directory):
                    try:
                        if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime <= cutoff:
                            os.unlink(entry.path)
                            swept += 1
                    except FileNotFoundError:
                        continue
                if swept:
                    fsync_dir(directory)
                removed += swept
        return removed


class _LocalUpload(BaseUpload):
    def __init__(
        self,
        store: LocalWormStore,
        *,
        expected_sha256: str | None,
        max_size: int | None,
        retention: Retention | None,
    ) -> None:
        super().__init__(expected_sha256=expected_sha256, max_size=max_size, retention=retention)
        self._store = store
        self._tmp, self._fd = store._new_staging_file()
        self._released = 0  # bytes before this offset have had writeback started

    def _append(self, chunk: bytes) -> None:
        with translate_os_errors("writing upload"):
            write_all(self._fd, chunk)
        window = _WRITEBACK_WINDOW
        # `size` already counts this chunk: BaseUpload hashes (and counts) before appending.
        while self.size - self._released >= window:
            # Start writeback of the window just filled; the one two windows back has
            # had time to reach the disk, so this second call drops its pages.
            release_pages(self._fd, self._released, window)
            if self._released >= 2 * window:
                release_pages(self._fd, self._released - 2 * window, window)
            self._released += window

    def _publish(self, digests: Digests) -> StoredObject:
        key = content_key(digests.sha256)
        fd, self._fd = self._fd, -1
        with translate_os_errors(f"committing {key}"):
            created = self._store._seal_and_link(self._tmp, fd, key)
            if not created:
                existing = (self._store.root / key).stat().st_size
                if existing != digests.size:
                    raise IntegrityError(
                        f"{key} holds {existing} bytes but its content is {digests.size} bytes"
                    )
        self._store._drop_staging(self._tmp)
        if self.retention is not None:
            self._store._retain_at_least(key, self.retention)
        return StoredObject(key=key, digests=digests, created=created)

    def _discard(self) -> None:
        fd, self._fd = self._fd, -1
        with translate_os_errors("removing upload staging"):
            if fd >= 0:
                os.close(fd)
            unlink_quietly(self._tmp)
