"""Rebuild is field-exact and the audit compares every row with the archive's projection."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from app.audit import audit, rebuild
from app.auth.service import issue_token
from tests.facts.conftest import ok
from tests.recovery.test_rebuild import drop_database
from tests.support.live_server import LiveVault, live_vault, make_settings


def test_rebuild_keeps_the_description(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "vault", db_url)
    with live_vault(settings) as live, live.client("collector") as c:
        case = ok(
            c.post(
                "/v1/cases",
                json={"title": "BEC", "severity": "P2", "description": "CFO mailbox rule"},
            )
        )["case"]
        before = ok(c.get(f"/v1/cases/{case['id']}"))
    drop_database(db_url, settings.data_dir)
    _, report = rebuild(settings)
    assert report.ok, report.to_json()
    with live_vault(settings, users=False) as live:
        live.tokens["collector"] = issue_token(live.vault, "collector")
        with live.client("collector") as c:
            after = ok(c.get(f"/v1/cases/{case['id']}"))
    assert after["description"] == "CFO mailbox rule"
    assert after == before


TAMPERS = {
    "case field": "UPDATE cases SET description = 'forged' WHERE id = :case",
    "hold flag": "UPDATE cases SET legal_hold = TRUE WHERE id = :case",
    "custodian": "UPDATE artifacts SET custodian = 'legal' WHERE case_id = :case",
    "collection time": "UPDATE artifacts SET collected_at = NULL WHERE case_id = :case",
    "extra member": "INSERT INTO case_members (case_id, principal_id) VALUES (:case, 'auditor')",
    "dropped member": "DELETE FROM case_members WHERE case_id = :case AND principal_id = 'legal'",
    "principal role": "UPDATE principals SET role = 'admin' WHERE id = 'collector'",
    "dropped artifact": "DELETE FROM artifacts WHERE case_id = :case",
}


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_audit_names_a_row_edited_beside_the_ledger(
    live: LiveVault, case_id: str, tamper: str
) -> None:
    with live.client("collector") as c:
        ok(
            c.post(
                f"/v1/cases/{case_id}/artifacts",
                params={"file_name": "f", "collected_at": "2026-01-02T03:04:05Z"},
                content=b"evidence",
            )
        )
    assert audit(live.vault, content=False).ok
    with live.vault.engine.begin() as conn:
        conn.execute(text(TAMPERS[tamper]), {"case": case_id})
    report = audit(live.vault, content=False)
    assert not report.ok
    failed = [c for c in report.checks if not c.ok and c.name == "index rows"]
    assert failed, report.to_json()
    assert type(failed[0].error).__name__ == "IndexDiffers"
