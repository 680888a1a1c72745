"""The files the pages load: stylesheets, scripts, images and the favicon."""

from __future__ import annotations

import re

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from app.errors import NotFound
from app.web.render import HERE, WebRoute

router = APIRouter(route_class=WebRoute, include_in_schema=False)
STATIC = HERE / "static"
_STATIC_NAME = re.compile(r"^[a-z0-9-]+\.(css|js|svg)$")


@router.get("/favicon.ico")
def favicon() -> Response:
    return FileResponse(
        STATIC / "favicon.ico",
        media_type="image/x-icon",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/static/{name}")
def static(name: str) -> Response:
    if not _STATIC_NAME.match(name) or not (STATIC / name).is_file():
        raise NotFound(f"no static file {name!r}")
    return FileResponse(STATIC / name, headers={"Cache-Control": "public, max-age=300"})
