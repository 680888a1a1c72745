"""Containment actions: structured log entries about what responders did, each a ledger event."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.auth.models import Principal
from app.cases.service import readable_case, writable_case
from app.deps import Collector, Reader, VaultDep
from app.edge.routes import GuardedRoute
from app.events import EventType, occurred_at, record
from app.events.catalogue import iso
from app.events.incident_events import ContainmentV3
from app.events.preconditions import AssetsExist, CaseExists
from app.text import MultiLine, SingleLine
from app.vault import Vault
from verify.events import chain_key, decode_event

router = APIRouter(
    prefix="/v1/cases/{case_id}/actions", tags=["containment"], route_class=GuardedRoute
)


class ActionKind(StrEnum):
    isolate_host = "isolate_host"
    disable_account = "disable_account"
    revoke_token = "revoke_token"
    block_ioc = "block_ioc"
    other = "other"


class Outcome(StrEnum):
    succeeded = "succeeded"
    failed = "failed"
    partial = "partial"
    pending = "pending"


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: ActionKind
    target: Annotated[SingleLine, Field(min_length=1, max_length=500)]
    performed_by: Annotated[SingleLine | None, Field(max_length=200)] = None
    performed_at: datetime | None = None
    outcome: Outcome
    ticket: Annotated[SingleLine | None, Field(max_length=200)] = None
    details: Annotated[MultiLine, Field(max_length=20_000)] = ""
    #: ids of the case's assets the action concerns (`host:ws-fin-042`), linked explicitly
    assets: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=300)]], Field(max_length=20)
    ] = []

    @field_validator("performed_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is None:
            return v
        if v.tzinfo is None:
            raise ValueError("performed_at must carry a timezone (e.g. Z)")
        try:
            v = v.astimezone(UTC)
        except OverflowError:
            # Converting here, not in log_action, turns an out-of-range offset into a 422.
            raise ValueError("performed_at is outside the representable range") from None
        if v > datetime.now(UTC):
            raise ValueError("performed_at is in the future: an action is logged once done")
        return v


def log_action(vault: Vault, who: Principal, case_id: str, data: ActionIn) -> dict[str, Any]:
    writable_case(vault.engine, case_id, who)
    assets = list(dict.fromkeys(data.assets))
    body = ContainmentV3(
        action=data.action.value,
        target=data.target,
        assets=assets,
        performed_by=data.performed_by or who.id,
        # when it was done, as told (the seal refuses a time after its own); untold, the
        # action was done when logged: the sealed time
        occurred_at=iso(data.performed_at),
        outcome=data.outcome.value,
        ticket=data.ticket,
        details=data.details,
    )
    receipt = record(
        vault,
        who,
        EventType.containment,
        body,
        case=case_id,
        preconditions=[CaseExists(case_id), AssetsExist(case_id, tuple(assets))],
    )
    return receipt.to_json()


@router.post("", status_code=201)
async def create_action(
    case_id: str, data: ActionIn, vault: VaultDep, who: Collector
) -> dict[str, Any]:
    receipt = await run_in_threadpool(log_action, vault, who, case_id, data)
    return {"receipt": receipt}


@router.get("")
def list_actions(case_id: str, vault: VaultDep, who: Reader) -> list[dict[str, Any]]:
    readable_case(vault.engine, case_id, who)
    out = []
    for e in vault.ledger.chain(chain_key(case_id, None)):
        ev = decode_event(e.canonical)
        if ev.type == EventType.containment:
            # `performed_at` kept for clients of v1 bodies; `occurred_at` is the same time
            told = occurred_at(ev).isoformat()
            fields = {k: v for k, v in ev.body.items() if k != "v"}
            fields.update(performed_at=told, occurred_at=told)
            out.append({"index": e.index, "at": ev.at.isoformat(), "actor": ev.actor_id, **fields})
    return out
