"""The start-up check: may this database tell the signer what to sign next?

The database decides the size of the next checkpoint, so a database that is behind
(restored from an older backup, lost and recreated empty) or that disagrees with the
write-once archive would have the vault sign a second history under its key. The vault
refuses to start on one instead. The check stays cheap whatever the vault's size: the
database's last checkpoint, its checkpoints at the archive's and the mark's sizes (index
lookups), the archive's last seal (one listing, one read) and the key's high-water mark.
The full comparison of everything is `locard audit`'s job.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, func, select

from custody.archive import last_seal, sealed_root
from custody.models import CheckpointRow
from custody.signing import NoteSigner
from custody.watermark import Mark
from storage.base import ObjectStore
from verify.errors import VerificationError
from verify.note import verify_checkpoint_note

log = logging.getLogger(__name__)

_CHECKPOINTS = CheckpointRow.__table__  # type: ignore[attr-defined]
REBUILD = "`locard rebuild --from-store`"


class VaultInconsistent(Exception):
    """The vault refuses to start: its database cannot be trusted to extend the ledger."""


@dataclass(frozen=True)
class _Checkpoint:
    size: int
    root: bytes
    note: bytes


def _db_checkpoint(conn: Connection, size: int | None = None) -> _Checkpoint | None:
    q = select(_CHECKPOINTS.c.size, _CHECKPOINTS.c.root, _CHECKPOINTS.c.note)
    if size is None:
        top = conn.execute(select(func.max(_CHECKPOINTS.c.size))).scalar_one()
        if top is None:
            return None
        size = int(top)
    row = conn.execute(q.where(_CHECKPOINTS.c.size == size)).first()
    return None if row is None else _Checkpoint(int(row[0]), bytes(row[1]), row[2].encode())


def check_before_start(engine: Engine, store: ObjectStore, signer: NoteSigner, origin: str) -> None:
    """Refuse (VaultInconsistent) a database behind or unlike the archive or the key's mark;
    otherwise raise the mark to the database's last checkpoint if it is behind it."""
    try:
        seal = last_seal(store)
        archived = None if seal is None else _Checkpoint(seal.size, sealed_root(seal), seal.note)
    except VerificationError as exc:
        raise VaultInconsistent(f"the archive's last seal is unreadable: {exc}") from exc
    mark = signer.mark.read() if signer.mark is not None else None
    with engine.connect() as conn:
        last = _db_checkpoint(conn)
        at_archive = _db_checkpoint(conn, archived.size) if archived else None
        at_mark = _db_checkpoint(conn, mark.size) if mark and mark.size else None
    held = last.size if last else 0
    if archived is not None:
        _check_archive(archived, last, at_archive, signer, origin)
    if mark is not None and mark.size > held:
        raise VaultInconsistent(_behind_mark(mark, held, archived.size if archived else 0))
    if mark is not None and mark.size and (at_mark is None or at_mark.root != mark.root):
        raise VaultInconsistent(
            f"the database's checkpoint of size {mark.size} differs from the one this key "
            f"signed (its high-water mark): the database is not this vault's history. Move "
            f"it aside and run {REBUILD}"
        )
    if last is not None and (mark is None or last.size > mark.size):
        _raise_mark(signer, origin, last, mark)


def _check_archive(
    archived: _Checkpoint,
    last: _Checkpoint | None,
    at_archive: _Checkpoint | None,
    signer: NoteSigner,
    origin: str,
) -> None:
    try:
        verify_checkpoint_note(archived.note, signer.history_verifiers(), origin=origin)
    except VerificationError as exc:
        raise VaultInconsistent(
            f"the archive's last seal (size {archived.size}) does not verify with this "
            f"vault's key: {exc}. Is the store another vault's?"
        ) from exc
    if last is None:
        raise VaultInconsistent(
            f"the database is empty but the write-once archive holds {archived.size} sealed "
            f"events (database lost or recreated?). Starting would sign a second history "
            f"under the same key. Run {REBUILD} to restore the database from the archive"
        )
    if last.size < archived.size:
        raise VaultInconsistent(
            f"the database is behind the write-once archive: it ends at size {last.size}, "
            f"the archive at {archived.size} (restored from an older backup?). Starting would "
            f"sign a second history under the same key. Move the database aside and run "
            f"{REBUILD}"
        )
    if at_archive is None or at_archive.root != archived.root:
        raise VaultInconsistent(
            f"the database's checkpoint of size {archived.size} differs from the one in the "
            f"write-once archive: the database is not the archive's history. Move it aside "
            f"and run {REBUILD}"
        )


def _behind_mark(mark: Mark, held: int, archived: int) -> str:
    head = (
        f"this vault's key has signed a checkpoint of size {mark.size} (its high-water "
        f"mark), but the database ends at size {held}"
    )
    if archived >= mark.size:
        return f"{head}: restored from an older backup, or lost? Move it aside and run {REBUILD}"
    return (
        f"{head} and the write-once archive at {archived}: both are behind what was signed "
        "and published. Restore the archive (and database) that hold it, then run "
        f"{REBUILD}; the key will not sign a second history for those sizes"
    )


def _raise_mark(signer: NoteSigner, origin: str, last: _Checkpoint, mark: Mark | None) -> None:
    """The database holds a newer checkpoint than the mark: a crash between a seal's commit
    and its mark write, another process's seal, or a key moved without its mark."""
    try:
        verify_checkpoint_note(last.note, signer.history_verifiers(), origin=origin)
    except VerificationError as exc:
        raise VaultInconsistent(
            f"the database's last checkpoint (size {last.size}) is not signed by this "
            f"vault's key: {exc}. Move the database aside and run {REBUILD}"
        ) from exc
    if mark is None:
        log.warning(
            "no high-water mark beside the signing key: starting one at the database's "
            "checkpoint %d",
            last.size,
        )
    signer.signed_durably(last.size, last.root, last.note)
