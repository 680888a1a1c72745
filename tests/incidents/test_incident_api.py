"""Incident API over real HTTP (SQLite and PostgreSQL) with the ledger on a fixed clock."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import inspect

from tests.incidents.events import T0, FixedClock
from tests.support.live_server import LiveVault


def _case(live: LiveVault, role: str = "collector", **body: Any) -> str:
    with live.client(role) as c:
        r = c.post("/v1/cases", json={"title": "Ransomware on FS01", "severity": "P1", **body})
        assert r.status_code == 201, r.text
        return str(r.json()["case"]["id"])


def _status(live: LiveVault, case_id: str, status: str, role: str = "collector") -> None:
    with live.client(role) as c:
        r = c.patch(f"/v1/cases/{case_id}", json={"status": status})
        assert r.status_code == 200, r.text


def _incident(live: LiveVault, case_id: str, role: str = "legal") -> dict[str, Any]:
    with live.client(role) as c:
        r = c.get(f"/v1/cases/{case_id}/incident")
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out


def test_sla_states_follow_ledger_times(live: LiveVault, clock: FixedClock) -> None:
    case_id = _case(live)
    inc = _incident(live, case_id)
    assert inc["times"]["declared_at"] == T0.isoformat()
    assert inc["sla"]["acknowledge"]["state"] == "pending"
    assert inc["sla"]["acknowledge"]["due_at"] == (T0 + timedelta(minutes=15)).isoformat()
    assert inc["sla"]["acknowledge"]["remaining_seconds"] == 900.0

    clock.advance(minutes=10)
    _status(live, case_id, "triaged")
    clock.advance(hours=5)
    inc = _incident(live, case_id)
    assert inc["times"]["acknowledged_at"] == (T0 + timedelta(minutes=10)).isoformat()
    assert inc["sla"]["acknowledge"] | {"start": None} == {
        "kind": "acknowledge",
        "state": "met",
        "start": None,
        "due_at": (T0 + timedelta(minutes=15)).isoformat(),
        "done_at": (T0 + timedelta(minutes=10)).isoformat(),
        "remaining_seconds": None,
        "took_seconds": 600.0,
    }
    assert inc["sla"]["contain"]["state"] == "overdue"
    assert inc["sla"]["contain"]["remaining_seconds"] == -(60 + 10) * 60.0

    _status(live, case_id, "contained")
    inc = _incident(live, case_id)
    assert inc["sla"]["contain"]["state"] == "breached"
    assert inc["sla"]["contain"]["took_seconds"] == (5 * 60 + 10) * 60.0
    assert [h["to"] for h in inc["status_history"]] == ["triaged", "contained"]


def test_explicit_declaration_time_is_recorded_and_used(live: LiveVault, clock: FixedClock) -> None:
    declared = T0 - timedelta(minutes=20)
    case_id = _case(live, declared_at=declared.isoformat())
    inc = _incident(live, case_id)
    assert inc["times"]["declared_at"] == declared.isoformat()
    assert inc["sla"]["acknowledge"]["state"] == "overdue"
    with live.client("collector") as c:
        chain = c.get(f"/v1/cases/{case_id}/timeline").json()["entries"]
        assert chain[0]["body"]["declared_at"] == declared.isoformat()
        got = c.get(f"/v1/cases/{case_id}").json()["declared_at"]
        assert datetime.fromisoformat(got) == declared


@pytest.mark.parametrize(
    "declared_at",
    ["2999-01-01T00:00:00Z", "2026-03-01T00:00:00", "1970-01-01T00:00:00Z", "yesterday"],
)
def test_bad_declaration_times_are_refused(live: LiveVault, declared_at: str) -> None:
    with live.client("collector") as c:
        r = c.post("/v1/cases", json={"title": "x", "severity": "P2", "declared_at": declared_at})
        assert r.status_code == 422, r.text
        assert c.get("/v1/cases").json() == []


def test_sla_targets_are_configurable(
    live: LiveVault, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Read on the application's first incident request.
    monkeypatch.setenv("LOCARD_SLA", '{"P2": {"acknowledge_minutes": 5, "contain_minutes": 30}}')
    monkeypatch.setenv("LOCARD_NOTIFICATION_HOURS", "24")
    case_id = _case(live, severity="P2", notification_required=True)
    inc = _incident(live, case_id)
    assert inc["sla"]["acknowledge"]["due_at"] == (T0 + timedelta(minutes=5)).isoformat()
    assert inc["sla"]["contain"]["due_at"] == (T0 + timedelta(minutes=30)).isoformat()
    assert inc["privacy"]["notification"]["due_at"] == (T0 + timedelta(hours=24)).isoformat()


def test_notification_deadline_and_privacy_flags(live: LiveVault, clock: FixedClock) -> None:
    case_id = _case(live)
    assert _incident(live, case_id)["privacy"]["notification"]["state"] == "not_required"
    clock.advance(hours=2)
    with live.client("collector") as c:
        r = c.patch(
            f"/v1/cases/{case_id}/privacy",
            json={"personal_data": True, "notification_required": True},
        )
        assert r.status_code == 200, r.text
        assert r.json()["case"]["personal_data"] is True
    aware = T0 + timedelta(hours=2)
    note = _incident(live, case_id)["privacy"]["notification"]
    assert note["state"] == "pending" and note["start"] == aware.isoformat()
    assert note["due_at"] == (aware + timedelta(hours=72)).isoformat()

    clock.advance(hours=73)
    assert _incident(live, case_id)["privacy"]["notification"]["state"] == "overdue"
    with live.client("auditor") as a:
        assert a.get("/v1/metrics").json()["overdue"][-1]["kind"] == "notify"
        r = a.patch(f"/v1/cases/{case_id}/privacy", json={"notified_at": T0.isoformat()})
        assert r.status_code == 403

    # Legal records the notice, sent an hour after awareness (recorded late, on time).
    sent = aware + timedelta(hours=1)
    with live.client("legal") as c:
        r = c.patch(f"/v1/cases/{case_id}/privacy", json={"notified_at": sent.isoformat()})
        assert r.status_code == 200, r.text
        assert r.json()["receipt"]["event"]["body"] == {
            "v": 3,
            "changes": {"notified_at": [None, sent.isoformat()]},
        }
        again = c.patch(f"/v1/cases/{case_id}/privacy", json={"notified_at": sent.isoformat()})
        assert again.json()["receipt"] is None  # nothing changed, nothing recorded
    note = _incident(live, case_id)["privacy"]["notification"]
    assert note["state"] == "met" and note["took_seconds"] == 3600.0

    with live.client("legal") as c:
        r = c.patch(f"/v1/cases/{case_id}/privacy", json={"notified_at": "2999-01-01T00:00:00Z"})
        assert r.status_code == 422


def test_collector_cannot_touch_others_cases(live: LiveVault) -> None:
    live.add_user("mallory", "collector")
    case_id = _case(live)
    with live.client("mallory") as c:
        assert c.get(f"/v1/cases/{case_id}/incident").status_code == 404
        assert c.get(f"/v1/cases/{case_id}/timeline").status_code == 404
        r = c.patch(f"/v1/cases/{case_id}/privacy", json={"personal_data": True})
        assert r.status_code == 404
        assert c.post(f"/v1/cases/{case_id}/notes", json={"text": "x"}).status_code == 404
        assert c.get("/v1/metrics").json()["per_severity"][0]["declared"] == 0


def test_metrics_from_ledger_events(live: LiveVault, clock: FixedClock) -> None:
    a = _case(live)
    clock.advance(minutes=10)
    _status(live, a, "triaged")
    clock.advance(hours=1, minutes=50)
    _status(live, a, "contained")  # 2 h after declaration
    b = _case(live)  # declared at T0 + 2 h
    clock.advance(minutes=20)
    _status(live, b, "triaged")
    clock.advance(hours=5, minutes=40)
    _status(live, b, "closed")  # 6 h after declaration: contained by closing
    c = _case(live, severity="P2")  # declared at T0 + 8 h, never acknowledged
    clock.advance(hours=2)
    with live.client("auditor") as cl:
        m = cl.get("/v1/metrics", params={"days": 7}).json()
        assert m["now"] == (T0 + timedelta(hours=10)).isoformat()
        p1 = m["per_severity"][0]
        assert p1["severity"] == "P1" and p1["declared"] == 2
        assert p1["mtta_seconds"] == 15 * 60.0
        assert p1["mttc_seconds"] == 4 * 3600.0
        assert p1["acknowledge_breaches"] == 1 and p1["contain_breaches"] == 1
        assert [(o["case"], o["kind"]) for o in m["overdue"]] == [(c, "acknowledge")]
        assert m["overdue"][0]["overdue_seconds"] == 3600.0
        # A period that ends before the first declaration holds nothing.
        early = cl.get(
            "/v1/metrics",
            params={"since": (T0 - timedelta(days=2)).isoformat(), "until": T0.isoformat()},
        ).json()
        assert early["per_severity"][0]["declared"] == 0
        assert early["overdue"] == m["overdue"]  # overdue is about now, not the period
        assert cl.get("/v1/metrics", params={"until": "2026-01-01T00:00:00"}).status_code == 400
        r = cl.get("/v1/metrics", params={"since": T0.isoformat(), "until": T0.isoformat()})
        assert r.status_code == 400
        assert cl.get("/v1/metrics", params={"days": 0}).status_code == 422


def test_timeline_filters_and_csv(live: LiveVault, clock: FixedClock) -> None:
    case_id = _case(live)
    data = b"disk image bytes"
    with live.client("collector") as c:
        art = c.post(
            f"/v1/cases/{case_id}/artifacts",
            params={"file_name": "fs01.img", "source_host": "fs01"},
            content=data,
        ).json()["artifact"]
        clock.advance(minutes=1)
        c.post(
            f"/v1/cases/{case_id}/actions",
            json={"action": "isolate_host", "target": "fs01", "outcome": "succeeded"},
        )
        clock.advance(minutes=1)
        c.get(f"/v1/artifacts/{art['id']}/content", params={"reason": "triage"})
        r = c.post(f"/v1/cases/{case_id}/notes", json={"kind": "decision", "text": "=1+1 wipe"})
        assert r.status_code == 201 and r.json()["receipt"]["event"]["type"] == "case.decision"
        assert c.post(f"/v1/cases/{case_id}/notes", json={"text": "  "}).status_code == 422
    with live.client("legal") as c:
        c.post(f"/v1/cases/{case_id}/notes", json={"text": "counsel informed"})
        full = c.get(f"/v1/cases/{case_id}/timeline").json()
        assert full["total"] == 6
        assert [e["category"] for e in full["entries"]] == [
            "case", "evidence", "containment", "access", "decision", "note",
        ]  # fmt: skip
        ats = [e["at"] for e in full["entries"]]
        assert ats == sorted(ats)

        def ids(**params: Any) -> list[str]:
            r = c.get(f"/v1/cases/{case_id}/timeline", params=params)
            assert r.status_code == 200, r.text
            return [e["type"] for e in r.json()["entries"]]

        assert ids(category=["evidence", "access"]) == ["ingest", "access"]
        assert ids(actor="legal") == ["case.note"]
        assert ids(type="containment") == ["containment"]
        # the access names the artifact by its file name too
        assert ids(q="FS01.IMG") == ["ingest", "access"]
        assert ids(item=art["id"]) == ["ingest", "access"]
        assert ids(since=(T0 + timedelta(minutes=2)).isoformat()) == [
            "access", "case.decision", "case.note",
        ]  # fmt: skip
        assert ids(category="", actor="") == [e["type"] for e in full["entries"]]
        assert c.get(f"/v1/cases/{case_id}/timeline", params={"category": "x"}).status_code == 400
        page = c.get(f"/v1/cases/{case_id}/timeline", params={"offset": 4, "limit": 1}).json()
        assert [e["type"] for e in page["entries"]] == ["case.decision"] and page["total"] == 6

        r = c.get(f"/v1/cases/{case_id}/timeline.csv", params={"category": ["decision", "note"]})
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/csv")
        assert f"timeline-{case_id}.csv" in r.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert [row["type"] for row in rows] == ["case.decision", "case.note"]
        assert rows[0]["summary"] == "Decision: =1+1 wipe"
        assert json.loads(rows[0]["body"].lstrip("'")) == {"text": "=1+1 wipe"}
        assert rows[1]["actor"] == "legal"


def test_review_is_stored_as_evidence(live: LiveVault, clock: FixedClock) -> None:
    case_id = _case(live)
    review = {
        "summary": "Backups saved us; EDR alerting was slow.",
        "root_cause": "Phished VPN credentials",
        "what_went_well": ["restore from backup"],
        "what_went_wrong": ["alert triage took 40 min"],
        "lessons": ["MFA on VPN"],
        "action_items": [
            {"title": "Enforce MFA on VPN", "owner": "collector", "due": "2026-03-20"},
            {"title": "Tune EDR alert", "owner": "legal", "due": "2026-03-05", "state": "open"},
        ],
    }
    with live.client("legal") as c:
        assert c.post(f"/v1/cases/{case_id}/reviews", json=review).status_code == 403
    with live.client("collector") as c:
        bad = {**review, "action_items": [{**review["action_items"][0], "owner": "nobody"}]}
        assert c.post(f"/v1/cases/{case_id}/reviews", json=bad).status_code == 400
        r = c.post(f"/v1/cases/{case_id}/reviews", json=review)
        assert r.status_code == 201, r.text
        out = r.json()
        art = out["artifact"]
        assert art["media_type"] == "application/vnd.locard.review+json"
        assert out["receipt"]["event"]["type"] == "review.recorded"
        assert out["receipt"]["event"]["item"] == art["id"]
        content = c.get(f"/v1/artifacts/{art['id']}/content", params={"reason": "read review"})
        assert hashlib.sha256(content.content).hexdigest() == art["sha256"]
        doc = json.loads(content.content)
        assert doc["format"] == "locard-review/1" and doc["case"] == case_id
        assert doc["root_cause"] == review["root_cause"]
        assert [i["id"] for i in doc["action_items"]] == ["A1", "A2"]
        chain = c.get(f"/v1/artifacts/{art['id']}/custody").json()
        assert [e["event"]["type"] for e in chain] == ["ingest", "review.recorded", "access"]

    clock.advance(days=5)
    rid = art["id"]
    with live.client("auditor") as c:
        items = c.get(f"/v1/cases/{case_id}/reviews").json()[0]["action_items"]
        assert [(i["id"], i["state"], i["overdue"]) for i in items] == [
            ("A1", "open", False),
            ("A2", "open", True),
        ]
        r = c.patch(f"/v1/cases/{case_id}/reviews/{rid}/items/A2", json={"state": "done"})
        assert r.status_code == 403
    live.add_user("outsider", "legal")
    with live.client("outsider") as c:
        r = c.patch(f"/v1/cases/{case_id}/reviews/{rid}/items/A2", json={"state": "done"})
        assert r.status_code == 403  # not the item's owner, not a responder on the case
    with live.client("legal") as c:  # the owner of A2
        r = c.patch(
            f"/v1/cases/{case_id}/reviews/{rid}/items/A2",
            json={"state": "done", "note": "thresholds lowered"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["receipt"]["event"]["body"] == {
            "v": 2,
            "review": rid,
            "item": "A2",
            "changes": {"state": ["open", "done"]},
            "note": "thresholds lowered",
        }
        again = c.patch(f"/v1/cases/{case_id}/reviews/{rid}/items/A2", json={"state": "done"})
        assert again.json()["receipt"] is None
        assert c.patch(f"/v1/cases/{case_id}/reviews/{rid}/items/A9", json={}).status_code == 404
        assert c.patch(f"/v1/cases/{case_id}/reviews/nope/items/A1", json={}).status_code == 404
        bad = c.patch(f"/v1/cases/{case_id}/reviews/{rid}/items/A1", json={"state": "lost"})
        assert bad.status_code == 422
        items = c.get(f"/v1/cases/{case_id}/reviews").json()[0]["action_items"]
        assert items[1]["state"] == "done" and items[1]["overdue"] is False
        assert items[1]["history"][0]["note"] == "thresholds lowered"
        types = [e["type"] for e in c.get(f"/v1/cases/{case_id}/timeline").json()["entries"]]
        assert types[-1] == "review.item_updated" and "review.recorded" in types


def test_migration_adds_the_incident_columns(live: LiveVault) -> None:
    columns = {c["name"] for c in inspect(live.vault.engine).get_columns("cases")}
    assert {
        "declared_at",
        "personal_data",
        "notification_required",
        "aware_at",
        "notified_at",
    } <= columns


def test_out_of_range_and_malformed_input_is_a_4xx(live: LiveVault) -> None:
    case_id = _case(live)
    year_one = "0001-01-01T00:00:00+05:00"  # before year 1 once converted to UTC
    with live.client("collector") as c:
        assert c.get(f"/v1/cases/{case_id}/timeline", params={"since": year_one}).status_code == 400
        assert c.get("/v1/metrics", params={"since": year_one}).status_code == 400
        assert c.get("/v1/metrics", params={"until": "0001-01-02T00:00:00Z"}).status_code == 400
        r = c.patch(f"/v1/cases/{case_id}/privacy", json={"aware_at": year_one})
        assert r.status_code == 422
        r = c.post(f"/v1/cases/{case_id}/reviews", json={"summary": "s", "lessons": ["a\u0000"]})
        assert r.status_code == 422
        r = c.post(f"/v1/cases/{case_id}/notes", json={"kind": "verdict", "text": "x"})
        assert r.status_code == 422
        assert c.get("/v1/cases/IR-0000-0000/incident").status_code == 404
