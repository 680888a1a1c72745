"""Playbook API: the scenarios on offer, classifying a case, and its checklist steps."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool

from app.deps import Reader, VaultDep
from app.edge.routes import GuardedRoute
from app.errors import NotFound, Unavailable
from app.playbooks import service
from app.playbooks.definitions import Playbook, PlaybookFileInvalid, load_dir

router = APIRouter(prefix="/v1", tags=["playbooks"], route_class=GuardedRoute)


class PlaybooksMisconfigured(Unavailable):
    """A playbook file the vault cannot use: every playbook request says which."""


def get_playbooks(request: Request) -> dict[str, Playbook]:
    """Read once per application (from LOCARD_PLAYBOOKS_DIR or the shipped files)."""
    books: dict[str, Playbook] | None = getattr(request.app.state, "playbooks", None)
    if books is None:
        try:
            books = load_dir(request.app.state.vault.settings.playbooks_dir)
        except PlaybookFileInvalid as exc:
            raise PlaybooksMisconfigured(f"playbooks cannot be read: {exc}") from exc
        request.app.state.playbooks = books
    return books


Books = Annotated[dict[str, Playbook], Depends(get_playbooks)]
StepId = Annotated[str, Path(max_length=64)]


@router.get("/playbooks")
def list_playbooks(who: Reader, books: Books) -> list[dict[str, Any]]:
    return [service.playbook_json(b) for b in books.values()]


@router.get("/playbooks/{scenario}")
def read_playbook(scenario: str, who: Reader, books: Books) -> dict[str, Any]:
    book = books.get(scenario)
    if book is None:
        raise NotFound(f"no playbook for scenario {scenario!r}")
    return service.playbook_json(book)


@router.get("/cases/{case_id}/playbook")
def read_checklist(case_id: str, vault: VaultDep, who: Reader) -> dict[str, Any]:
    return service.checklist(vault.engine, who, case_id).to_json()


@router.post("/cases/{case_id}/classification")
async def classify(
    case_id: str, data: service.ClassifyIn, vault: VaultDep, who: Reader, books: Books
) -> dict[str, Any]:
    """Classify the case as a scenario: its playbook becomes the case's checklist
    (responders on the case, admin). The same scenario again changes nothing."""
    checklist, receipt = await run_in_threadpool(
        service.classify, vault, who, case_id, data.scenario, books
    )
    return {"checklist": checklist.to_json(), "receipt": receipt.to_json() if receipt else None}


@router.post("/cases/{case_id}/playbook/steps/{step_id}", status_code=201)
async def record_step(
    case_id: str, step_id: StepId, data: service.StepIn, vault: VaultDep, who: Reader
) -> dict[str, Any]:
    """A step done, skipped (with a reason) or deviated from (saying how), with when."""
    checklist, receipt, notified = await run_in_threadpool(
        service.record_step, vault, who, case_id, step_id, data
    )
    return {"checklist": checklist.to_json(), "receipt": receipt.to_json(), "webhook": notified}
