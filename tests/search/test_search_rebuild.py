"""The search index comes back from the ledger alone: the migration projects the events
sealed before it, and `locard rebuild` reproduces the rows and what they find."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import app.db_metadata  # noqa: F401  (every table on the metadata, for the schema check)
from alembic import command
from app.audit import audit, rebuild
from app.auth.service import issue_token
from app.events.audit import _rows
from app.search.models import SearchEntry
from custody.migrations import alembic_config
from tests.facts.conftest import ok
from tests.recovery.test_rebuild import drop_database
from tests.support.live_server import LiveVault, live_vault, make_settings

TABLE = SearchEntry.__table__  # type: ignore[attr-defined]


def _entries(live: LiveVault) -> dict[Any, Any]:
    return _rows(live.vault.engine, TABLE, frozenset())


def _find(live: LiveVault, q: str) -> list[tuple[str, str]]:
    with live.client("collector") as c:
        return [(h["kind"], h["type"]) for h in ok(c.get("/v1/search", params={"q": q}))["results"]]


def test_migration_backfills_and_rebuild_reproduces(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "vault", db_url)
    with live_vault(settings) as live, live.client("collector") as c:
        with live.vault.engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        mine = ("search_entries", "asset_links", "data_categories")
        # the engine's full-text index (FTS5 table, GIN expression index) is the migration's
        # alone: no model describes it, and the scratch audit database has no need of it
        ours = [d for d in diffs if any(m in repr(d) for m in mine)]
        assert [d for d in ours if "ix_search_entries_fts" not in repr(d)] == []
        case = ok(c.post("/v1/cases", json={"title": "Wiper on HR-LAPTOP-7", "severity": "P2"}))
        cid = case["case"]["id"]
        ok(c.post(f"/v1/cases/{cid}/notes", json={"text": "Bitlocker keys escrowed"}))
        ok(c.post(f"/v1/cases/{cid}/artifacts", params={"file_name": "mft.bin"}, content=b"x"))
        before = _entries(live)
        assert len(before) == 3
        # A vault from before the search index: its history is projected on upgrade.
        cfg = alembic_config()
        with live.vault.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0009_case_assets")
        with live.vault.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        assert _entries(live) == before
        assert _find(live, "bitlocker") == [("event", "case.note")]
        assert audit(live.vault, content=False).ok
    drop_database(db_url, settings.data_dir)
    _, report = rebuild(settings)
    assert report.ok, report.to_json()
    with live_vault(settings, users=False) as live:
        live.tokens["collector"] = issue_token(live.vault, "collector")
        assert _entries(live) == before
        assert _find(live, "hr laptop") == [("case", "case.created")]
        assert _find(live, "mft") == [("artifact", "ingest")]
