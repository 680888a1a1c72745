"""The ledger as a C2SP tlog-tiles log under /tlog/: what any tiles client can read.

The checkpoint and hash tiles reveal nothing but hashes and are public. Entry bundles
carry the events themselves (names, reasons, titles), so they need a proof-reading role
unless `LOCARD_TLOG_PUBLIC_ENTRIES` is set.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from app.auth.models import Role
from app.deps import VaultDep, check_role, principal_for
from app.edge.routes import GuardedRoute
from app.errors import NotFound
from custody.tiles import TILES_PREFIX
from storage.errors import ObjectNotFound

router = APIRouter(prefix="/tlog", tags=["tlog"], route_class=GuardedRoute)

#: `<N>` as the spec writes it, optionally with the partial-tile suffix
_INDEX = r"(?:x[0-9]{3}/)*[0-9]{3}(?:\.p/(?:[1-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5]))?"
_TILE = re.compile(rf"(?:0|[1-9][0-9]?)/{_INDEX}")
_ENTRIES = re.compile(_INDEX)
_IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}


def _entry_reader(request: Request, vault: VaultDep) -> None:
    if vault.settings.tlog_public_entries:
        return
    check_role(principal_for(request, vault), Role.auditor, Role.legal, Role.admin)


EntryReader = Annotated[None, Depends(_entry_reader)]


@router.get("/checkpoint")
def checkpoint(vault: VaultDep) -> Response:
    note = vault.tlog_slot.read()
    if note is None:
        raise NotFound("no checkpoint has been published yet")
    return Response(
        note,
        media_type="text/plain; charset=utf-8",
        headers={"Cache-Control": "no-cache, max-age=0"},
    )


def _tile(vault: VaultDep, path: str) -> Response:
    try:
        data = vault.store.read_bytes(TILES_PREFIX + path)
    except ObjectNotFound as exc:
        raise NotFound(f"no tile {path}") from exc
    return Response(data, media_type="application/octet-stream", headers=_IMMUTABLE)


@router.get("/tile/entries/{path:path}")
def entry_bundle(path: str, vault: VaultDep, who: EntryReader) -> Response:
    if not _ENTRIES.fullmatch(path):
        raise NotFound(f"no entry bundle {path}")
    return _tile(vault, f"tile/entries/{path}")


@router.get("/tile/{path:path}")
def hash_tile(path: str, vault: VaultDep) -> Response:
    if not _TILE.fullmatch(path):
        raise NotFound(f"no tile {path}")
    return _tile(vault, f"tile/{path}")
