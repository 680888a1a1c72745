"""Preconditions are decided inside the seal, per draft: a refused draft is left out alone
and the rest of its batch is sealed; `occurred_at` never passes the sealed time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from app.artifacts.models import Artifact
from app.events import EventType, draft
from app.events.case_events import Hold, Text
from app.events.incident_events import ContainmentV3
from app.events.preconditions import CustodianIs, HoldIs
from custody.ledger import Receipt, Refused
from tests.facts.conftest import ok
from tests.support.live_server import LiveVault


def test_a_refused_draft_leaves_its_batch_sealed(live: LiveVault, case_id: str) -> None:
    ledger = live.vault.ledger
    size = ledger.size()
    hold = Hold(reason="r", objects=0, kept_for_other_cases=0)
    drafts = [
        draft("legal", "legal", EventType.case_note, Text(text="first"), case=case_id),
        # assumes the hold is on: it is off, so this one alone is refused
        draft(
            "legal",
            "legal",
            EventType.hold_released,
            hold,
            case=case_id,
            preconditions=[HoldIs(case_id, True)],
        ),
        draft(
            "legal",
            "legal",
            EventType.hold_set,
            hold,
            case=case_id,
            preconditions=[HoldIs(case_id, False)],
        ),
        # decided after the previous draft of the same batch set the hold
        draft(
            "legal",
            "legal",
            EventType.hold_set,
            hold,
            case=case_id,
            preconditions=[HoldIs(case_id, False)],
        ),
    ]
    outcomes = ledger.seal_each(drafts)
    kinds = [type(o) for o in outcomes]
    assert kinds == [Receipt, Refused, Receipt, Refused]
    assert isinstance(outcomes[1], Refused) and outcomes[1].current == {"legal_hold": False}
    assert isinstance(outcomes[3], Refused) and outcomes[3].current == {"legal_hold": True}
    assert ledger.size() == size + 2
    sealed = [o for o in outcomes if isinstance(o, Receipt)]
    assert [r.event.index for r in sealed] == [size, size + 1]
    with live.client("auditor") as a:
        assert ok(a.get(f"/v1/cases/{case_id}"))["legal_hold"] is True


def test_refused_projection_writes_nothing(live: LiveVault, case_id: str) -> None:
    with live.client("collector") as c:
        art = ok(c.post(f"/v1/cases/{case_id}/artifacts", params={"file_name": "f"}, content=b"z"))
    art_id = art["artifact"]["id"]
    size = live.vault.ledger.size()
    with pytest.raises(Refused):
        live.vault.ledger.seal(
            [
                draft(
                    "legal",
                    "legal",
                    EventType.case_note,
                    Text(text="never"),
                    case=case_id,
                    preconditions=[CustodianIs(art_id, "legal")],
                )
            ]
        )
    assert live.vault.ledger.size() == size
    with Session(live.vault.engine) as s:
        row = s.get(Artifact, art_id)
        assert row is not None and row.custodian == "collector"


def _containment(when: datetime) -> ContainmentV3:
    return ContainmentV3(
        action="isolate_host",
        target="WS-1",
        assets=[],
        performed_by="collector",
        occurred_at=when.isoformat(),
        outcome="succeeded",
        ticket=None,
        details="",
    )


def test_occurred_at_after_the_seal_is_refused(live: LiveVault, case_id: str) -> None:
    ledger = live.vault.ledger
    size = ledger.size()
    future = datetime.now(UTC) + timedelta(hours=1)
    past = datetime.now(UTC) - timedelta(hours=1)
    outcomes = ledger.seal_each(
        [
            draft("c", "collector", EventType.containment, _containment(future), case=case_id),
            draft("c", "collector", EventType.containment, _containment(past), case=case_id),
        ]
    )
    assert isinstance(outcomes[0], Refused) and "after the sealed time" in str(outcomes[0])
    assert isinstance(outcomes[1], Receipt)
    assert ledger.size() == size + 1


def test_api_refuses_future_times_before_sealing(live: LiveVault, case_id: str) -> None:
    future = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()
    size = live.vault.ledger.size()
    with live.client("collector") as c:
        r = c.post(
            f"/v1/cases/{case_id}/actions",
            json={
                "action": "isolate_host",
                "target": "WS-1",
                "outcome": "succeeded",
                "performed_at": future,
            },
        )
        assert r.status_code == 422, r.text
        r = c.patch(f"/v1/cases/{case_id}", json={"status": "triaged", "occurred_at": future})
        assert r.status_code == 422, r.text
        r = c.post(
            f"/v1/cases/{case_id}/artifacts",
            params={"file_name": "f", "collected_at": future},
            content=b"q",
        )
        assert r.status_code in (400, 422), r.text
    assert live.vault.ledger.size() == size
