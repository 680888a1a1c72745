"""Principal events. Tokens are secrets, not facts: a token's hash reaches the row through
the draft's private values and never enters the ledger, so a rebuilt vault's principals
have no usable token until one is issued again (`locard user token`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from app.auth.models import Principal
from app.events.catalogue import Body, EventSpec, EventType, declare
from verify.events import Event

#: the token hash of a principal restored from the archive: matches no token
NO_TOKEN = "!"


class PrincipalCreated(Body):
    principal: str
    role: str
    public_key: str | None


class TokenRotated(Body):
    principal: str


def _project_created(s: Session, index: int, ev: Event, private: Mapping[str, Any]) -> None:
    b = PRINCIPAL_CREATED.parse(ev)
    assert isinstance(b, PrincipalCreated)
    s.add(
        Principal(
            id=b.principal,
            role=b.role,
            token_hash=private.get("token_hash") or NO_TOKEN + b.principal,
            public_key=b.public_key,
            created_at=ev.at,
        )
    )
    s.flush()


def _project_rotated(s: Session, index: int, ev: Event, private: Mapping[str, Any]) -> None:
    b = TOKEN_ROTATED.parse(ev)
    assert isinstance(b, TokenRotated)
    p = s.get(Principal, b.principal)
    if p is None:
        raise ValueError(f"token rotated for unknown principal {b.principal}")
    if "token_hash" in private:
        p.token_hash = private["token_hash"]
        s.add(p)


PRINCIPAL_CREATED = declare(
    EventSpec(
        EventType.principal_created,
        "admin",
        {1: PrincipalCreated},
        lambda ev: f"Principal {ev.body.get('principal')} created as {ev.body.get('role')}",
        project=_project_created,
    )
)
TOKEN_ROTATED = declare(
    EventSpec(
        EventType.principal_token_rotated,
        "admin",
        {1: TokenRotated},
        lambda ev: f"New API token issued to {ev.body.get('principal')}",
        project=_project_rotated,
    )
)
