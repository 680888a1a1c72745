"""The checklist rows are projections: a rebuild from the archive gives them back field by
field, a row edited beside the ledger is named by the audit, and migration 0008_playbooks
builds the tables the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel

import app.db_metadata  # noqa: F401  (every table on the metadata, for the schema check)
from app.audit import audit, rebuild
from app.auth.service import issue_token
from tests.facts.conftest import ok
from tests.recovery.test_rebuild import drop_database
from tests.support.live_server import live_vault, make_settings


def test_rebuild_restores_the_checklist_and_audit_names_edits(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "vault", db_url)
    with live_vault(settings) as live, live.client("collector") as c:
        with live.vault.engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        assert [d for d in diffs if "playbook" in repr(d)] == []
        case = ok(c.post("/v1/cases", json={"title": "CFO mailbox", "severity": "P2"}))["case"][
            "id"
        ]
        ok(c.post(f"/v1/cases/{case}/classification", json={"scenario": "ransomware"}))
        ok(c.post(f"/v1/cases/{case}/classification", json={"scenario": "bec"}))
        ok(c.post(f"/v1/cases/{case}/playbook/steps/reset-account", json={"outcome": "done"}))
        ok(
            c.post(
                f"/v1/cases/{case}/playbook/steps/recall-payment",
                json={
                    "outcome": "skipped",
                    "reason": "no payment left the company",
                    "occurred_at": "2026-01-02T03:04:05Z",
                },
            )
        )
        before = ok(c.get(f"/v1/cases/{case}/playbook"))
        assert audit(live.vault, content=False).ok
        with live.vault.engine.begin() as conn:
            conn.execute(
                text("UPDATE playbook_steps SET state = 'done' WHERE step_id = 'recall-payment'")
            )
        report = audit(live.vault, content=False)
        failed = [ch for ch in report.checks if not ch.ok and ch.name == "index rows"]
        assert failed and "playbook_steps" in str(failed[0].error), report.to_json()
    drop_database(db_url, settings.data_dir)
    _, report = rebuild(settings)
    assert report.ok, report.to_json()
    with live_vault(settings, users=False) as live:
        live.tokens["collector"] = issue_token(live.vault, "collector")
        with live.client("collector") as c:
            after = ok(c.get(f"/v1/cases/{case}/playbook"))
    assert after == before
    assert after["scenario"] == "bec"
    states = {s["id"]: s["state"] for s in after["steps"]}
    assert states["reset-account"] == "done" and states["recall-payment"] == "skipped"
    assert states["preserve-mail"] == "pending"
