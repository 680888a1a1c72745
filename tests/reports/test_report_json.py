"""The JSON custody report (SQLite and PostgreSQL): its content, the issuance event, roles."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import text

from app.reports.models import CaseReport
from tests.reports.conftest import populate
from tests.reports.helpers import case_events
from tests.support.live_server import LiveVault

ENDPOINTS = ("report.json", "report.pdf", "provenance.jsonld")


def test_json_report_states_the_chain_and_is_recorded(live: LiveVault) -> None:
    sc = populate(live)
    with live.client("auditor") as c:
        r = c.get(f"/v1/cases/{sc.case_id}/report.json")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.headers["cache-control"] == "no-store"
    report = CaseReport.model_validate_json(r.content)
    assert report.all_checks_passed, [c for c in report.checks if not c.ok]
    assert {c.name for c in report.checks} >= {
        "event encoding",
        "hash chains",
        "checkpoint signature",
        "inclusion proofs",
        "checkpoint consistency",
        "anchor timestamp",
        "fact timestamps",
        "artifact records",
    }
    assert report.case.id == sc.case_id and report.case.legal_hold
    assert report.generated_by.id == "auditor"

    first, second = (report.artifacts[0], report.artifacts[1])
    assert {a.id: a.sha256 for a in report.artifacts} == sc.artifacts
    for art in report.artifacts:
        data = sc.files[art.id]
        assert (art.sha1, art.md5, art.size) == (
            hashlib.sha1(data).hexdigest(),
            hashlib.md5(data).hexdigest(),
            len(data),
        )
    assert [e.type for e in first.events] == ["ingest", "access", "transfer", "access"]
    assert [e.type for e in second.events] == ["ingest", "access", "annotation"]
    assert [e.body["reason"] for e in first.events if e.type == "access"] == [
        sc.reasons[0],
        sc.reasons[2],
    ]
    assert second.events[1].body["range"] == [0, 8]
    assert [(p.holder, p.started_by) for p in first.custody] == [
        ("collector", first.ingest_index),
        ("legal", first.events[2].index),
    ]
    assert first.custody[0].until == first.custody[1].since and first.custody[1].until is None
    assert first.custodian == "legal"

    every = [e for a in report.artifacts for e in a.events] + report.case_events
    indices = sorted(e.index for e in every)
    assert len(set(indices)) == len(indices)
    for a in report.artifacts:
        assert [e.index for e in a.events] == sorted(e.index for e in a.events)
    for e in every:
        assert e.index < e.sealed_in <= report.anchor.size
        assert e.anchored and all(t.tsa == "builtin" and t.self_operated for t in e.anchored)
    assert {cp.size for cp in report.checkpoints} == {e.sealed_in for e in every}

    [action] = report.containment
    assert (action.action, action.target, action.outcome, action.ticket) == (
        "isolate_host",
        sc.containment_target,
        "succeeded",
        sc.containment_ticket,
    )
    [hold] = report.holds
    assert hold.on and hold.reason == sc.hold_reason and hold.by.role == "legal"
    assert hold.objects == 2

    assert report.anchor.size <= live.vault.ledger.size()
    assert report.anchor.timestamps and report.anchor.timestamps[0].self_operated
    assert report.vault.log_key == live.vault.ledger.log_key
    assert [t.name for t in report.vault.tsas] == ["builtin"]
    assert report.vault.tsas[0].kind == "built-in" and report.vault.tsas[0].self_operated
    assert any("self-operated" in n for n in report.notes)
    commands = " ".join(c.command for c in report.recheck)
    assert "locard verify" in commands and "openssl ts -verify -digest" in commands

    [ev] = case_events(live, sc.case_id, "report.issued")
    assert ev["body"]["format"] == "json"
    assert ev["body"]["sha256"] == hashlib.sha256(r.content).hexdigest()
    assert ev["body"]["report_sha256"] == ev["body"]["sha256"]
    assert ev["body"]["checkpoint_size"] == report.anchor.size
    assert ev["actor"] == {"id": "auditor", "role": "auditor"}
    assert int(r.headers["x-locard-event-index"]) == ev["index"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_collectors_and_strangers_are_refused_and_nothing_is_recorded(
    live: LiveVault, endpoint: str
) -> None:
    with live.client("collector") as c:
        r = c.post("/v1/cases", json={"title": "Phishing", "severity": "P3"})
        assert r.status_code == 201, r.text
        case_id = r.json()["case"]["id"]
    before = live.vault.ledger.size()
    with live.client("collector") as c:
        r = c.get(f"/v1/cases/{case_id}/{endpoint}")
    assert r.status_code == 403 and r.json()["detail"]
    with live.client() as anon:
        r = anon.get(f"/v1/cases/{case_id}/{endpoint}")
    assert r.status_code == 401
    with live.client("legal") as c:
        r = c.get(f"/v1/cases/IR-1999-9999/{endpoint}")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert live.vault.ledger.size() == before
    assert case_events(live, case_id, "report.issued") == []


@pytest.mark.parametrize("role", ["legal", "auditor", "admin"])
def test_legal_auditors_and_admins_may_issue(live: LiveVault, role: str) -> None:
    with live.client("collector") as c:
        case_id = c.post("/v1/cases", json={"title": "Empty", "severity": "P4"}).json()["case"][
            "id"
        ]
    with live.client(role) as c:
        r = c.get(f"/v1/cases/{case_id}/report.json")
    assert r.status_code == 200, r.text
    report = CaseReport.model_validate_json(r.content)
    assert report.artifacts == [] and report.all_checks_passed
    assert [e.type for e in report.case_events] == ["case.created"]


def test_a_doctored_index_fails_the_report_checks(live_sqlite: LiveVault) -> None:
    """The database is an index: a hash edited there must show up as a failed check, not as
    a fact, in the JSON and on the PDF's title page."""
    sc = populate(live_sqlite)
    art_id = next(iter(sc.artifacts))
    with live_sqlite.vault.engine.begin() as conn:
        conn.execute(
            text("UPDATE artifacts SET sha256 = :h WHERE id = :i"), {"h": "0" * 64, "i": art_id}
        )
    with live_sqlite.client("legal") as c:
        report = CaseReport.model_validate_json(
            c.get(f"/v1/cases/{sc.case_id}/report.json").content
        )
    failed = {ch.name: ch.detail for ch in report.checks if not ch.ok}
    assert set(failed) == {"artifact records"}
    assert art_id in failed["artifact records"] and "sha256" in failed["artifact records"]
    assert not report.all_checks_passed


