"""Resumable uploads: a session, a spool file that grows chunk by chunk, and completion.

The design in one paragraph. Creating a session runs every check that can refuse the
artifact (the same `plan_ingest` as the one-shot upload), reserves the space the upload
will need (`reserve`: 507 if it does not fit, or passes the principal's staging quota)
and creates an empty spool file `<data_dir>/uploads/<id>.part`. Each PATCH appends at
exactly the session's offset while holding an exclusive `flock` on the spool, fsyncs, and
only then moves the offset in the database: the offset is always a count of bytes that
are on disk. Completion streams the spool into the object store, which re-hashes
everything and refuses a digest that differs from the one declared at creation; only
then is the ingest event recorded. Until then nothing is in the store and nothing is in
the ledger.

The spool lock is an OS lock on the file, so it serialises API processes sharing the data
dir as well as requests within one process, and a crashed process cannot leave it held.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NoReturn

from sqlalchemy import Engine, update
from sqlmodel import col, select

from app.artifacts import service as artifacts
from app.artifacts.ingest import Ingest
from app.artifacts.metadata import ArtifactMeta
from app.artifacts.models import Artifact
from app.auth.models import Principal
from app.db import session, write_session
from app.errors import AppError, BadRequest, Conflict, NotFound, PayloadTooLarge
from app.uploads import reserve
from app.uploads.models import UploadSession, UploadState
from app.uploads.reserve import SPOOL_DIR
from app.uploads.settings import upload_settings
from app.vault import Vault
from custody.ledger import Receipt
from storage.errors import DigestMismatch, StorageError
from storage.fsio import fsync_dir, translate_os_errors, unlink_quietly

log = logging.getLogger(__name__)

_READ = 1 << 20


class Gone(AppError):
    status = 410
    code = "gone"


class UploadBusy(Conflict):
    """Another request holds the session (a PATCH in flight, or completion running)."""

    code = "upload_busy"


class OffsetMismatch(Conflict):
    code = "offset_mismatch"

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


class UploadIncomplete(Conflict):
    code = "upload_incomplete"


class UploadNotOpen(Conflict):
    code = "upload_not_open"


def as_utc(dt: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns; they were stored as UTC.
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def effective_state(row: UploadSession, now: datetime | None = None) -> str:
    """The state as callers should see it: an unfinished session past its expiry is
    expired even before the sweep has got to it."""
    now = now or datetime.now(UTC)
    if row.state in (UploadState.open, UploadState.failed) and as_utc(row.expires_at) <= now:
        return UploadState.expired.value
    return row.state


def spool_dir(vault: Vault) -> Path:
    path = vault.settings.data_dir / SPOOL_DIR
    if not path.is_dir():
        with translate_os_errors("creating the upload spool directory"):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def spool_path(vault: Vault, upload_id: str) -> Path:
    return spool_dir(vault) / f"{upload_id}.part"


# -- reading sessions ------------------------------------------------------------------


def _load(engine: Engine, upload_id: str) -> UploadSession | None:
    if len(upload_id) > 40 or "\x00" in upload_id:
        return None  # PostgreSQL would refuse NUL in the query itself: that is a 404 too
    with session(engine) as s:
        row = s.get(UploadSession, upload_id)
        if row is not None:
            s.expunge(row)
        return row


def get_upload(engine: Engine, who: Principal, upload_id: str) -> UploadSession:
    """The session, for its creator only. Anyone else (admins too) gets the same 404 as
    for an id that does not exist, so upload ids do not leak."""
    row = _load(engine, upload_id)
    if row is None or row.principal_id != who.id:
        raise NotFound(f"no upload {upload_id!r}")
    return row


def _require_open(row: UploadSession) -> None:
    state = effective_state(row)
    if state == UploadState.expired:
        raise Gone(f"upload {row.id} expired; start a new upload")
    if state == UploadState.completed:
        raise UploadNotOpen(f"upload {row.id} is already completed as {row.artifact_id}")
    if state == UploadState.failed:
        raise UploadNotOpen(f"upload {row.id} failed ({row.error}); start a new upload")


def _set_state(
    engine: Engine,
    upload_id: str,
    state: UploadState,
    *,
    unless_finished: bool = False,
    **values: object,
) -> None:
    stmt = update(UploadSession).where(col(UploadSession.id) == upload_id)
    if unless_finished:
        # For writers not holding the lock: never overwrite a completion that won the race.
        stmt = stmt.where(col(UploadSession.state).in_([UploadState.open, UploadState.failed]))
    with engine.begin() as conn:
        conn.execute(stmt.values(state=state.value, updated_at=datetime.now(UTC), **values))


# -- the spool lock --------------------------------------------------------------------


class SpoolLock:
    """An open spool file holding the session's exclusive lock until `close()`.

    FileNotFoundError passes through untranslated: a missing spool means something
    about the session (completed, expired, lost), which only the caller can tell."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise StorageError(f"opening {path.name}: {exc}") from exc
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise UploadBusy(
                "another request is writing or completing this upload; retry shortly"
            ) from None
        except BaseException:
            os.close(self.fd)
            raise

    def close(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)  # also releases the flock

    def remove(self) -> None:
        """Delete the spool while still holding its lock, so no writer slips in between.

        Truncated first: an unlinked file keeps its blocks while our descriptor is open,
        and what follows (the session's row) may need exactly that space on a full disk."""
        with translate_os_errors(f"removing {self.path.name}"):
            os.ftruncate(self.fd, 0)
            unlink_quietly(self.path)
            fsync_dir(self.path.parent)


