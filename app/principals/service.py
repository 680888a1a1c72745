"""Principals through the API, with separation of duties.

Creating a collector or auditor takes one admin. Creating or promoting a legal or admin
principal takes two: one requests (`principal.requested`), another approves (the sealed
`principal.created` or `principal.role_changed` names the request), so no single admin can
give themselves the powers of legal (holds) or mint a second admin. Disabling is a sealed
event too; nobody disables themselves. Every step is decided under the seal: a request
approved twice at once, or a principal changed meanwhile, is refused (409).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlmodel import col, select

from app.auth.models import Principal, PrincipalRequest, Role
from app.auth.service import (
    get_principal,
    principal_draft,
    valid_name,
    valid_role,
    validate_public_key,
)
from app.db import session
from app.errors import BadRequest, Conflict, Forbidden, NotFound
from app.events import EventType, record, submit
from app.events.preconditions import (
    PrincipalAbsent,
    PrincipalExists,
    PrincipalIs,
    RequestPending,
)
from app.events.principal_events import Declined, Disabled, Requested, RoleChanged
from app.vault import Vault
from custody.ledger import Receipt

#: roles that a second admin must approve
FOUR_EYES = frozenset({Role.legal.value, Role.admin.value})


@dataclass(frozen=True)
class Added:
    receipt: Receipt
    principal: Principal | None = None
    token: str | None = None
    request: PrincipalRequest | None = None


def get_request(vault: Vault, request_id: str) -> PrincipalRequest:
    with session(vault.engine) as s:
        row = s.get(PrincipalRequest, request_id)
        if row is None:
            raise NotFound(f"no principal request {request_id!r}")
        s.expunge(row)
        return row


def list_requests(vault: Vault, state: str | None = None) -> list[PrincipalRequest]:
    with session(vault.engine) as s:
        q = select(PrincipalRequest).order_by(col(PrincipalRequest.requested_at))
        if state:
            q = q.where(PrincipalRequest.state == state)
        rows = list(s.exec(q).all())
        for r in rows:
            s.expunge(r)
        return rows


def _request(
    vault: Vault, who: Principal, kind: str, name: str, role: str, public_key: str | None
) -> Added:
    request_id = "req-" + uuid.uuid4().hex[:16]
    body = Requested(
        request=request_id, kind=kind, principal=name, role=role, public_key=public_key
    )
    condition = PrincipalAbsent(name) if kind == "create" else PrincipalExists(name)
    receipt = record(vault, who, EventType.principal_requested, body, preconditions=[condition])
    return Added(receipt, request=get_request(vault, request_id))


def add_principal(
    vault: Vault, who: Principal, name: str, role: str, public_key: str | None
) -> Added:
    name, role, public_key = valid_name(name), valid_role(role), validate_public_key(public_key)
    if role in FOUR_EYES:
        return _request(vault, who, "create", name, role, public_key)
    d, token = principal_draft(
        who.id, who.role, name, role, public_key, ttl_days=vault.settings.token_ttl_days
    )
    receipt = submit(vault, d)
    return Added(receipt, get_principal(vault.engine, name), token)


def approve(vault: Vault, who: Principal, request_id: str) -> Added:
    req = get_request(vault, request_id)
    if req.state != "pending":
        raise Conflict(f"request {request_id} is already {req.state}")
    if req.requested_by == who.id:
        raise Forbidden("a second admin must approve: you made this request")
    if req.kind == "create":
        d, token = principal_draft(
            who.id,
            who.role,
            req.principal,
            req.role,
            req.public_key,
            ttl_days=vault.settings.token_ttl_days,
            request=req.id,
        )
        receipt = submit(vault, d)
        return Added(receipt, get_principal(vault.engine, req.principal), token)
    current = get_principal(vault.engine, req.principal)
    receipt = record(
        vault,
        who,
        EventType.principal_role_changed,
        RoleChanged(principal=req.principal, from_=current.role, to=req.role, request=req.id),
        preconditions=[RequestPending(req.id), PrincipalIs(current.id, current.role)],
    )
    return Added(receipt, get_principal(vault.engine, req.principal))


def decline(vault: Vault, who: Principal, request_id: str, reason: str) -> Receipt:
    req = get_request(vault, request_id)
    if req.state != "pending":
        raise Conflict(f"request {request_id} is already {req.state}")
    return record(
        vault,
        who,
        EventType.principal_request_declined,
        Declined(request=req.id, reason=reason),
        preconditions=[RequestPending(req.id)],
    )


def change_role(vault: Vault, who: Principal, name: str, role: str) -> Added:
    role = valid_role(role)
    current = get_principal(vault.engine, name)
    if current.id == who.id:
        raise Forbidden("nobody changes their own role")
    if current.disabled:
        raise Conflict(f"{name} is disabled")
    if current.role == role:
        raise BadRequest(f"{name} is already {role}")
    if role in FOUR_EYES:
        return _request(vault, who, "promote", name, role, None)
    receipt = record(
        vault,
        who,
        EventType.principal_role_changed,
        RoleChanged(principal=name, from_=current.role, to=role, request=None),
        preconditions=[PrincipalIs(name, current.role)],
    )
    return Added(receipt, get_principal(vault.engine, name))


def disable(vault: Vault, who: Principal, name: str, reason: str) -> Receipt:
    current = get_principal(vault.engine, name)
    if current.id == who.id:
        raise Forbidden("nobody disables themselves")
    if current.disabled:
        raise Conflict(f"{name} is already disabled")
    return record(
        vault,
        who,
        EventType.principal_disabled,
        Disabled(principal=name, reason=reason),
        preconditions=[PrincipalIs(name, current.role)],
    )
