"""Incident events: containment actions (v3 links the assets it names), reviews, exports,
reports, assessments and communications."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from app.assets.models import AssetLink, LinkKind
from app.events import phrases
from app.events.catalogue import Body, EventSpec, EventType, declare, parse_time
from app.events.phrases import Names
from app.events.text import short
from verify.events import Event


class ContainmentV1(Body):
    action: str
    target: str
    performed_by: str
    performed_at: str
    outcome: str
    ticket: str | None
    details: str


class ContainmentV2(Body):
    """v2: `occurred_at` (when it was performed, as told; null: when it was logged, the
    sealed time) replaces `performed_at`."""

    action: str
    target: str
    performed_by: str
    occurred_at: str | None
    outcome: str
    ticket: str | None
    details: str


class ContainmentV3(Body):
    """v3: `assets` names the case's assets the action concerns, by asset id, so it shows
    on them whatever the free-text `target` says (an IP for a host, a ticket's wording)."""

    action: str
    target: str
    assets: list[str]
    performed_by: str
    occurred_at: str | None
    outcome: str
    ticket: str | None
    details: str


def _project_containment(s: Session, index: int, ev: Event, private: Mapping[str, Any]) -> None:
    b = CONTAINMENT.parse(ev)
    if isinstance(b, ContainmentV3):
        assert ev.case is not None
        for asset in dict.fromkeys(b.assets):
            s.add(
                AssetLink(
                    case_id=ev.case, asset_id=asset, kind=LinkKind.containment, ref=str(index)
                )
            )


class ExportedArtifact(Body):
    id: str
    sha256: str
    size: int


class Head(Body):
    index: int
    leaf_hash: str


class Export(Body):
    format: str
    content: bool
    artifacts: list[ExportedArtifact]
    heads: dict[str, Head]


class ReportIssued(Body):
    format: str
    sha256: str
    size: int
    report_sha256: str
    checkpoint_size: int
    generated_at: str
    signer_certificate_sha256: str | None = None
    tsa: str | None = None


class ActionItem(Body):
    id: str
    title: str
    owner: str
    due: str
    state: str


class ReviewRecorded(Body):
    format: str
    artifact: str
    sha256: str
    summary: str
    action_items: list[ActionItem]


class ActionItemV2(Body):
    """v2 items carry the check that proves them done."""

    id: str
    title: str
    owner: str
    due: str
    state: str
    verification: str


class ReviewRecordedV2(Body):
    format: str
    artifact: str
    sha256: str
    summary: str
    action_items: list[ActionItemV2]


class ReviewItemUpdated(Body):
    review: str
    item: str
    changes: dict[str, list[Any]]
    note: str | None = None


class EvidenceRef(Body):
    artifact: str
    sha256: str


class ReviewItemUpdatedV2(Body):
    """v2: closing an item names its evidence, an artifact of the case (the `note` may be
    the evidence instead)."""

    review: str
    item: str
    changes: dict[str, list[Any]]
    note: str | None = None
    evidence: EvidenceRef | None = None


class Assessment(Body):
    """What leadership metrics need and no other event states: when the malicious activity
    began and when it was detected (both as told), and the root cause. The latest
    assessment of a case is the one that counts; null leaves a value unknown."""

    first_activity_at: str | None
    detected_at: str | None
    root_cause: str | None


def _summary_assessment(ev: Event, names: Names) -> str:
    b = ev.body
    parts = []
    if b.get("first_activity_at"):
        parts.append(f"malicious activity began {phrases.when(b.get('first_activity_at'))}")
    if b.get("detected_at"):
        parts.append(f"detected {phrases.when(b.get('detected_at'))}")
    if b.get("root_cause"):
        parts.append(f"root cause: {short(b.get('root_cause'), 120)}")
    return "Assessed: " + ("; ".join(parts) or "nothing known yet")


class CommunicationIssued(Body):
    """An update issued to its audience; the text itself is the artifact the event is on."""

    kind: str
    recipient: str
    sha256: str
    template_sha256: str
    #: the issued text differs from what the template rendered (reviewed and edited)
    edited: bool


def containment_time(ev: Event) -> Any:
    b = ev.body
    return parse_time(b.get("occurred_at") if "v" in b else b.get("performed_at"))


def _summary_containment(ev: Event, names: Names) -> str:
    b = ev.body
    return phrases.containment(b)


def _summary_review(ev: Event, names: Names) -> str:
    items = ev.body.get("action_items")
    n = len(items) if isinstance(items, list) else 0
    return f"Lessons learned recorded ({n} action item(s)): {short(ev.body.get('summary'))}"


def _summary_item(ev: Event, names: Names) -> str:
    b = ev.body
    text = f"Action item {b.get('item')} " + phrases.item_change(b.get("changes") or {})
    evidence = b.get("evidence")
    if isinstance(evidence, dict):
        text += f", with evidence {names.artifact(evidence.get('artifact'))}"
    return text + (f" ({short(b.get('note'), 80)})" if b.get("note") else "")


def _summary_report(ev: Event, names: Names) -> str:
    b = ev.body
    return (
        f"Custody report issued ({b.get('format')}, SHA-256 "
        f"{str(b.get('sha256', ''))[:16]}…) at tree size {b.get('checkpoint_size')}"
    )


def _summary_export(ev: Event, names: Names) -> str:
    arts = ev.body.get("artifacts")
    n = len(arts) if isinstance(arts, list) else 0
    what = "with content" if ev.body.get("content") else "proofs only"
    return f"Evidence bundle exported ({n} artifact(s), {what})"


CONTAINMENT = declare(
    EventSpec(
        EventType.containment,
        "containment",
        {1: ContainmentV1, 2: ContainmentV2, 3: ContainmentV3},
        _summary_containment,
        project=_project_containment,
        occurred=containment_time,
    )
)
EXPORT = declare(EventSpec(EventType.export, "report", {1: Export}, _summary_export))
REPORT_ISSUED = declare(
    EventSpec(EventType.report_issued, "report", {1: ReportIssued}, _summary_report)
)
REVIEW_RECORDED = declare(
    EventSpec(
        EventType.review_recorded,
        "review",
        {1: ReviewRecorded, 2: ReviewRecordedV2},
        _summary_review,
    )
)
REVIEW_ITEM_UPDATED = declare(
    EventSpec(
        EventType.review_item_updated,
        "review",
        {1: ReviewItemUpdated, 2: ReviewItemUpdatedV2},
        _summary_item,
    )
)
CASE_ASSESSED = declare(
    EventSpec(EventType.case_assessed, "decision", {1: Assessment}, _summary_assessment)
)
COMMUNICATION_ISSUED = declare(
    EventSpec(
        EventType.communication_issued,
        "communication",
        {1: CommunicationIssued},
        lambda ev, names: (
            f"{str(ev.body.get('kind', '')).capitalize()} update issued to "
            f"{short(ev.body.get('recipient'), 80)}"
            + (" (edited after review)" if ev.body.get("edited") else "")
        ),
    )
)
