"""Request dependencies: the vault, the authenticated principal, and role checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from app.auth.models import Principal, Role
from app.auth.service import authenticate
from app.errors import Forbidden, Unauthorized
from app.vault import Vault

SESSION_COOKIE = "locard_session"
#: where the principal authenticated for this request is kept (see app.edge.auth_first)
_PRINCIPAL = "locard.principal"


def get_vault(request: Request) -> Vault:
    vault: Vault = request.app.state.vault
    return vault


VaultDep = Annotated[Vault, Depends(get_vault)]


def _token_from(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("Authorization must be 'Bearer <token>'")
        return value.strip()
    return request.cookies.get(SESSION_COOKIE)


def current_principal(request: Request, vault: VaultDep) -> Principal:
    known = request.scope.get(_PRINCIPAL)
    if isinstance(known, Principal):
        return known  # authenticated before the body was read
    token = _token_from(request)
    if not token:
        raise Unauthorized("authentication required: send 'Authorization: Bearer <token>'")
    principal = authenticate(vault.engine, token)
    request.state.principal = principal
    request.scope[_PRINCIPAL] = principal
    return principal


def require(*roles: Role) -> Callable[[Principal], Principal]:
    allowed = {r.value for r in roles}

    def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in allowed:
            raise Forbidden(
                f"role {principal.role!r} may not do this (needs one of {sorted(allowed)})"
            )
        return principal

    return check


ANY_ROLE = (Role.collector, Role.legal, Role.auditor, Role.admin)
Reader = Annotated[Principal, Depends(require(*ANY_ROLE))]
Collector = Annotated[Principal, Depends(require(Role.collector, Role.admin))]
Legal = Annotated[Principal, Depends(require(Role.legal, Role.admin))]
#: legal holds are placed and released by legal alone: a separation of duties the
#: issue asks for, so not even an administrator can lift one
LegalOnly = Annotated[Principal, Depends(require(Role.legal))]
ProofReader = Annotated[Principal, Depends(require(Role.auditor, Role.legal, Role.admin))]
Admin = Annotated[Principal, Depends(require(Role.admin))]
