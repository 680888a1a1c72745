"""`occurred_at` (when the fact happened, as told) beside `at` (when it was sealed): the
timeline sorts by the first and shows the lag; MTTA/MTTC use effective times; custody
starts at collection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.incidents.metrics import case_facts
from app.incidents.service import facts
from tests.facts.conftest import ok
from tests.support.live_server import LiveVault


def test_timeline_orders_by_what_happened(live: LiveVault, case_id: str) -> None:
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    with live.client("collector") as c:
        ok(c.post(f"/v1/cases/{case_id}/notes", json={"text": "sealed first"}))
        ok(
            c.post(
                f"/v1/cases/{case_id}/actions",
                json={
                    "action": "isolate_host",
                    "target": "WS-FIN-042",
                    "outcome": "succeeded",
                    "performed_at": two_hours_ago.isoformat(),
                },
            )
        )
        rows = ok(c.get(f"/v1/cases/{case_id}/timeline"))
    rows = rows["entries"] if isinstance(rows, dict) else rows
    kinds = [r["type"] for r in rows]
    # the containment was done before the case was opened here, so it comes first
    assert kinds.index("containment") < kinds.index("case.note")
    action = next(r for r in rows if r["type"] == "containment")
    assert datetime.fromisoformat(action["occurred_at"]) == two_hours_ago.replace(
        microsecond=0
    ) or (abs(datetime.fromisoformat(action["occurred_at"]) - two_hours_ago) < timedelta(seconds=1))
    assert action["lag_s"] >= 2 * 3600 - 5
    note = next(r for r in rows if r["type"] == "case.note")
    assert note["occurred_at"] == note["at"] and note["lag_s"] == 0


def test_effective_times_drive_the_incident_clock(live: LiveVault, case_id: str) -> None:
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    with live.client("collector") as c:
        ok(
            c.patch(
                f"/v1/cases/{case_id}",
                json={"status": "triaged", "occurred_at": an_hour_ago.isoformat()},
            )
        )
        ok(
            c.post(
                f"/v1/cases/{case_id}/actions",
                json={
                    "action": "disable_account",
                    "target": "svc-backup",
                    "outcome": "succeeded",
                    "performed_at": (an_hour_ago + timedelta(minutes=10)).isoformat(),
                },
            )
        )
        ok(c.patch(f"/v1/cases/{case_id}", json={"status": "contained"}))
    f = facts(live.vault, case_id)
    assert f.acknowledged_at is not None
    assert abs(f.acknowledged_at - an_hour_ago) < timedelta(seconds=1)
    # by status (the default policy): when the status change was sealed, just now
    assert f.contained_at is not None and f.contained_at > an_hour_ago + timedelta(minutes=50)
    by_action = facts(live.vault, case_id, "first_action")
    assert by_action.contained_at is not None
    assert abs(by_action.contained_at - (an_hour_ago + timedelta(minutes=10))) < timedelta(
        seconds=1
    )


def test_custody_starts_at_collection(live: LiveVault, case_id: str) -> None:
    collected = datetime.now(UTC) - timedelta(days=1)
    with live.client("collector") as c:
        art = ok(
            c.post(
                f"/v1/cases/{case_id}/artifacts",
                params={"file_name": "mem.lime", "collected_at": collected.isoformat()},
                content=b"memory",
            )
        )
        ev = art["receipt"]["event"]
        assert ev["body"]["v"] == 3 and ev["body"]["occurred_at"] is not None
    with live.client("auditor") as a:
        report = ok(a.get(f"/v1/cases/{case_id}/report.json"))
    period = report["artifacts"][0]["custody"][0]
    assert abs(datetime.fromisoformat(period["since"]) - collected) < timedelta(seconds=1)


def test_v1_bodies_keep_their_meaning() -> None:
    """Events sealed by earlier releases (no `v`, `performed_at`) still fold as before."""
    from tests.facts.v1_events import v1_case_events

    events = v1_case_events()
    f = case_facts("IR-2026-0001", events, "first_action")
    assert f.contained_at == datetime(2026, 11, 1, 10, 5, tzinfo=UTC)


def test_audit_fails_an_event_dated_after_its_token(live: LiveVault, case_id: str) -> None:
    """A vault whose clock runs two years ahead seals events its own TSA token contradicts."""
    from app.audit import audit

    assert audit(live.vault, content=False).ok
    live.vault.ledger.clock = lambda: datetime.now(UTC) + timedelta(days=730)
    with live.client("collector") as c:
        ok(c.post(f"/v1/cases/{case_id}/notes", json={"text": "from the future"}))
    report = audit(live.vault, content=False)
    failed = [c for c in report.checks if not c.ok]
    assert [c.name for c in failed] == ["event times"], report.to_json()
    assert type(failed[0].error).__name__ == "EventAfterTimestamp"
