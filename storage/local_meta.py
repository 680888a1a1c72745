"""Legal hold and retention for the local store, in one small JSON sidecar per object.

This is bookkeeping, not enforcement: a local filesystem has no Object Lock, and anyone
with root (or the vault's own user) can chmod and delete. The local store consults these
records before any delete; the tamper-proof guarantee needs S3 Object Lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from storage.base import Protection, Retention
from storage.errors import StorageError
from storage.fsio import fsync_dir, make_dirs, translate_os_errors, unlink_quietly, write_all


def _encode(protection: Protection) -> bytes:
    retention = protection.retention
    doc: dict[str, Any] = {
        "legal_hold": protection.legal_hold,
        "retention": (
            None
            if retention is None
            else {"mode": retention.mode, "until": retention.until.isoformat()}
        ),
    }
    return json.dumps(doc, sort_keys=True).encode()


def _decode(raw: bytes, path: Path) -> Protection:
    try:
        doc = json.loads(raw)
        retention = doc["retention"]
        return Protection(
            retention=(
                None
                if retention is None
                else Retention(retention["mode"], datetime.fromisoformat(retention["until"]))
            ),
            legal_hold=bool(doc["legal_hold"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        # A damaged record must not read as "unprotected".
        raise StorageError(f"protection record {path} is unreadable: {exc}") from exc


#: lock files the records are spread over: an update only excludes updates of the same
#: key, and with one lock every new object's two fsyncs queued behind every other's (a
#: collection of 10^4 small files stores several at once)
LOCK_STRIPES = 64


class ProtectionRecords:
    def __init__(self, meta_dir: Path) -> None:
        self._dir = meta_dir

    def _path(self, key: str) -> Path:
        return self._dir / f"{key}.json"

    def read(self, key: str) -> Protection:
        try:
            raw = self._path(key).read_bytes()
        except FileNotFoundError:
            return Protection(retention=None, legal_hold=False)
        except OSError as exc:
            raise StorageError(f"cannot read protection of {key}: {exc}") from exc
        return _decode(raw, self._path(key))

    def _lock_path(self, key: str) -> Path:
        stripe = zlib.crc32(key.encode()) % LOCK_STRIPES
        return self._dir / f".lock.{stripe:02d}"

    @contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        # Read-modify-write of one key from several threads or processes must not lose an
        # update; a stripe's lock file is the same in every process.
        fd = os.open(self._lock_path(key), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def update(self, key: str, change: Callable[[Protection], Protection]) -> Protection:
        """Apply `change` to the current record atomically; returns the new record."""
        with translate_os_errors(f"updating protection of {key}"), self._locked(key):
            new = change(self.read(key))
            self._write(key, new)
            return new

    def remove(self, key: str) -> None:
        with translate_os_errors(f"removing protection of {key}"), self._locked(key):
            unlink_quietly(self._path(key))

    def _write(self, key: str, protection: Protection) -> None:
        path = self._path(key)
        make_dirs(path.parent, self._dir)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            try:
                write_all(fd, _encode(protection))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            unlink_quietly(tmp)
            raise
        fsync_dir(path.parent)
