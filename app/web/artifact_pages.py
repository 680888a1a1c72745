"""One artifact's page, its custody chain and checks, and re-hashing its stored bytes."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from app.artifacts import service as artifacts
from app.artifacts.models import Artifact
from app.auth.models import Principal
from app.cases import service as cases
from app.deps import VaultDep
from app.events import Names
from app.incidents import timeline
from app.vault import Vault
from app.verification.schemas import ReasonIn
from app.verification.service import REHASH_CHECK, VERIFY_REASON, verify_artifact, verify_stored
from app.web.deps import Who
from app.web.forms import back, field
from app.web.render import WebRoute, page
from app.web.session import check_form
from verify.event_types import EventType
from verify.events import chain_key, decode_event

router = APIRouter(route_class=WebRoute, include_in_schema=False)

#: after a re-hash, by outcome (the page then shows the leaf of that read)
REHASHED = {
    "rehashed": "The stored bytes were re-read and re-hashed: SHA-256 {sha256}, SHA-1 and MD5 "
    "match the sealed ingest event.",
    "rehash_failed": "The stored bytes were re-read and re-hashed: they DO NOT match the sealed "
    "ingest event (SHA-256 {sha256}). Report this to the vault's operators.",
}


def _artifact_page(
    request: Request,
    vault: Vault,
    who: Principal,
    art: Artifact,
    *,
    done: str | None = None,
    leaf: int | None = None,
) -> HTMLResponse:
    case = cases.readable_case(vault.engine, art.case_id, who)
    chain = vault.ledger.chain(chain_key(art.case_id, art.id))
    checks = verify_artifact(vault, art, chain)
    decoded = [(e.index, decode_event(e.canonical)) for e in chain]
    names = Names.of(ev for _, ev in decoded)
    events = [timeline.entry(i, ev, names) for i, ev in decoded]
    flash = REHASHED.get(done or "", "").format(sha256=art.sha256) or None
    # Only a read this chain holds is named: the number comes from the URL.
    if flash and any(e.index == leaf and e.type == EventType.access for e in events):
        flash += f" That read is leaf #{leaf} of the custody chain."
    return page(
        request,
        "artifact.html",
        {"artifact": art, "case": case, "chain": events, "checks": checks, "flash": flash},
    )


@router.get("/artifacts/{artifact_id}", response_class=HTMLResponse)
def artifact_page(
    request: Request,
    artifact_id: str,
    vault: VaultDep,
    who: Who,
    done: str | None = None,
    leaf: Annotated[int | None, Query(ge=0, le=1 << 62)] = None,
) -> HTMLResponse:
    art = artifacts.get_artifact(vault.engine, artifact_id, who)
    return _artifact_page(request, vault, who, art, done=done, leaf=leaf)


@router.post("/artifacts/{artifact_id}/verify")
async def rehash_artifact(
    artifact_id: str, request: Request, vault: VaultDep, who: Who
) -> Response:
    """Re-read and re-hash the stored bytes now (a sealed access event), then redirect to
    the page (a reload must not read the evidence again)."""
    form = await request.form()
    check_form(request, form)
    reason = ReasonIn.model_validate({"reason": field(form, "reason") or VERIFY_REASON}).reason
    art, checks, receipt = await run_in_threadpool(verify_stored, vault, who, artifact_id, reason)
    read = [r for r in checks.rows if r.name == REHASH_CHECK]
    done = "rehashed" if read and read[0].state == "pass" else "rehash_failed"
    return back(f"/artifacts/{quote(art.id)}?leaf={receipt.event.index}", done)