def _lock(vault: Vault, row: UploadSession) -> tuple[SpoolLock, UploadSession]:
    """Lock the session's spool and re-read the session under the lock (the only state
    that counts: another request may have moved it while we waited)."""
    try:
        lock = SpoolLock(spool_path(vault, row.id))
    except FileNotFoundError:
        _spool_gone(vault, row.id)
    try:
        fresh = _load(vault.engine, row.id)
        if fresh is None:
            raise NotFound(f"no upload {row.id!r}")
    except BaseException:
        lock.close()
        raise
    return lock, fresh


def _spool_gone(vault: Vault, upload_id: str) -> NoReturn:
    """Explain a missing spool: the session ended meanwhile, or its bytes were lost."""
    fresh = _load(vault.engine, upload_id)
    if fresh is None:
        raise NotFound(f"no upload {upload_id!r}")
    if fresh.state == UploadState.open:
        if effective_state(fresh) == UploadState.expired:
            _set_state(vault.engine, upload_id, UploadState.expired, unless_finished=True)
            raise Gone(f"upload {upload_id} expired; start a new upload")
        why = "the server lost the spooled bytes"
        _set_state(vault.engine, upload_id, UploadState.failed, unless_finished=True, error=why)
        raise UploadNotOpen(f"upload {upload_id} failed: {why}; start a new upload")
    _require_open(fresh)
    raise UploadNotOpen(f"upload {upload_id} is {fresh.state}")  # pragma: no cover


def _spool_missing(vault: Vault, row: UploadSession) -> bool:
    return _spool_missing_id(vault, row.id)


def _spool_missing_id(vault: Vault, upload_id: str) -> bool:
    return not spool_path(vault, upload_id).exists()


def _expire_locked(vault: Vault, lock: SpoolLock, row: UploadSession) -> None:
    lock.remove()
    _set_state(vault.engine, row.id, UploadState.expired)


def _fail_locked(vault: Vault, lock: SpoolLock, row: UploadSession, why: str) -> None:
    """Failed sessions keep their row (so the client can learn why) but not their bytes:
    nothing can repair a spool whose content is wrong, only a new upload."""
    lock.remove()
    _set_state(vault.engine, row.id, UploadState.failed, error=why)


