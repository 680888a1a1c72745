"""Authenticate a request that sends a body before reading that body.

The principal found here is the one `current_principal` then returns to the view's
dependencies, so a request is authenticated once. A write to the API made with the web
session cookie is also checked for its CSRF token and Origin here (app.auth.csrf), so a
forged one is refused before its body is read, let alone stored.
"""

from __future__ import annotations

from starlette.requests import Request

from app.deps import current_principal, vault_of


async def authenticate_first(request: Request) -> None:
    """Raises Unauthorized (401) or CsrfRefused (403) without touching the body."""
    await current_principal(request, vault_of(request))
