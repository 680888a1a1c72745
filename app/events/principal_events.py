"""Principal events. Tokens are secrets, not facts: a token's hash and expiry reach the row
through the draft's private values and never enter the ledger, so a rebuilt vault's
principals have no usable token until one is issued again (`locard user token`).

Separation of duties: through the API a legal or admin principal is created, or promoted,
only on a request by one admin approved by another (`principal.requested`, then
`principal.created`/`principal.role_changed` naming the request). `locard user add` on the
host is the operator's bootstrap path and is recorded as such (actor `locard-cli`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field
from sqlmodel import Session

from app.auth.models import Principal, PrincipalRequest
from app.events.catalogue import Body, EventSpec, EventType, declare, parse_time
from app.events.phrases import Names
from verify.events import Event

#: the token hash of a principal restored from the archive: matches no token
NO_TOKEN = "!"


class PrincipalCreated(Body):
    principal: str
    role: str
    public_key: str | None


class PrincipalCreatedV2(Body):
    """v2 names the approved request (null: no second admin needed, or the host's CLI)."""

    principal: str
    role: str
    public_key: str | None
    request: str | None


class TokenRotated(Body):
    principal: str


class Requested(Body):
    request: str
    kind: str  # create | promote
    principal: str
    role: str
    public_key: str | None


class Declined(Body):
    request: str
    reason: str


class RoleChanged(Body):
    principal: str
    from_: str = Field(alias="from")
    to: str
    request: str | None


class Disabled(Body):
    principal: str
    reason: str


def _token(p: Principal, private: Mapping[str, Any]) -> None:
    if "token_hash" in private:
        p.token_hash = private["token_hash"]
        p.token_expires_at = parse_time(private.get("token_expires_at"))


def _decide(s: Session, request: str | None, state: str, ev: Event) -> None:
    if request is None:
        return
    row = s.get(PrincipalRequest, request)
    if row is None:
        raise ValueError(f"no principal request {request}")
    row.state, row.decided_by, row.decided_at = state, ev.actor_id, ev.at
    s.add(row)


def _project_created(s: Session, index: int, ev: Event, private: Mapping[str, Any]) -> None:
    b = PRINCIPAL_CREATED.parse(ev)
    assert isinstance(b, PrincipalCreated | PrincipalCreatedV2)
    p = Principal(
        id=b.principal,
        role=b.role,
        token_hash=NO_TOKEN + b.principal,
        public_key=b.public_key,
        created_at=ev.at,
    )
    _token(p, private)
    s.add(p)
    _decide(s, b.request if isinstance(b, PrincipalCreatedV2) else None, "approved", ev)
    s.flush()


def _project_rotated(s: Session, index: int, ev: Event, private: Mapping[str, Any]) -> None:
    b = TOKEN_ROTATED.parse(ev)
    assert isinstance(b, TokenRotated)
    p = _principal(s, b.principal)
    _token(p, private)
    s.add(p)


def _principal(s: Session, name: str) -> Principal:
    p = s.get(Principal, name)
    if p is None:
        raise ValueError(f"event about unknown principal {name}")
    return p


def _project_requested(s: Session, index: int, ev: Event, private: Mapping[str, Any]) -> None:
    b = PRINCIPAL_REQUESTED.parse(ev)
    assert isinstance(b, Requested)
    s.add(
        PrincipalRequest(
            id=b.request,
            kind=b.kind,
            principal=b.principal,
            role=b.role,
            public_key=b.public_key,
            requested_by=ev.actor_id,
            requested_at=ev.at,
            state="pending",
        )
    )
    s.flush()


def _project_declined(s: Session, index: int, ev: Event, private: Mapping[str, Any]) -> None:
    b = REQUEST_DECLINED.parse(ev)
    assert isinstance(b, Declined)
    _decide(s, b.request, "declined", ev)


def _project_role(s: Session, index: int, ev: Event, private: Mapping[str, Any]) -> None:
    b = ROLE_CHANGED.parse(ev)
    assert isinstance(b, RoleChanged)
    p = _principal(s, b.principal)
    p.role = b.to
    s.add(p)
    _decide(s, b.request, "approved", ev)


def _project_disabled(s: Session, index: int, ev: Event, private: Mapping[str, Any]) -> None:
    b = DISABLED.parse(ev)
    assert isinstance(b, Disabled)
    p = _principal(s, b.principal)
    p.disabled = True
    s.add(p)


def _summary_requested(ev: Event, names: Names) -> str:
    b = ev.body
    what = "creation" if b.get("kind") == "create" else "promotion"
    return (
        f"Requested the {what} of {b.get('principal')} as {b.get('role')} "
        f"(request {b.get('request')}; a second admin must approve)"
    )


def _summary_created(ev: Event, names: Names) -> str:
    b = ev.body
    approved = f", approving request {b['request']}" if b.get("request") else ""
    return f"Principal {b.get('principal')} created as {b.get('role')}{approved}"


PRINCIPAL_CREATED = declare(
    EventSpec(
        EventType.principal_created,
        "admin",
        {1: PrincipalCreated, 2: PrincipalCreatedV2},
        _summary_created,
        project=_project_created,
    )
)
TOKEN_ROTATED = declare(
    EventSpec(
        EventType.principal_token_rotated,
        "admin",
        {1: TokenRotated},
        lambda ev, names: f"New API token issued to {ev.body.get('principal')}",
        project=_project_rotated,
    )
)
PRINCIPAL_REQUESTED = declare(
    EventSpec(
        EventType.principal_requested,
        "admin",
        {1: Requested},
        _summary_requested,
        project=_project_requested,
    )
)
REQUEST_DECLINED = declare(
    EventSpec(
        EventType.principal_request_declined,
        "admin",
        {1: Declined},
        lambda ev, names: f"Declined request {ev.body.get('request')}: {ev.body.get('reason')}",
        project=_project_declined,
    )
)
ROLE_CHANGED = declare(
    EventSpec(
        EventType.principal_role_changed,
        "admin",
        {1: RoleChanged},
        lambda ev, names: (
            f"Role of {ev.body.get('principal')} changed from {ev.body.get('from')} "
            f"to {ev.body.get('to')}"
        ),
        project=_project_role,
    )
)
DISABLED = declare(
    EventSpec(
        EventType.principal_disabled,
        "admin",
        {1: Disabled},
        lambda ev, names: f"Principal {ev.body.get('principal')} disabled: {ev.body.get('reason')}",
        project=_project_disabled,
    )
)

#: the events whose projections write principal rows (app.auth.cache forgets on each)
PRINCIPAL_EVENTS = frozenset(
    spec.name.value
    for spec in (
        PRINCIPAL_CREATED,
        TOKEN_ROTATED,
        PRINCIPAL_REQUESTED,
        REQUEST_DECLINED,
        ROLE_CHANGED,
        DISABLED,
    )
)