def _expire_session(vault: Vault, upload_id: str) -> bool:
    """Expire one session past its time and remove its spool; False if it was busy (a
    request still holds it) or had finished meanwhile."""
    path = spool_path(vault, upload_id)
    try:
        lock = SpoolLock(path)
    except FileNotFoundError:
        _set_state(vault.engine, upload_id, UploadState.expired, unless_finished=True)
        return False
    except Exception:  # busy or unreadable: the next sweep tries again
        return False
    try:
        fresh = _load(vault.engine, upload_id)
        if fresh is None or fresh.state not in (UploadState.open, UploadState.failed):
            return False
        _expire_locked(vault, lock, fresh)
        return True
    finally:
        lock.close()


def _check_open(vault: Vault, row: UploadSession) -> None:
    """Refuse a session that is not open; an expired one is cleaned up on the way."""
    if effective_state(row) == UploadState.expired and row.state != UploadState.expired:
        _expire_session(vault, row.id)
    _require_open(row)


# -- creating --------------------------------------------------------------------------


@dataclass(frozen=True)
class NewUpload:
    meta: ArtifactMeta
    size: int


def create_upload(
    vault: Vault, who: Principal, case_id: str, new: NewUpload, signature: str | None
) -> UploadSession:
    """Everything that can refuse the artifact is checked here, before any byte is sent."""
    meta = new.meta
    if meta.sha256 is None:
        raise BadRequest("a resumable upload needs the artifact's sha256 up front")
    limit = vault.settings.max_upload_bytes
    if new.size > limit:
        raise PayloadTooLarge(f"artifact of {new.size} bytes exceeds the {limit}-byte limit")
    if new.size < 1:
        raise BadRequest("empty artifact: zero bytes are not evidence")
    if signature is not None and len(signature) > 128:
        raise BadRequest("manifest signature is too long for an Ed25519 signature")
    plan = artifacts.plan_ingest(vault, who, case_id, meta, signature)
    directory = spool_dir(vault)
    maybe_sweep(vault)  # expired sessions release their space first
    now = datetime.now(UTC)
    row = UploadSession(
        id="upl-" + uuid.uuid4().hex,
        case_id=plan.case.id,
        principal_id=who.id,
        file_name=meta.file_name,
        size=new.size,
        sha256=meta.sha256,
        meta=meta.model_dump_json(),
        signature=signature,
        upload_offset=0,
        bytes_received=0,
        state=UploadState.open.value,
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(hours=upload_settings().expiry_hours),
    )
    with write_session(vault.engine) as s:
        quota = upload_settings().quota_bytes
        reserve.admit_session(s, vault, who.id, new.size, quota, now)
        s.add(row)
        s.commit()
        s.refresh(row)
        s.expunge(row)
    try:
        with translate_os_errors("creating the upload spool file"):
            fd = os.open(
                directory / f"{row.id}.part",
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                0o600,
            )
            os.close(fd)
            fsync_dir(directory)
    except BaseException:
        with write_session(vault.engine) as s:
            gone = s.get(UploadSession, row.id)
            if gone is not None:
                s.delete(gone)
                s.commit()
        raise
    return row


# -- appending -------------------------------------------------------------------------


