"""A vault rebuilt from the write-once store has the same incident context as the original."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from app.audit import rebuild
from app.auth.service import issue_token
from tests.incidents.events import T0, FixedClock
from tests.recovery.test_rebuild import drop_database
from tests.support.live_server import live_vault, make_settings


def test_incident_fields_survive_a_rebuild(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "vault", db_url)
    clock = FixedClock(T0)
    with live_vault(settings) as live:
        live.vault.ledger.clock = clock
        with live.client("collector") as c:
            body = {
                "title": "Exfiltration",
                "severity": "P2",
                "declared_at": (T0 - timedelta(hours=1)).isoformat(),
                "personal_data": True,
            }
            cid = c.post("/v1/cases", json=body).json()["case"]["id"]
            plain = c.post("/v1/cases", json={"title": "Plain", "severity": "P4"}).json()
            clock.advance(hours=3)
            r = c.patch(
                f"/v1/cases/{cid}/privacy",
                json={
                    "notification_required": True,
                    "aware_at": (T0 + timedelta(minutes=30)).isoformat(),
                    "notified_at": (T0 + timedelta(hours=2)).isoformat(),
                },
            )
            assert r.status_code == 200, r.text
            c.patch(f"/v1/cases/{cid}", json={"status": "contained"})
        with live.client("legal") as lg:
            before = lg.get("/v1/cases").json()
            incident = lg.get(f"/v1/cases/{cid}/incident").json()
    assert {c["id"] for c in before} == {cid, plain["case"]["id"]}

    drop_database(db_url, settings.data_dir)
    _, report = rebuild(settings)
    assert report.ok, report.to_json()
    with live_vault(settings, users=False) as live:
        live.vault.ledger.clock = clock
        live.tokens["legal"] = issue_token(live.vault, "legal")
        with live.client("legal") as lg:
            assert lg.get("/v1/cases").json() == before
            assert lg.get(f"/v1/cases/{cid}/incident").json() == incident
