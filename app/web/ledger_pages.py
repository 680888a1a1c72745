"""The ledger page for auditors, legal and admins: the latest checkpoint, consistency checks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from app.auth.models import Principal, Role
from app.deps import VaultDep
from app.web.deps import Who, need
from app.web.render import WebRoute, page
from custody.ledger import UnknownEntry, timestamp_json
from verify.errors import VerificationError
from verify.merkle import verify_consistency

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def _need_proofs(who: Principal) -> None:
    need(who, Role.auditor, Role.legal, Role.admin, what="The ledger page")


@router.get("/ledger", response_class=HTMLResponse)
def ledger_page(request: Request, vault: VaultDep, who: Who) -> HTMLResponse:
    _need_proofs(who)
    try:
        cp = vault.ledger.checkpoint()
    except UnknownEntry:
        return page(request, "ledger.html", {"checkpoint": None, "origin": vault.ledger.origin})
    return page(
        request,
        "ledger.html",
        {
            "checkpoint": cp,
            "root": cp.root.hex(),
            "note": cp.note.decode(),
            "timestamps": [timestamp_json(t) for t in cp.timestamps],
            "origin": vault.ledger.origin,
            "builtin_name": vault.keyring.tsa.name if vault.settings.builtin_tsa else None,
        },
    )


@router.get("/ledger/consistency")
def ledger_consistency(
    vault: VaultDep,
    who: Who,
    size: Annotated[int, Query(ge=0, le=1 << 62)],
    root: Annotated[str, Query(pattern=r"^[0-9a-f]{64}$")],
) -> JSONResponse:
    """Server-side check for browsers without WebCrypto (pages served over plain HTTP
    to another host): is the latest tree an extension of (size, root)?"""
    _need_proofs(who)
    cp = vault.ledger.checkpoint()
    if size > cp.size:
        return JSONResponse(
            {"consistent": False, "size": cp.size, "detail": "the log is smaller than you saw"}
        )
    try:
        proof = vault.ledger.consistency(size, cp.size)
        verify_consistency(size, cp.size, proof, bytes.fromhex(root), cp.root)
    except (VerificationError, UnknownEntry) as exc:
        return JSONResponse({"consistent": False, "size": cp.size, "detail": str(exc)})
    return JSONResponse({"consistent": True, "size": cp.size, "root": cp.root.hex()})
