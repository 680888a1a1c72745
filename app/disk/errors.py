"""507 Insufficient Storage: the typed refusals, and disk failures told apart from others."""

from __future__ import annotations

import errno
import sqlite3

from app.errors import AppError

#: SQLite result codes (the primary code, the low byte of an extended one)
_SQLITE_IOERR = 10
_SQLITE_FULL = 13
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
#: PostgreSQL's SQLSTATE for disk_full (class 53, insufficient resources)
_PG_DISK_FULL = "53100"


class InsufficientStorage(AppError):
    status = 507
    code = "insufficient_storage"


class ReadOnly(InsufficientStorage):
    """Free space is below the reserve: only reads and legal holds are served."""

    code = "read_only"


class UploadQuotaExceeded(InsufficientStorage):
    """The principal's open uploads already declare as much as its staging quota allows."""

    code = "upload_quota_exceeded"


def disk_failure(exc: BaseException) -> str | None:
    """Why a database or file error was the disk's fault (full, or failing writes), or None.

    A file write reports ENOSPC (or EDQUOT, over a filesystem quota). SQLite reports a
    full disk as SQLITE_FULL, and as SQLITE_IOERR ("disk I/O error") when it could not
    grow its WAL index or journal; PostgreSQL as SQLSTATE 53100."""
    if isinstance(exc, OSError):
        return "no space left on the disk" if exc.errno in _FULL_ERRNOS else None
    orig = getattr(exc, "orig", exc)
    if getattr(orig, "sqlstate", None) == _PG_DISK_FULL:
        return "the database's disk is full"
    if isinstance(orig, sqlite3.OperationalError):
        code = getattr(orig, "sqlite_errorcode", 0) & 0xFF
        text = str(orig).lower()
        if code == _SQLITE_FULL or "database or disk is full" in text:
            return "the database's disk is full"
        if code == _SQLITE_IOERR or "disk i/o error" in text:
            return "the database could not write to its disk (disk I/O error)"
    return None
