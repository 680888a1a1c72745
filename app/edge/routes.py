"""The route class every router uses: authenticate before the body, cap non-evidence bodies.

FastAPI reads and parses a route's body before it resolves its dependencies, so both
checks run here, in the route's handler, ahead of FastAPI's own: a client without a
token is answered 401 before one byte of its body is read, and a body that will be
parsed whole is read up to the cap and no further. Errors raised here are answered by
the application's handlers, exactly like errors raised in a view.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from app.deps import current_principal, vault_of
from app.edge.auth_first import authenticate_first
from app.edge.body import announces_body
from app.edge.body_cap import read_capped

F = TypeVar("F", bound=Callable[..., Any])
_STREAMS = "__locard_streams_body__"


def streams_body(endpoint: F) -> F:
    """Marks a view that streams its body to the store or a hasher: not capped here, since
    the body is never held whole (the upload limit bounds it instead)."""
    setattr(endpoint, _STREAMS, True)
    return endpoint


class GuardedRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        needs_principal = _needs_principal(self.dependant)
        capped = not getattr(self.endpoint, _STREAMS, False)

        async def guarded(request: Request) -> Response:
            if announces_body(request.scope):
                if needs_principal:
                    await authenticate_first(request)
                if capped:
                    limit = vault_of(request).settings.max_body_bytes
                    request = await read_capped(request, limit)
            return await handler(request)

        return guarded


def _needs_principal(dependant: Dependant) -> bool:
    return any(d.call is current_principal or _needs_principal(d) for d in dependant.dependencies)
