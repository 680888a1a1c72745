"""The OpenAPI document says how to authenticate, so /docs offers an Authorize button.

Authentication itself stays in `app.deps.current_principal` (a bearer token, or the
web session cookie plus CSRF for the vault's own pages); this only describes it. An
operation is marked as needing the bearer token exactly when its dependencies reach
`current_principal`, so the schema cannot drift from the code: a public route
(`/v1/keys`, `/healthz`, the tlog tiles) carries no requirement.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from app.deps import current_principal

SCHEME = "bearer"
_DESCRIPTION = (
    "An API token (`lcd_…`), as printed once by `locard user add NAME --role ROLE` or by "
    "an admin's `POST /v1/principals`; sent as `Authorization: Bearer <token>`."
)


def needs_principal(dependant: Dependant) -> bool:
    return any(d.call is current_principal or needs_principal(d) for d in dependant.dependencies)


def declare_bearer(app: FastAPI) -> None:
    """Wrap `app.openapi` so the generated schema declares the bearer scheme."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes[SCHEME] = {"type": "http", "scheme": "bearer", "description": _DESCRIPTION}
        paths = schema.get("paths", {})
        # included routers are not flattened into app.routes: walk them as FastAPI does
        for context in iter_route_contexts(app.routes):
            route = context.original_route
            if not (isinstance(route, APIRoute) and route.include_in_schema):
                continue
            if not needs_principal(route.dependant):
                continue
            for method in context.methods or ():
                operation = paths.get(context.path_format or "", {}).get(method.lower())
                if operation is not None:
                    operation["security"] = [{SCHEME: []}]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
