"""Staging space, reserved before a byte is accepted.

A resumable session declaring N bytes reserves what it still needs on each local
filesystem: N minus what its spool already holds on the spool's, and N on the store's
until it completes (completion copies the spool into the store; on one filesystem the
bytes are there twice for a moment). A new session, or a one-shot upload of known
length, is admitted only if that fits in the free space minus every reservation minus
the reserve kept for holds and the ledger; otherwise 507, before anything is written.
Reservations live in the sessions' rows, so they are released by completion, abandon
and expiry without bookkeeping, and are shared by every API process on the database.
Creation checks and inserts under one lock (SQLite's write lock, a PostgreSQL advisory
lock), so racing sessions cannot both take the last free bytes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, func, text
from sqlmodel import Session, col, select

from app.db import write_session
from app.disk import space
from app.disk.errors import InsufficientStorage, UploadQuotaExceeded
from app.uploads.models import UploadSession, UploadState
from app.vault import Vault

#: the spool's directory under the data directory
SPOOL_DIR = "uploads"
#: any fixed 64-bit key, distinct from the sequencer's: serialises admissions
RESERVATION_LOCK_ID = 0x4C4F43415253  # "LOCARS"


@dataclass(frozen=True)
class Need:
    """Bytes still to be written: into the spool, and into the store."""

    spool: int
    store: int


def _lock(s: Session) -> None:
    if s.get_bind().dialect.name == "postgresql":
        s.exec(text("SELECT pg_advisory_xact_lock(:k)").bindparams(k=RESERVATION_LOCK_ID))  # type: ignore[call-overload]
    # SQLite: the service session begins IMMEDIATE, so its first statement takes the
    # database write lock, held until commit.


def _live(now: datetime) -> list[ColumnElement[bool]]:
    return [
        col(UploadSession.state) == UploadState.open.value,
        col(UploadSession.expires_at) > now,
    ]


def outstanding(s: Session, now: datetime) -> Need:
    """What open sessions still hold in reserve (an expired one holds nothing: the sweep
    removes its spool)."""
    spool, store = s.exec(
        select(
            func.coalesce(func.sum(col(UploadSession.size) - col(UploadSession.upload_offset)), 0),
            func.coalesce(func.sum(col(UploadSession.size)), 0),
        ).where(*_live(now))
    ).one()
    return Need(int(spool), int(store))


def held_by(s: Session, principal_id: str, now: datetime) -> int:
    total = s.exec(
        select(func.coalesce(func.sum(col(UploadSession.size)), 0)).where(
            col(UploadSession.principal_id) == principal_id, *_live(now)
        )
    ).one()
    return int(total)


# -- one-shot uploads in flight in this process -------------------------------------------

_streams_lock = threading.RLock()
_streams: dict[int, int] = {}  # filesystem (st_dev) -> bytes being streamed into it


def _streaming(dev: int) -> int:
    with _streams_lock:
        return _streams.get(dev, 0)


# -- admission ----------------------------------------------------------------------------


def _where(vault: Vault) -> list[tuple[space.Volume, str]]:
    found = [(space.probe("upload spool", vault.settings.data_dir / SPOOL_DIR), "spool")]
    if vault.settings.store == "local":
        found.append((space.probe("store", vault.settings.store_dir), "store"))
    return found


def _check(vault: Vault, new: Need, held: Need) -> None:
    per_dev: dict[int, tuple[space.Volume, int, int]] = {}
    for volume, part in _where(vault):
        wanted = getattr(new, part)
        reserved = getattr(held, part)
        v, w, r = per_dev.get(volume.dev, (volume, 0, 0))
        per_dev[volume.dev] = (v, w + wanted, r + reserved)
    reserve = vault.settings.reserve_free_bytes
    for dev, (volume, wanted, reserved) in per_dev.items():
        reserved += _streaming(dev)
        room = volume.free - reserved - reserve
        if wanted > room:
            raise InsufficientStorage(
                f"not enough free space: this upload needs {wanted} bytes on the {volume.name}'s "
                f"filesystem, which has {volume.free} free, {reserved} of them reserved by "
                f"uploads in progress and {reserve} kept in reserve for the ledger"
            )


def admit_session(
    s: Session, vault: Vault, principal_id: str, size: int, quota: int, now: datetime
) -> None:
    """Refuse a new session that does not fit, inside `s`'s transaction (which must
    then insert the session and commit, releasing the lock)."""
    _lock(s)
    held = held_by(s, principal_id, now)
    if held + size > quota:
        raise UploadQuotaExceeded(
            f"your open uploads declare {held} bytes; {size} more would pass your staging "
            f"quota of {quota} bytes (LOCARD_UPLOAD_QUOTA_BYTES): complete or abandon one first"
        )
    _check(vault, Need(spool=size, store=size), outstanding(s, now))


def upload_room(vault: Vault, length: int | None) -> ExitStack:
    """`streaming` for a view: entered now (refusing at once), left by `close()`."""
    stack = ExitStack()
    stack.enter_context(streaming(vault, length, datetime.now(UTC)))
    return stack


@contextmanager
def streaming(vault: Vault, length: int | None, now: datetime) -> Iterator[None]:
    """Hold room for a one-shot upload of `length` bytes into the local store while it
    streams; refused (507) before its body is read. Chunked bodies (no length) are not
    admitted ahead: a full disk stops them with nothing stored."""
    if length is None or vault.settings.store != "local":
        yield
        return
    with write_session(vault.engine) as s:
        held = outstanding(s, now)
    dev = space.probe("store", vault.settings.store_dir).dev
    with _streams_lock:  # checked and counted at once: concurrent uploads see each other
        _check(vault, Need(spool=0, store=length), held)
        _streams[dev] = _streams.get(dev, 0) + length
    try:
        yield
    finally:
        with _streams_lock:
            _streams[dev] -= length
