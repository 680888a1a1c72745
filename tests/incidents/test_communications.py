"""Communication templates over HTTP: drafts rendered from the case facts for review; an
issued update is evidence (its text stored and hashed) with a sealed custody event; an
edited template that misbehaves is refused by the sandbox, never run."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.incidents.events import FixedClock
from tests.support.live_server import LiveVault


def _ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def test_draft_review_and_issue(live: LiveVault, clock: FixedClock, tmp_path: Path) -> None:
    c = live.client("collector")
    case = _ok(
        c.post(
            "/v1/cases",
            json={
                "title": "Ransomware on FS01",
                "severity": "P1",
                "personal_data": True,
                "notification_required": True,
            },
        ),
        201,
    )["case"]["id"]
    clock.advance(minutes=30)
    _ok(
        c.post(
            f"/v1/cases/{case}/actions",
            json={"action": "isolate_host", "target": "fs01", "outcome": "succeeded"},
        ),
        201,
    )
    with live.client("legal") as lg:
        drafts = {
            k: _ok(lg.get(f"/v1/cases/{case}/communications/{k}/draft"))
            for k in ("executive", "regulator", "customer", "internal")
        }
        assert lg.get(f"/v1/cases/{case}/communications/press/draft").status_code == 422
    live.add_user("outsider", "collector")
    with live.client("outsider") as o:
        assert o.get(f"/v1/cases/{case}/communications/executive/draft").status_code == 404
    executive = drafts["executive"]["text"]
    assert executive.startswith(f"Subject: [P1] Ransomware on FS01 ({case}): executive update")
    assert "not yet contained the incident; 1 containment action(s) taken" in executive
    assert "Regulator notification: pending, due 2026-03-05 09:00 UTC (71.5 h left)" in executive
    assert "Isolated host fs01 (collector)" in drafts["regulator"]["text"]
    assert len(drafts["regulator"]["template_sha256"]) == 64

    size = live.vault.ledger.size()
    for body, status in [
        ({"kind": "regulator"}, 422),  # no recipient
        ({"kind": "regulator", "recipient": "  "}, 422),
        ({"kind": "regulator", "recipient": "DPA", "text": ""}, 422),
        ({"kind": "regulator", "recipient": "DPA\u202e"}, 422),
        ({"kind": "press", "recipient": "DPA"}, 422),
    ]:
        assert c.post(f"/v1/cases/{case}/communications", json=body).status_code == status, body
    for role in ("legal", "auditor"):
        with live.client(role) as other:
            r = other.post(
                f"/v1/cases/{case}/communications", json={"kind": "internal", "recipient": "x"}
            )
            assert r.status_code == 403
    assert live.vault.ledger.size() == size

    reviewed = drafts["regulator"]["text"] + "\nReviewed by counsel.\n"
    out = _ok(
        c.post(
            f"/v1/cases/{case}/communications",
            json={"kind": "regulator", "recipient": "Data protection authority", "text": reviewed},
        ),
        201,
    )
    art = out["artifact"]
    body = out["receipt"]["event"]["body"]
    assert body["edited"] is True and body["sha256"] == art["sha256"]
    assert body["template_sha256"] == drafts["regulator"]["template_sha256"]
    stored = c.get(f"/v1/artifacts/{art['id']}/content", params={"reason": "check notice"})
    assert stored.content == reviewed.encode()
    assert hashlib.sha256(stored.content).hexdigest() == art["sha256"]
    plain = _ok(
        c.post(f"/v1/cases/{case}/communications", json={"kind": "internal", "recipient": "team"}),
        201,
    )
    assert plain["receipt"]["event"]["body"]["edited"] is False
    tl = _ok(c.get(f"/v1/cases/{case}/timeline", params={"category": "communication"}))
    assert [e["summary"] for e in tl["entries"]] == [
        "Regulator update issued to Data protection authority (edited after review)",
        "Internal update issued to team",
    ]

    # An organisation's template: only the facts it is given, inside the sandbox.
    (tmp_path / "internal.txt").write_text("{{ ''.__class__.__mro__ }}")
    (tmp_path / "executive.txt").write_text("{{ no_such_fact }}")
    live.vault.settings.comms_dir = tmp_path
    try:
        for kind in ("internal", "executive", "customer"):
            r = c.get(f"/v1/cases/{case}/communications/{kind}/draft")
            assert r.status_code == 503 and f"{kind}.txt" in r.json()["detail"], r.text
    finally:
        live.vault.settings.comms_dir = None
    c.close()


@pytest.mark.parametrize("kind", ["executive", "regulator", "customer", "internal"])
def test_shipped_templates_render_without_optional_facts(kind: str) -> None:
    from app.comms.templates import Kind, render

    facts: dict[str, Any] = {
        "case_id": "IR-2026-0001",
        "title": "t",
        "description": "",
        "severity": "P3",
        "status": "new",
        "owner": "o",
        "declared_at": "2026-01-01 00:00 UTC",
        "personal_data": False,
        "data_categories": [],
        "containment": "not yet contained the incident",
        "containment_actions": [],
        "timeline": [],
        "assets": [],
        "playbook": "not classified",
        "now": "2026-01-01 00:00 UTC",
        "notification": {
            "required": False,
            "state": "not_required",
            "aware_at": None,
            "due_at": None,
            "hours_left": None,
        },
    }
    assert "IR-2026-0001" in render(None, Kind(kind), facts).text
