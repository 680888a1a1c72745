"""Web sessions: a browser's sign-in, held by the server so that it can be ended there.

The cookie carries a random 256-bit session id, never the API token; the database keeps
only the id's SHA-256, so a copy of the table signs nobody in. Rows live in one table
that every server process shares. A session is operational state like an upload
session, not a fact of the case: it is written directly, never sealed, and the audit
does not project it.

A session works while its row exists and has not expired, its principal is not
disabled, and the token it was opened with is still the principal's current, unexpired
token: disabling a principal or rotating its token ends its browser sessions too.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, Engine, String, delete
from sqlmodel import Field, SQLModel, col

from app.auth.models import Principal
from app.auth.service import usable
from app.db import session, write_session
from app.errors import Unauthorized
from custody.types import UtcDateTime

SESSION_PREFIX = "lws_"
#: a working day
SESSION_SECONDS = 8 * 3600


class WebSession(SQLModel, table=True):
    __tablename__ = "web_sessions"

    #: SHA-256 of the session id: the id is 256-bit random, so a fast hash is enough
    id_hash: str = Field(sa_column=Column(String(64), primary_key=True))
    principal_id: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    #: the principal's token hash at sign-in: a rotated token ends the session
    token_hash: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False, index=True))


def hash_session_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def open_session(
    engine: Engine,
    principal: Principal,
    *,
    seconds: int = SESSION_SECONDS,
    now: datetime | None = None,
) -> str:
    """A new session for `principal` (already authenticated by its token); returns the id
    the cookie carries. Expired rows are swept on the way, so the table stays small."""
    now = now or datetime.now(UTC)
    session_id = SESSION_PREFIX + secrets.token_urlsafe(32)
    with write_session(engine) as s:
        s.execute(delete(WebSession).where(col(WebSession.expires_at) <= now))
        s.add(
            WebSession(
                id_hash=hash_session_id(session_id),
                principal_id=principal.id,
                token_hash=principal.token_hash,
                created_at=now,
                expires_at=now + timedelta(seconds=seconds),
            )
        )
        s.commit()
    return session_id


def session_principal(engine: Engine, session_id: str, now: datetime | None = None) -> Principal:
    """The principal a live session belongs to; Unauthorized when it has ended."""
    if not session_id.startswith(SESSION_PREFIX) or len(session_id) > 128:
        raise Unauthorized("invalid session: sign in again")
    now = now or datetime.now(UTC)
    with session(engine) as s:
        row = s.get(WebSession, hash_session_id(session_id))
        if row is None or row.expires_at <= now:
            raise Unauthorized("the session has ended: sign in again")
        principal = s.get(Principal, row.principal_id)
        if principal is None or principal.token_hash != row.token_hash:
            raise Unauthorized("the session has ended: sign in again")
        usable(principal, now)
        s.expunge(principal)
        return principal


def end_session(engine: Engine, session_id: str) -> bool:
    """Sign-out: the row goes, so a copy of the cookie stops working everywhere."""
    with write_session(engine) as s:
        gone = s.execute(
            delete(WebSession).where(col(WebSession.id_hash) == hash_session_id(session_id))
        )
        s.commit()
        return bool(gone.rowcount)  # type: ignore[attr-defined]


def sweep(engine: Engine, now: datetime | None = None) -> int:
    """Deletes expired sessions; returns how many."""
    now = now or datetime.now(UTC)
    with write_session(engine) as s:
        gone = s.execute(delete(WebSession).where(col(WebSession.expires_at) <= now))
        s.commit()
        return int(gone.rowcount)  # type: ignore[attr-defined]
