"""Principals and bearer tokens. Tokens are shown once and stored only as hashes."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Table, bindparam
from sqlalchemy import select as core_select
from sqlmodel import select

from app.auth.cache import PrincipalCache
from app.auth.models import Principal, Role
from app.db import reading, session
from app.errors import BadRequest, Conflict, NotFound, Unauthorized
from app.events import EventType, draft
from app.events.catalogue import iso
from app.events.preconditions import (
    Precondition,
    PrincipalAbsent,
    PrincipalExists,
    RequestPending,
)
from app.events.principal_events import PrincipalCreatedV2, TokenRotated
from custody.ledger import EventDraft, Refused

if TYPE_CHECKING:
    from app.vault import Vault

TOKEN_PREFIX = "lcd_"
_PRINCIPALS: Table = Principal.__table__  # type: ignore[attr-defined]
#: built once: building the statement per request cost as much as running it
_BY_TOKEN = core_select(_PRINCIPALS).where(_PRINCIPALS.c.token_hash == bindparam("token_hash"))
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def validate_public_key(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise BadRequest("public key must be base64 of a raw 32-byte Ed25519 key") from exc
    if len(raw) != 32:
        raise BadRequest("public key must be base64 of a raw 32-byte Ed25519 key")
    return value


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def valid_name(name: str) -> str:
    if not _NAME.match(name):
        raise BadRequest("principal names are 1-64 of a-z 0-9 . _ - (starting alphanumeric)")
    return name


def valid_role(role: str) -> str:
    try:
        return Role(role).value
    except ValueError as exc:
        raise BadRequest(f"unknown role {role!r}; one of {[r.value for r in Role]}") from exc


def token_private(token: str, ttl_days: int) -> dict[str, Any]:
    """What a projection writes for a new token: its hash and when it stops working."""
    expires = datetime.now(UTC) + timedelta(days=ttl_days) if ttl_days else None
    return {"token_hash": hash_token(token), "token_expires_at": iso(expires)}


def principal_draft(
    actor_id: str,
    actor_role: str,
    name: str,
    role: str,
    public_key: str | None = None,
    *,
    ttl_days: int = 0,
    request: str | None = None,
) -> tuple[EventDraft, str]:
    """The `principal.created` draft and the new token (shown once, never sealed: only its
    hash reaches the row, through the draft's private values)."""
    token = new_token()
    body = PrincipalCreatedV2(
        principal=valid_name(name),
        role=valid_role(role),
        public_key=validate_public_key(public_key),
        request=request,
    )
    conditions: list[Precondition] = [PrincipalAbsent(name)]
    if request is not None:
        conditions.append(RequestPending(request))
    d = draft(
        actor_id,
        actor_role,
        EventType.principal_created,
        body,
        preconditions=conditions,
        private=token_private(token, ttl_days),
    )
    return d, token


def create_principal(
    vault: Vault,
    name: str,
    role: str,
    public_key: str | None = None,
    *,
    actor: tuple[str, str] = ("locard-cli", "admin"),
) -> tuple[Principal, str]:
    """Create a principal by sealing its event (the row is the projection); returns it and
    its token. The default actor is the operator's host path (`locard user add`)."""
    d, token = principal_draft(
        actor[0], actor[1], name, role, public_key, ttl_days=vault.settings.token_ttl_days
    )
    try:
        vault.ledger.seal([d])
    except Refused as exc:
        raise Conflict(str(exc), extra={"current": exc.current}) from exc
    return get_principal(vault.engine, name), token


def _token_hash(token: str) -> str:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        raise Unauthorized("invalid token")
    return hash_token(token)


def authenticate(engine: Engine, token: str, cache: PrincipalCache | None = None) -> Principal:
    """The principal holding `token`, read from the database unless `cache` knows it."""
    token_hash = _token_hash(token)
    principal = cache.get(token_hash) if cache is not None else None
    if principal is None:
        generation = cache.generation if cache is not None else 0
        with reading(engine) as conn:
            row = conn.execute(_BY_TOKEN, {"token_hash": token_hash}).first()
        if row is None:
            raise Unauthorized("invalid token")
        principal = Principal(**row._mapping)
        if cache is not None:
            cache.put(token_hash, principal, generation)
    usable(principal)
    return principal


def known_token(cache: PrincipalCache, token: str) -> Principal | None:
    """The principal holding `token` if the cache knows it (and it is usable), else None:
    answered without the database, so without a worker thread."""
    principal = cache.get(_token_hash(token))
    if principal is not None:
        usable(principal)
    return principal


def usable(principal: Principal, now: datetime | None = None) -> None:
    """Raises Unauthorized when the principal is disabled or its token has expired: shared
    by bearer tokens and the web sessions opened with them."""
    if principal.disabled:
        raise Unauthorized("invalid token")
    expires = principal.token_expires_at
    if expires is not None and _aware(expires) <= (now or datetime.now(UTC)):
        raise Unauthorized("token expired: ask an admin for a new one (locard user token)")


def get_principal(engine: Engine, name: str) -> Principal:
    if "\x00" in name:
        # No name holds NUL, and PostgreSQL refuses the query itself (a 500, not a 404).
        raise NotFound(f"no principal {name!r}")
    with session(engine) as s:
        p = s.get(Principal, name)
        if p is None:
            raise NotFound(f"no principal {name!r}")
        s.expunge(p)
        return p


def list_principals(engine: Engine) -> list[Principal]:
    with session(engine) as s:
        rows = list(s.exec(select(Principal).order_by(Principal.id)).all())
        for r in rows:
            s.expunge(r)
        return rows


def token_draft(
    actor_id: str, actor_role: str, name: str, *, ttl_days: int = 0
) -> tuple[EventDraft, str]:
    """A new token for an existing principal; the old one stops working once sealed.

    Needed after `locard rebuild`, which restores principals from the ledger without
    tokens (the ledger never holds them), and whenever a token may have leaked or expired.
    """
    token = new_token()
    d = draft(
        actor_id,
        actor_role,
        EventType.principal_token_rotated,
        TokenRotated(principal=name),
        preconditions=[PrincipalExists(name)],
        private=token_private(token, ttl_days),
    )
    return d, token


def issue_token(
    vault: Vault, name: str, *, actor: tuple[str, str] = ("locard-cli", "admin")
) -> str:
    """Seal a token rotation for `name` and return the new token (`locard user token`)."""
    d, token = token_draft(actor[0], actor[1], name, ttl_days=vault.settings.token_ttl_days)
    try:
        vault.ledger.seal([d])
    except Refused as exc:
        raise NotFound(str(exc)) from exc
    return token


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
