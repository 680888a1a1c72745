"""The names of custody event types: one definition for the vault and the verifier.

The vault's event catalogue (app/events) declares each type's body models, summary and
projection; the verifier needs only the names of the few types it checks (ingest,
export). Both import them from here, so no event type is spelled twice.
"""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    principal_created = "principal.created"
    principal_token_rotated = "principal.token_rotated"
    principal_requested = "principal.requested"
    principal_request_declined = "principal.request_declined"
    principal_role_changed = "principal.role_changed"
    principal_disabled = "principal.disabled"
    case_created = "case.created"
    case_updated = "case.updated"
    case_member_added = "case.member_added"
    case_note = "case.note"
    case_decision = "case.decision"
    case_classified = "case.classified"
    case_assessed = "case.assessed"
    hold_set = "hold.set"
    hold_released = "hold.released"
    ingest = "ingest"
    access = "access"
    transfer = "transfer"
    annotation = "annotation"
    collector_item = "collector.item"
    collector_mismatch = "collector.mismatch"
    collector_container = "collector.container"
    containment = "containment"
    export = "export"
    report_issued = "report.issued"
    review_recorded = "review.recorded"
    review_item_updated = "review.item_updated"
    playbook_step = "playbook.step"
    asset_recorded = "asset.recorded"
    asset_linked = "asset.linked"
    case_data_categories = "case.data_categories"
    communication_issued = "communication.issued"
    key_rotated = "key.rotated"
    evidence_renewed = "evidence.renewed"
    report_renewed = "report.renewed"


__all__ = ["EventType"]
