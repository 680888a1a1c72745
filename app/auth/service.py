"""Principals and bearer tokens. Tokens are shown once and stored only as hashes."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import select

from app.auth.models import Principal, Role
from app.db import session
from app.errors import BadRequest, Conflict, NotFound, Unauthorized

TOKEN_PREFIX = "lcd_"
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


def create_principal(
    engine: Engine, name: str, role: str, public_key: str | None = None
) -> tuple[Principal, str]:
    """Returns the principal and its token; the token is never retrievable again."""
    if not _NAME.match(name):
        raise BadRequest("principal names are 1-64 of a-z 0-9 . _ - (starting alphanumeric)")
    try:
        role = Role(role).value
    except ValueError as exc:
        raise BadRequest(f"unknown role {role!r}; one of {[r.value for r in Role]}") from exc
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with session(engine) as s:
        if s.get(Principal, name) is not None:
            raise Conflict(f"principal {name!r} exists")
        p = Principal(
            id=name,
            role=role,
            token_hash=hash_token(token),
            public_key=validate_public_key(public_key),
            created_at=datetime.now(UTC),
        )
        s.add(p)
        s.commit()
        s.refresh(p)
        s.expunge(p)
    return p, token


def authenticate(engine: Engine, token: str) -> Principal:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        raise Unauthorized("invalid token")
    with session(engine) as s:
        principal = s.exec(
            select(Principal).where(Principal.token_hash == hash_token(token))
        ).first()
        if principal is None or principal.disabled:
            raise Unauthorized("invalid token")
        s.expunge(principal)
        return principal


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


def principal_event_body(p: Principal) -> dict[str, str | None]:
    """What the ledger records about a new principal: never its token or token hash."""
    return {"principal": p.id, "role": p.role, "public_key": p.public_key}


def rotate_token(engine: Engine, name: str) -> str:
    """A new token for an existing principal; the old one stops working at once.

    Needed after `locard rebuild`, which restores principals from the ledger without
    tokens (the ledger never holds them), and whenever a token may have leaked.
    """
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with session(engine) as s:
        p = s.get(Principal, name)
        if p is None:
            raise NotFound(f"no principal {name!r}")
        p.token_hash = hash_token(token)
        s.commit()
    return token
