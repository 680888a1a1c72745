"""Post-incident reviews: a lessons-learned record stored as evidence of the case.

The record is a canonical JSON document ingested like any artifact (hashed, write-once,
retained and held with the case), followed by a `review.recorded` event on that item's
chain. Action items change only through `review.item_updated` events on the same chain,
so the review's current state is a fold over its custody chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from app.artifacts.ingest import Ingest
from app.artifacts.metadata import ArtifactMeta
from app.artifacts.models import Artifact
from app.artifacts.service import get_artifact
from app.auth.models import Principal, Role
from app.auth.service import get_principal
from app.cases.service import is_member, readable_case
from app.errors import BadRequest, Forbidden, NotFound
from app.events import EventType, record
from app.events.incident_events import (
    ActionItemV2,
    EvidenceRef,
    ReviewItemUpdatedV2,
    ReviewRecordedV2,
)
from app.incidents.service import case_events
from app.text import multi_line
from app.vault import Vault
from custody.ledger import Receipt
from verify.events import Event, canonicalize

REVIEW_FORMAT = "locard-review/1"
REVIEW_MEDIA_TYPE = "application/vnd.locard.review+json"


class ItemState(StrEnum):
    open = "open"
    in_progress = "in_progress"
    done = "done"
    cancelled = "cancelled"


#: states in which an action item no longer counts as owed
CLOSED_STATES = frozenset({ItemState.done.value, ItemState.cancelled.value})


def _printable(v: str | None) -> str | None:
    return None if v is None else multi_line(v)


_Line = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
    AfterValidator(_printable),
]


class ActionItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=500)
    owner: str = Field(min_length=1, max_length=64)
    due: date
    state: ItemState = ItemState.open
    #: how to tell it is done (e.g. "a VPN sign-in without MFA is refused")
    verification: str = Field(default="", max_length=2000)

    _text = field_validator("title", "verification")(_printable)


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    summary: str = Field(min_length=1, max_length=20_000)
    root_cause: str = Field(default="", max_length=20_000)
    what_went_well: list[_Line] = Field(default_factory=list, max_length=100)
    what_went_wrong: list[_Line] = Field(default_factory=list, max_length=100)
    lessons: list[_Line] = Field(default_factory=list, max_length=100)
    action_items: list[ActionItemIn] = Field(default_factory=list, max_length=200)

    _text = field_validator("summary", "root_cause")(_printable)


class ActionItemUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: ItemState | None = None
    owner: str | None = Field(default=None, min_length=1, max_length=64)
    due: date | None = None
    note: str = Field(default="", max_length=2000)
    #: an artifact of the case that shows the verification check passed
    evidence_artifact: str | None = Field(default=None, min_length=1, max_length=64)

    _text = field_validator("note")(_printable)


class EvidenceRequired(BadRequest):
    """Closing an action item needs the evidence of its check: a note or an artifact."""


@dataclass
class ActionItem:
    id: str
    title: str
    owner: str
    due: str
    state: str
    verification: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)
    #: what closed it: {"note": ..., "artifact": ..., "sha256": ...} (None while open)
    evidence: dict[str, Any] | None = None

    def overdue(self, today: date) -> bool:
        return self.state not in CLOSED_STATES and date.fromisoformat(self.due) < today

    def to_json(self, today: date | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "owner": self.owner,
            "due": self.due,
            "state": self.state,
            "verification": self.verification,
            "evidence": self.evidence,
            "history": self.history,
        }
        if today is not None:
            out["overdue"] = self.overdue(today)
        return out


@dataclass
class Review:
    id: str  # the artifact holding the record
    sha256: str
    recorded_at: datetime
    recorded_by: str
    summary: str
    items: dict[str, ActionItem]

    def to_json(self, today: date | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "artifact": self.id,
            "sha256": self.sha256,
            "recorded_at": self.recorded_at.isoformat(),
            "recorded_by": self.recorded_by,
            "summary": self.summary,
            "action_items": [i.to_json(today) for i in self.items.values()],
        }


def fold_reviews(events: list[tuple[int, Event]]) -> list[Review]:
    """Reviews of a case with the current state of each action item, from its events."""
    reviews: dict[str, Review] = {}
    for index, ev in events:
        b = ev.body
        if ev.type == EventType.review_recorded and ev.item:
            items = {
                str(i["id"]): ActionItem(
                    str(i["id"]),
                    str(i["title"]),
                    str(i["owner"]),
                    str(i["due"]),
                    str(i["state"]),
                    str(i.get("verification") or ""),
                )
                for i in b.get("action_items", [])
                if isinstance(i, dict)
            }
            reviews[ev.item] = Review(
                ev.item,
                str(b.get("sha256", "")),
                ev.at,
                ev.actor_id,
                str(b.get("summary", "")),
                items,
            )
        elif ev.type == EventType.review_item_updated and ev.item in reviews:
            item = reviews[ev.item].items.get(str(b.get("item")))
            changes = b.get("changes")
            if item is None or not isinstance(changes, dict):
                continue
            for name, pair in changes.items():
                if name in ("state", "owner", "due") and isinstance(pair, list) and len(pair) == 2:
                    setattr(item, name, str(pair[1]))
            if "state" in changes:
                closed = item.state in CLOSED_STATES
                evidence = b.get("evidence")
                item.evidence = (
                    {
                        "note": b.get("note"),
                        "artifact": evidence.get("artifact")
                        if isinstance(evidence, dict)
                        else None,
                        "sha256": evidence.get("sha256") if isinstance(evidence, dict) else None,
                        "at": ev.at.isoformat(),
                        "by": ev.actor_id,
                    }
                    if closed
                    else None
                )
            item.history.append(
                {"index": index, "at": ev.at.isoformat(), "actor": ev.actor_id, **b}
            )
    return list(reviews.values())


def list_reviews(vault: Vault, who: Principal, case_id: str) -> list[Review]:
    readable_case(vault.engine, case_id, who)
    return fold_reviews(
        [(i, ev) for i, ev in case_events(vault.engine, case_id) if ev.type.startswith("review.")]
    )


def get_review(vault: Vault, who: Principal, case_id: str, review_id: str) -> Review:
    for r in list_reviews(vault, who, case_id):
        if r.id == review_id:
            return r
    raise NotFound(f"no review {review_id!r} in case {case_id}")


def _check_owner(vault: Vault, name: str) -> None:
    try:
        get_principal(vault.engine, name)
    except NotFound as exc:
        raise BadRequest(f"action item owner {name!r} is not a principal") from exc


def record_review(
    vault: Vault, who: Principal, case_id: str, data: ReviewIn
) -> tuple[Review, Artifact, Receipt]:
    """Store the lessons-learned document as evidence, then record the review event."""
    for item in data.action_items:
        _check_owner(vault, item.owner)
    now = vault.ledger.clock()
    items = [
        {
            "id": f"A{n}",
            "title": item.title,
            "owner": item.owner,
            "due": item.due.isoformat(),
            "state": item.state.value,
            "verification": item.verification,
        }
        for n, item in enumerate(data.action_items, start=1)
    ]
    doc = {
        "format": REVIEW_FORMAT,
        "case": case_id,
        "recorded_by": who.id,
        "recorded_at": now.astimezone(UTC).isoformat(),
        "summary": data.summary,
        "root_cause": data.root_cause,
        "what_went_well": data.what_went_well,
        "what_went_wrong": data.what_went_wrong,
        "lessons": data.lessons,
        "action_items": items,
    }
    # Canonical bytes: anyone can re-derive the SHA-256 from the parsed document.
    content = canonicalize(doc)
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    meta = ArtifactMeta(
        file_name=f"lessons-learned-{case_id}-{stamp}.json",
        media_type=REVIEW_MEDIA_TYPE,
        collection_method="post-incident review",
        collection_tool="locard",
        notes="Lessons-learned record with action items",
    )
    ingest = Ingest.begin(vault, who, case_id, meta, None, max_size=len(content))
    try:
        ingest.upload.write(content)
        ingest.commit()
    finally:
        ingest.abort()  # a no-op after commit
    art, _ = ingest.seal()
    body = ReviewRecordedV2(
        format=REVIEW_FORMAT,
        artifact=art.id,
        sha256=art.sha256,
        summary=data.summary[:500],
        action_items=[ActionItemV2(**i) for i in items],
    )
    receipt = record(vault, who, EventType.review_recorded, body, case=case_id, item=art.id)
    review = get_review(vault, who, case_id, art.id)
    return review, art, receipt


def _evidence(
    vault: Vault, who: Principal, case_id: str, data: ActionItemUpdate
) -> EvidenceRef | None:
    if data.evidence_artifact is None:
        return None
    try:
        art = get_artifact(vault.engine, data.evidence_artifact, who)
    except NotFound:
        art = None
    if art is None or art.case_id != case_id or art.ingest_index is None:
        raise BadRequest(f"evidence {data.evidence_artifact!r} is not an artifact of {case_id}")
    return EvidenceRef(artifact=art.id, sha256=art.sha256)


def update_item(
    vault: Vault,
    who: Principal,
    case_id: str,
    review_id: str,
    item_id: str,
    data: ActionItemUpdate,
) -> tuple[Review, Receipt | None]:
    """Responders on the case (and admins) manage items; an item's owner may update it."""
    case = readable_case(vault.engine, case_id, who)
    review = get_review(vault, who, case.id, review_id)
    get_artifact(vault.engine, review.id, who)
    item = review.items.get(item_id)
    if item is None:
        raise NotFound(f"no action item {item_id!r} in review {review_id}")
    if who.role == Role.auditor:
        raise Forbidden("auditors read; they do not change reviews")
    responder = who.role == Role.admin or (
        who.role == Role.collector and is_member(vault.engine, case.id, who.id)
    )
    if not responder and who.id != item.owner:
        raise Forbidden("only the case's responders or the item's owner may update it")
    wanted: dict[str, str] = {}
    if data.state is not None:
        wanted["state"] = data.state.value
    if data.owner is not None:
        _check_owner(vault, data.owner)
        wanted["owner"] = data.owner
    if data.due is not None:
        wanted["due"] = data.due.isoformat()
    changes = {k: [getattr(item, k), v] for k, v in wanted.items() if getattr(item, k) != v}
    if not changes:
        return review, None
    evidence = _evidence(vault, who, case.id, data)
    closing = changes.get("state", [None, None])[1]
    if closing == ItemState.done.value and not (data.note or evidence):
        raise EvidenceRequired(
            f"closing {item.id} needs the evidence of its check"
            + (f" ({item.verification})" if item.verification else "")
            + ": a note or an artifact of the case"
        )
    if closing == ItemState.cancelled.value and not data.note:
        raise EvidenceRequired(f"cancelling {item.id} needs a note saying why")
    fields: dict[str, Any] = {"review": review.id, "item": item.id, "changes": changes}
    if data.note:
        fields["note"] = data.note
    if evidence is not None:
        fields["evidence"] = evidence
    body = ReviewItemUpdatedV2(**fields)
    receipt = record(vault, who, EventType.review_item_updated, body, case=case.id, item=review.id)
    return get_review(vault, who, case.id, review.id), receipt