class ChunkAppender:
    """One PATCH body being appended at `start`. Holds the session's lock until `close()`.

    Bytes are written straight into the spool; `commit()` makes them count (fsync, then
    the offset moves), `rollback()` truncates them away. Either way `close()` must follow.
    """

    def __init__(self, engine: Engine, row: UploadSession, lock: SpoolLock) -> None:
        self._engine = engine
        self._lock = lock
        self.upload_id = row.id
        self.start = row.upload_offset
        self.size = row.size
        self.position = row.upload_offset

    def write(self, data: bytes) -> None:
        if self.position + len(data) > self.size:
            raise PayloadTooLarge(f"chunk goes beyond the declared size of {self.size} bytes")
        with translate_os_errors("writing to the upload spool"):
            view = memoryview(data)
            while view:
                n = os.write(self._lock.fd, view)
                view = view[n:]
        self.position += len(data)

    def commit(self, received: int) -> int:
        """Persist what was written and acknowledge it; returns the new offset."""
        with translate_os_errors("syncing the upload spool"):
            os.fsync(self._lock.fd)
        with self._engine.begin() as conn:
            moved = conn.execute(
                update(UploadSession)
                .where(
                    col(UploadSession.id) == self.upload_id,
                    col(UploadSession.upload_offset) == self.start,
                    col(UploadSession.state) == UploadState.open.value,
                )
                .values(
                    upload_offset=self.position,
                    bytes_received=col(UploadSession.bytes_received) + received,
                    updated_at=datetime.now(UTC),
                )
            ).rowcount
        if moved != 1:
            # Cannot happen while everyone takes the lock; refuse rather than guess.
            self.rollback()
            raise Conflict(f"upload {self.upload_id} changed while this chunk was written")
        self.start = self.position
        return self.position

    def rollback(self) -> None:
        if self._lock.fd < 0 or self.position == self.start:
            return
        try:
            os.ftruncate(self._lock.fd, self.start)
            os.lseek(self._lock.fd, self.start, os.SEEK_SET)
        except OSError as exc:
            # The next PATCH truncates to the acknowledged offset before writing anyway.
            log.warning("could not truncate spool of %s: %s", self.upload_id, exc)
        self.position = self.start

    def close(self) -> None:
        self._lock.close()


def begin_append(
    vault: Vault, who: Principal, upload_id: str, offset: int, length: int | None
) -> ChunkAppender:
    row = get_upload(vault.engine, who, upload_id)
    _check_open(vault, row)
    lock, row = _lock(vault, row)
    try:
        if effective_state(row) == UploadState.expired and row.state == UploadState.open:
            _expire_locked(vault, lock, row)
        _require_open(row)
        if offset != row.upload_offset:
            raise OffsetMismatch(
                f"Upload-Offset is {offset} but the server holds {row.upload_offset} bytes",
                row.upload_offset,
            )
        if length is not None and offset + length > row.size:
            raise PayloadTooLarge(
                f"{length} bytes at offset {offset} go beyond the declared size of {row.size}"
            )
        with translate_os_errors("preparing the upload spool"):
            held = os.fstat(lock.fd).st_size
        if held < row.upload_offset:
            _fail_locked(vault, lock, row, f"the spool holds {held} of {row.upload_offset} bytes")
            raise UploadNotOpen(
                f"upload {row.id} failed: the server lost spooled bytes; start a new upload"
            )
        with translate_os_errors("preparing the upload spool"):
            # Bytes beyond the offset were never acknowledged (a crash between write and
            # commit): drop them, the client sends them again from the offset it was told.
            if held > row.upload_offset:
                os.ftruncate(lock.fd, row.upload_offset)
            os.lseek(lock.fd, row.upload_offset, os.SEEK_SET)
        return ChunkAppender(vault.engine, row, lock)
    except BaseException:
        lock.close()
        raise


def count_discarded(engine: Engine, upload_id: str, received: int) -> None:
    """Bytes read and thrown away still count as received: the counter measures traffic."""
    if received <= 0:
        return
    with engine.begin() as conn:
        conn.execute(
            update(UploadSession)
            .where(col(UploadSession.id) == upload_id)
            .values(bytes_received=col(UploadSession.bytes_received) + received)
        )


# -- completing ------------------------------------------------------------------------


def _replay(vault: Vault, who: Principal, row: UploadSession) -> tuple[Artifact, Receipt]:
    """The answer of a completion that already happened: a client whose connection broke
    while the server completed can ask again and get its artifact and a fresh receipt."""
    assert row.artifact_id is not None
    art = artifacts.get_artifact(vault.engine, row.artifact_id, who)
    assert art.ingest_index is not None
    return art, vault.ledger.receipt(art.ingest_index)


