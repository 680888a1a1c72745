"""Drafting an update from the case facts, and issuing it: the issued text is stored as
evidence of the case (write-once, hashed) and `communication.issued` is sealed on it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from app.artifacts.ingest import Ingest
from app.artifacts.metadata import ArtifactMeta
from app.artifacts.models import Artifact
from app.assets.service import list_assets
from app.auth.models import Principal
from app.cases.data_categories import labelled, stored
from app.comms.templates import Kind, Rendered, render
from app.events import EventType, record
from app.events.incident_events import CommunicationIssued
from app.incidents import service as incidents
from app.incidents import timeline
from app.incidents.policy import IncidentPolicy
from app.playbooks.service import checklist
from app.text import MultiLine, SingleLine
from app.vault import Vault
from custody.ledger import Receipt

#: events quoted in a draft: the latest ones, as a reader of an update wants them
TIMELINE_EVENTS = 10


class IssueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Kind
    recipient: Annotated[SingleLine, Field(min_length=1, max_length=200, pattern=r"\S")]
    #: the reviewed text; omitted: the draft as rendered
    text: Annotated[MultiLine | None, Field(min_length=1, max_length=100_000)] = None


def _t(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else None


def case_facts(
    vault: Vault, who: Principal, case_id: str, policy: IncidentPolicy
) -> dict[str, Any]:
    """What templates may use: plain values only (strings, numbers, lists, dicts)."""
    view = incidents.incident(vault, who, case_id, policy)
    f = view.facts
    entries = timeline.build(
        incidents.case_events(vault.engine, case_id), timeline.TimelineFilter()
    )
    actions = [e.summary for e in entries if e.type == EventType.containment]
    notify = view.deadline("notify")
    if f.contained_at is not None:
        containment = f"contained the incident ({_t(f.contained_at)})"
    else:
        containment = f"not yet contained the incident; {len(actions)} containment action(s) taken"
    pb = checklist(vault.engine, who, case_id)
    playbook = (
        f"{pb.playbook.title} v{pb.playbook.version}, {pb.open} of {len(pb.steps)} steps open"
        if pb.playbook
        else "not classified"
    )
    left = notify.remaining.total_seconds() / 3600 if notify.remaining is not None else None
    return {
        "case_id": view.case.id,
        "title": f.title,
        "description": view.case.description,
        "severity": f.severity,
        "status": f.status,
        "owner": f.owner,
        "declared_at": _t(f.declared_at),
        "personal_data": f.personal_data,
        #: labels of the categories of data affected, in the configured list's order
        "data_categories": [
            c.label
            for c in labelled(
                vault.settings.data_categories_file, stored(view.case.data_categories)
            )
        ],
        "containment": containment,
        "containment_actions": actions,
        "notification": {
            "required": f.notification_required,
            "state": notify.state,
            "aware_at": _t(f.aware_at),
            "due_at": _t(notify.due_at),
            "hours_left": round(left, 1) if left is not None else None,
        },
        "timeline": [
            {"occurred_at": _t(e.occurred_at), "actor": e.actor, "summary": e.summary}
            for e in entries[-TIMELINE_EVENTS:]
        ],
        "assets": [
            {"name": v.asset.name, "kind": v.asset.kind, "criticality": v.asset.criticality}
            for v in list_assets(vault, who, case_id)
        ],
        "playbook": playbook,
        "now": _t(incidents.ledger_clock(vault)()),
    }


def draft(
    vault: Vault, who: Principal, case_id: str, kind: Kind, policy: IncidentPolicy
) -> Rendered:
    return render(vault.settings.comms_dir, kind, case_facts(vault, who, case_id, policy))


def issue(
    vault: Vault, who: Principal, case_id: str, data: IssueIn, policy: IncidentPolicy
) -> tuple[Artifact, Receipt]:
    """Store the issued text as evidence (the same rules as any upload: responders on the
    case), then seal `communication.issued` on it."""
    rendered = draft(vault, who, case_id, data.kind, policy)
    text = data.text if data.text is not None else rendered.text
    content = text.encode("utf-8")
    stamp = vault.ledger.clock().astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    meta = ArtifactMeta(
        file_name=f"{data.kind.value}-update-{case_id}-{stamp}.txt",
        media_type="text/plain; charset=utf-8",
        collection_method="communication issued",
        collection_tool="locard",
        notes=f"{data.kind.value.capitalize()} update to {data.recipient}",
    )
    ingest = Ingest.begin(vault, who, case_id, meta, None, max_size=len(content))
    try:
        ingest.upload.write(content)
        ingest.commit()
    finally:
        ingest.abort()  # a no-op after commit
    art, _ = ingest.seal()
    body = CommunicationIssued(
        kind=data.kind.value,
        recipient=data.recipient.strip(),
        sha256=art.sha256,
        template_sha256=rendered.template_sha256,
        edited=text != rendered.text,
    )
    receipt = record(vault, who, EventType.communication_issued, body, case=case_id, item=art.id)
    return art, receipt
