"""Authenticate a request that sends a body before reading that body.

The principal found here is the one `current_principal` then returns to the view's
dependencies, so a request is authenticated once.
"""

from __future__ import annotations

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request

from app.deps import current_principal, get_vault


async def authenticate_first(request: Request) -> None:
    """Raises Unauthorized (answered 401 by the app) without touching the body."""
    await run_in_threadpool(current_principal, request, get_vault(request))