def complete_upload(vault: Vault, who: Principal, upload_id: str) -> tuple[Artifact, Receipt, bool]:
    """Spool → object store (re-hashed, digest enforced) → ingest event.

    Returns (artifact, receipt, replayed). A digest mismatch marks the session failed,
    removes its spool and stores nothing; the client must start a new upload.
    """
    row = get_upload(vault.engine, who, upload_id)
    if row.state == UploadState.completed:
        art, receipt = _replay(vault, who, row)
        return art, receipt, True
    _check_open(vault, row)
    try:
        lock, row = _lock(vault, row)
    except UploadNotOpen:
        # Another request completed it while we looked: answer as that one did.
        done = get_upload(vault.engine, who, upload_id)
        if done.state != UploadState.completed:
            raise
        art, receipt = _replay(vault, who, done)
        return art, receipt, True
    try:
        if row.state == UploadState.completed:
            art, receipt = _replay(vault, who, row)
            return art, receipt, True
        if effective_state(row) == UploadState.expired and row.state == UploadState.open:
            _expire_locked(vault, lock, row)
        _require_open(row)
        if row.upload_offset != row.size:
            raise UploadIncomplete(
                f"upload {row.id} holds {row.upload_offset} of {row.size} bytes; "
                "send the rest before completing"
            )
        if row.artifact_id is not None and _published(vault, row.artifact_id):
            # An earlier completion sealed this artifact but died before saying so (a crash,
            # a lost answer): the ledger already holds it, so this is a replay, not a second.
            _finish(vault, lock, row.id, row.artifact_id)
            art, receipt = _replay(vault, who, row)
            return art, receipt, True
        # Claimed before anything is sealed, so that a retry after a crash finds it.
        claimed = artifacts.new_artifact_id()
        _set_state(vault.engine, row.id, UploadState.open, artifact_id=claimed)
        meta = ArtifactMeta.model_validate_json(row.meta)
        # Planned again, not reused from creation: membership, the case's hold and its
        # retention may have changed during a long upload, and must be today's.
        ingest = Ingest.begin(
            vault, who, row.case_id, meta, row.signature, max_size=row.size,
            expected_sha256=row.sha256,
        )  # fmt: skip
        try:
            copied = _copy_spool(lock, ingest.upload.write, row.size)
            if copied != row.size:
                why = f"the spool holds {copied} of {row.size} bytes"
                _fail_locked(vault, lock, row, why)
                raise UploadNotOpen(f"upload {row.id} failed: {why}; start a new upload")
            ingest.commit()
        except DigestMismatch as exc:
            _fail_locked(vault, lock, row, str(exc))
            raise
        finally:
            ingest.abort()  # a no-op after commit
        art, receipt = ingest.seal(claimed)
        _finish(vault, lock, row.id, art.id)
        return art, receipt, False
    finally:
        lock.close()


def _published(vault: Vault, artifact_id: str) -> bool:
    """Whether a claimed artifact is evidence: its row exists exactly when its ingest
    event is sealed (the row is that event's projection)."""
    with session(vault.engine) as s:
        return s.get(Artifact, artifact_id) is not None


def _finish(vault: Vault, lock: SpoolLock, upload_id: str, artifact_id: str) -> None:
    _set_state(vault.engine, upload_id, UploadState.completed, artifact_id=artifact_id)
    try:
        lock.remove()
    except Exception as exc:  # the artifact is safe; the sweep removes the leftover
        log.warning("could not remove the spool of completed %s: %s", upload_id, exc)


def _copy_spool(lock: SpoolLock, write: Callable[[bytes], None], size: int) -> int:
    copied = 0
    with translate_os_errors("reading the upload spool"):
        os.lseek(lock.fd, 0, os.SEEK_SET)
        while copied < size:
            block = os.read(lock.fd, min(_READ, size - copied))
            if not block:
                break
            write(block)
            copied += len(block)
    return copied


