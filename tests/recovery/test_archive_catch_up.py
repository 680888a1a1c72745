"""A crash after a seal's database commit but before its archive write is repaired at start,
and only with data that still proves itself against the signed checkpoint."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import text

from app.audit import audit
from app.vault import open_vault
from custody.db import make_engine
from tests.support.live_server import live_vault, make_settings
from verify.merkle import leaf_hash


def make_vault(db_url: str, tmp_path: Path) -> object:
    settings = make_settings(tmp_path / "vault", db_url)
    with live_vault(settings) as live, live.client("collector") as c:
        cid = c.post("/v1/cases", json={"title": "x", "severity": "P3"}).json()["case"]["id"]
        for i in range(2):
            r = c.post(
                f"/v1/cases/{cid}/artifacts", params={"file_name": f"f{i}"}, content=os.urandom(999)
            )
            assert r.status_code == 201
    return settings


def lose_last_archive_write(settings: object) -> Path:
    """What the store looks like if the process died right after the database commit."""
    store = settings.store_dir  # type: ignore[attr-defined]
    seal = sorted((store / "ledger" / "seals").glob("*.json"))[-1]
    seal.unlink()
    for f in (store / "ledger" / "timestamps" / seal.stem).glob("*"):
        f.unlink()
    return seal


def test_missing_seal_is_archived_again_on_start(db_url: str, tmp_path: Path) -> None:
    settings = make_vault(db_url, tmp_path)
    seal = lose_last_archive_write(settings)
    vault = open_vault(settings, start=False)  # type: ignore[arg-type]
    try:
        assert seal.exists()
        assert audit(vault).ok
    finally:
        vault.close()


def test_tampered_index_is_not_laundered_into_the_archive(db_url: str, tmp_path: Path) -> None:
    settings = make_vault(db_url, tmp_path)
    seal = lose_last_archive_write(settings)
    engine = make_engine(settings.db_url)  # type: ignore[attr-defined]
    last = int(seal.stem) - 1
    with engine.begin() as conn:
        row = conn.execute(
            text("SELECT canonical FROM ledger_events WHERE leaf_index = :i"), {"i": last}
        ).first()
        assert row is not None
        edited = bytes(row[0]).replace(b'"f', b'"F')
        conn.execute(
            text("UPDATE ledger_events SET canonical = :c, leaf_hash = :h WHERE leaf_index = :i"),
            {"c": edited, "h": leaf_hash(edited), "i": last},
        )
    engine.dispose()
    vault = open_vault(settings, start=False)  # type: ignore[arg-type]
    try:
        assert not seal.exists(), "a seal that no longer verifies was archived"
        report = audit(vault)
        assert not report.ok
    finally:
        vault.close()
