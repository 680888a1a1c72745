"""Action items across cases: one owner's list (overdue first), from the review events of
every case the reader may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from app.auth.models import Principal
from app.cases.service import list_cases
from app.events import EventType
from app.incidents.reviews import ActionItem, fold_reviews
from app.incidents.service import case_events
from app.vault import Vault

_REVIEW_TYPES = frozenset({EventType.review_recorded.value, EventType.review_item_updated.value})


@dataclass(frozen=True)
class OwnedItem:
    case_id: str
    case_title: str
    review_id: str
    item: ActionItem

    def to_json(self, today: date) -> dict[str, Any]:
        return {
            "case": self.case_id,
            "case_title": self.case_title,
            "review": self.review_id,
            **self.item.to_json(today),
        }


def owned_items(
    vault: Vault, who: Principal, owner: str | None, today: date, *, overdue_only: bool = False
) -> list[OwnedItem]:
    """Items of `owner` (None: everyone's) in the cases `who` may read: overdue first, then
    by due date; closed items last."""
    out = []
    for case in list_cases(vault.engine, who):
        events = [
            (i, ev) for i, ev in case_events(vault.engine, case.id) if ev.type in _REVIEW_TYPES
        ]
        for review in fold_reviews(events):
            for item in review.items.values():
                if owner is not None and item.owner != owner:
                    continue
                if overdue_only and not item.overdue(today):
                    continue
                out.append(OwnedItem(case.id, case.title, review.id, item))
    out.sort(
        key=lambda o: (not o.item.overdue(today), o.item.state in ("done", "cancelled"), o.item.due)
    )
    return out
