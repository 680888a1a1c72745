"""Service tables as projections of ledger events, for `locard rebuild --from-store`.

Each handler applies one event type to the database, in ledger order. A domain that
adds an event type which changes its tables registers a handler here, so that a
vault rebuilt from the write-once archive alone is the vault that was lost.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from app.artifacts.models import Artifact
from app.auth.models import Principal
from app.cases.models import Case, CaseMember, incident_fields
from app.db import session
from verify.events import Event

Handler = Callable[[Session, int, Event], None]
HANDLERS: dict[str, Handler] = {}
#: a principal restored from the archive has no usable token until one is issued again
NO_TOKEN = "!"


def handles(*types: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for t in types:
            HANDLERS[t] = fn
        return fn

    return register


def _member(s: Session, case_id: str, principal: str) -> None:
    if s.get(CaseMember, (case_id, principal)) is None:
        s.add(CaseMember(case_id=case_id, principal_id=principal))


@handles("principal.created")
def _principal(s: Session, index: int, ev: Event) -> None:
    b = ev.body
    if s.get(Principal, b["principal"]) is None:
        s.add(
            Principal(
                id=b["principal"],
                role=b["role"],
                token_hash=NO_TOKEN + b["principal"],
                public_key=b.get("public_key"),
                created_at=ev.at,
            )
        )


@handles("case.created")
def _case_created(s: Session, index: int, ev: Event) -> None:
    assert ev.case is not None
    b = ev.body
    s.add(
        Case(
            id=ev.case,
            title=b["title"],
            description=b.get("description", ""),
            severity=b["severity"],
            status=b["status"],
            owner=b["owner"],
            created_by=ev.actor_id,
            created_at=ev.at,
            updated_at=ev.at,
            legal_hold=False,
            retention_days=b["retention_days"],
            **incident_fields(b, ev.at),
        )
    )
    s.flush()
    _member(s, ev.case, ev.actor_id)
    _member(s, ev.case, b["owner"])


def _case(s: Session, ev: Event) -> Case:
    assert ev.case is not None
    case = s.get(Case, ev.case)
    if case is None:
        raise ValueError(f"event about unknown case {ev.case}")
    return case


@handles("case.updated")
def _case_updated(s: Session, index: int, ev: Event) -> None:
    case = _case(s, ev)
    changes: dict[str, Any] = ev.body.get("changes", {})
    for name, (_, new) in changes.items():
        if hasattr(case, name):
            setattr(case, name, new)
    case.updated_at = ev.at
    if "owner" in changes:
        _member(s, case.id, changes["owner"][1])


@handles("case.member_added")
def _member_added(s: Session, index: int, ev: Event) -> None:
    assert ev.case is not None
    _member(s, ev.case, ev.body["principal"])


@handles("hold.set", "hold.released")
def _hold(s: Session, index: int, ev: Event) -> None:
    case = _case(s, ev)
    case.legal_hold = ev.type == "hold.set"
    case.updated_at = ev.at


@handles("ingest")
def _ingest(s: Session, index: int, ev: Event) -> None:
    b = ev.body
    assert ev.case is not None and ev.item is not None
    collected = b.get("collected_at")
    s.add(
        Artifact(
            id=ev.item,
            case_id=ev.case,
            file_name=b["file_name"],
            media_type=b["media_type"],
            size=b["size"],
            sha256=b["sha256"],
            sha1=b["sha1"],
            md5=b["md5"],
            object_key=b["object_key"],
            source_host=b.get("source_host"),
            collection_method=b.get("collection_method"),
            collection_tool=b.get("collection_tool"),
            collected_at=datetime.fromisoformat(collected) if collected else None,
            notes=b.get("notes") or "",
            collector=ev.actor_id,
            custodian=ev.actor_id,
            created_at=ev.at,
            ingest_index=index,
        )
    )


@handles("transfer")
def _transfer(s: Session, index: int, ev: Event) -> None:
    assert ev.item is not None
    art = s.get(Artifact, ev.item)
    if art is not None:
        art.custodian = ev.body["to"]["id"]


class Projector:
    """Applies events one by one, each in its own short transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.applied = 0

    def __call__(self, index: int, ev: Event) -> None:
        handler = HANDLERS.get(ev.type)
        if handler is None:
            return
        with session(self.engine) as s:
            handler(s, index, ev)
            s.commit()
        self.applied += 1
