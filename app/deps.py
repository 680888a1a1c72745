"""Request dependencies: the vault, the authenticated principal, and role checks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Annotated, Any, ParamSpec, TypeVar

from fastapi import Depends, Request

from app.auth.csrf import check_api_write
from app.auth.models import Principal, Role
from app.auth.service import authenticate, known_token
from app.auth.web_sessions import session_principal
from app.errors import Forbidden, Unauthorized
from app.vault import Vault

SESSION_COOKIE = "locard_session"
#: where the principal authenticated for this request is kept (see app.edge.auth_first)
_PRINCIPAL = "locard.principal"
#: set by the page routes, whose views check the CSRF token in the posted form
#: (app.web.session.check_form) once the body is read; everything else is the API
FORM_CSRF = "locard.csrf_in_form"


P = ParamSpec("P")
T = TypeVar("T")
#: request reads on worker threads at once: few, because each thread running Python code
#: contends with the event loop for the GIL. 256 threads cost each read its hand-offs; 16
#: still cost 10 % more CPU per request than 4 (bench/http.py), and 4 reads of a fraction
#: of a millisecond each keep up with what one event loop can answer.
READ_THREADS = 4
#: the loop's own executor, not anyio's thread pool: anyio's hop adds a checkpoint (one more
#: turn of the event loop) and a capacity limiter per call, together more than the query.
#: A caller cancelled meanwhile (its client left) leaves the read to finish on its thread.
_readers = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="locard-read")


async def in_read_thread(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a short blocking read (`fn`) on a worker thread, at most READ_THREADS at once."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_readers, partial(fn, *args, **kwargs))


def vault_of(request: Request) -> Vault:
    vault: Vault = request.app.state.vault
    return vault


async def get_vault(request: Request) -> Vault:
    # async, as every dependency that does no I/O: FastAPI would run a plain `def` on the
    # thread pool, and each such hop costs more than the work it does
    return vault_of(request)


VaultDep = Annotated[Vault, Depends(get_vault)]


def _bearer(header: str) -> str:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("Authorization must be 'Bearer <token>'")
    return value.strip()


def principal_for(request: Request, vault: Vault) -> Principal:
    """A bearer token, or the web session cookie (never the token itself: app.web.session).

    A cookie-authenticated API write must also carry the CSRF token and this vault's
    Origin (app.auth.csrf); it is refused here, before its body is read. Blocking (it
    reads the database): call it from a worker thread.
    """
    known = request.scope.get(_PRINCIPAL)
    if isinstance(known, Principal):
        return known  # authenticated before the body was read
    header = request.headers.get("authorization")
    session_id = request.cookies.get(SESSION_COOKIE)
    if header:
        principal = authenticate(vault.engine, _bearer(header), vault.principals)
    elif session_id:
        principal = session_principal(vault.engine, session_id)
        if not request.scope.get(FORM_CSRF):
            check_api_write(request, session_id)
    else:
        raise Unauthorized("authentication required: send 'Authorization: Bearer <token>'")
    return _remember(request, principal)


def _remember(request: Request, principal: Principal) -> Principal:
    request.state.principal = principal
    request.scope[_PRINCIPAL] = principal
    return principal


async def current_principal(request: Request, vault: VaultDep) -> Principal:
    """The request's principal (see `principal_for`); once known, or for a bearer token
    the cache holds (app.auth.cache), without a thread hop."""
    known = request.scope.get(_PRINCIPAL)
    if isinstance(known, Principal):
        return known
    header = request.headers.get("authorization")
    if header and (cached := known_token(vault.principals, _bearer(header))) is not None:
        return _remember(request, cached)
    return await in_read_thread(principal_for, request, vault)


def check_role(principal: Principal, *roles: Role) -> Principal:
    allowed = sorted(r.value for r in roles)
    if principal.role not in allowed:
        raise Forbidden(f"role {principal.role!r} may not do this (needs one of {allowed})")
    return principal


def require(*roles: Role) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        return check_role(principal, *roles)

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