# -- abandoning and expiry -------------------------------------------------------------


def abandon_upload(vault: Vault, who: Principal, upload_id: str) -> None:
    """Forget the session and its bytes. A completed session's artifact is evidence and
    stays; only the session record goes."""
    row = get_upload(vault.engine, who, upload_id)
    lock: SpoolLock | None = None
    if not _spool_missing(vault, row):
        try:
            lock, row = _lock(vault, row)
        except (NotFound, Gone, UploadNotOpen):
            lock = None
    try:
        if lock is not None:
            lock.remove()
        with write_session(vault.engine) as s:
            gone = s.get(UploadSession, upload_id)
            if gone is not None:
                s.delete(gone)
                s.commit()
    finally:
        if lock is not None:
            lock.close()


_sweep_lock = threading.Lock()
_last_sweep: dict[str, float] = {}


def maybe_sweep(vault: Vault, *, force: bool = False) -> None:
    """Sweep at most every `sweep_interval_s` per process, piggybacking on requests
    (`force`: now, as at startup)."""
    key = str(spool_dir(vault))
    now = time.monotonic()
    with _sweep_lock:
        last = _last_sweep.get(key)
        if not force and last is not None and now - last < upload_settings().sweep_interval_s:
            return
        _last_sweep[key] = now
    try:
        sweep(vault)
    except Exception:  # a failed sweep must not fail the request that triggered it
        log.exception("sweeping expired uploads failed")


def sweep(vault: Vault, now: datetime | None = None) -> int:
    """Expire unfinished sessions past their time and remove spool files no open session
    owns. Returns how many spool files were removed. Busy sessions are left for next time."""
    now = now or datetime.now(UTC)
    settings = upload_settings()
    removed = 0
    with session(vault.engine) as s:
        due = list(
            s.exec(
                select(UploadSession).where(
                    col(UploadSession.state).in_([UploadState.open, UploadState.failed]),
                    col(UploadSession.expires_at) <= now,
                )
            ).all()
        )
        for r in due:
            s.expunge(r)
    for row in due:
        if _expire_session(vault, row.id):
            removed += 1
    removed += _remove_orphans(vault, settings.orphan_grace_s)
    _release_spoolless(vault, now - timedelta(seconds=settings.orphan_grace_s))
    return removed


def _release_spoolless(vault: Vault, created_before: datetime) -> None:
    """Fail open sessions that have no spool file: a crash between the row and the file
    (or a lost file). Each would otherwise hold its space reservation until it expires.
    Rows younger than the grace are left: another process may be creating the file."""
    with session(vault.engine) as s:
        ids = s.exec(
            select(UploadSession.id).where(
                col(UploadSession.state) == UploadState.open.value,
                col(UploadSession.created_at) <= created_before,
            )
        ).all()
    for upload_id in ids:
        if _spool_missing_id(vault, upload_id):
            why = "the server lost the spooled bytes"
            _set_state(vault.engine, upload_id, UploadState.failed, unless_finished=True, error=why)


def _remove_orphans(vault: Vault, grace_s: float) -> int:
    directory = spool_dir(vault)
    cutoff = time.time() - grace_s
    removed = 0
    for entry in os.scandir(directory):
        if not entry.name.endswith(".part") or not entry.is_file(follow_symlinks=False):
            continue
        try:
            if entry.stat().st_mtime > cutoff:
                continue
        except FileNotFoundError:
            continue
        row = _load(vault.engine, entry.name.removesuffix(".part"))
        if row is not None and row.state == UploadState.open:
            continue
        try:
            lock = SpoolLock(Path(entry.path))
        except Exception:  # busy or already gone
            continue
        try:
            lock.remove()
            removed += 1
        finally:
            lock.close()
    return removed