def test_tampered_event_bytes_fail_the_report_checks(live_sqlite: LiveVault) -> None:
    sc = populate(live_sqlite)
    with live_sqlite.vault.engine.begin() as conn:
        row = conn.execute(
            text("SELECT leaf_index, canonical FROM ledger_events WHERE type = 'transfer'")
        ).one()
        forged = bytes(row[1]).replace(b"insurer", b"INSURER")
        conn.execute(
            text("UPDATE ledger_events SET canonical = :c WHERE leaf_index = :i"),
            {"c": forged, "i": row[0]},
        )
    with live_sqlite.client("legal") as c:
        report = CaseReport.model_validate_json(
            c.get(f"/v1/cases/{sc.case_id}/report.json").content
        )
    failed = {ch.name for ch in report.checks if not ch.ok}
    assert "event encoding" in failed


def test_unreadable_event_bytes_are_reported_not_a_500(live_sqlite: LiveVault) -> None:
    sc = populate(live_sqlite)
    with live_sqlite.vault.engine.begin() as conn:
        conn.execute(
            text("UPDATE ledger_events SET canonical = :c WHERE type = 'annotation'"),
            {"c": b"{not json"},
        )
    with live_sqlite.client("legal") as c:
        r = c.get(f"/v1/cases/{sc.case_id}/report.json")
        assert r.status_code == 200, r.text
        report = CaseReport.model_validate_json(r.content)
        assert c.get(f"/v1/cases/{sc.case_id}/report.pdf").status_code == 200
    failed = {ch.name for ch in report.checks if not ch.ok}
    assert {"event encoding", "hash chains"} <= failed
    assert any(e.type == "unreadable" for a in report.artifacts for e in a.events)
