"""Read-only mode: below the reserve, writes answer 507 before they touch anything.

An ASGI middleware rather than a check in each service, so that no write path can be
forgotten. What stays allowed below the reserve is listed here, each for a reason.
"""

from __future__ import annotations

import re

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from app.disk import space
from app.disk.errors import ReadOnly

_READS = frozenset({"GET", "HEAD", "OPTIONS"})

#: writes served in read-only mode
_ALLOWED: tuple[tuple[str, re.Pattern[str]], ...] = (
    # A legal hold is a few hundred bytes of ledger: exactly what the reserve is kept for.
    ("POST", re.compile(r"/v1/cases/[^/]+/hold")),
    ("POST", re.compile(r"/cases/[^/]+/hold")),
    # Abandoning an upload frees the space its spool holds.
    ("DELETE", re.compile(r"/v1/uploads/[^/]+")),
    # Reads that arrive as POST: hashing a file to ask whether the vault holds it.
    ("POST", re.compile(r"/v1/verify")),
    ("POST", re.compile(r"/artifacts/[^/]+/verify")),
    # Signing in and out only sets a cookie.
    ("POST", re.compile(r"/sign(in|out)")),
)


def allowed_when_full(method: str, path: str) -> bool:
    return method in _READS or any(m == method and p.fullmatch(path) for m, p in _ALLOWED)


def _route_path(scope: Scope) -> str:
    """The path the routes see: behind a proxy mounting the app under a prefix
    (`root_path`), the ASGI path may still carry it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


class ReadOnlyGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not allowed_when_full(scope["method"], _route_path(scope)):
            vault = getattr(scope["app"].state, "vault", None)
            reason = space.low_space(vault.settings) if vault is not None else None
            if reason is not None:
                refusal = ReadOnly(reason)
                response = JSONResponse(
                    {"error": refusal.code, "detail": refusal.message}, status_code=refusal.status
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
