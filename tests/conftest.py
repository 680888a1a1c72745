"""Shared fixtures: real databases (SQLite file and a fresh PostgreSQL database per test)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.support.live_server import LiveVault, live_vault, make_settings

PG_ADMIN_URL = os.environ.get("LOCARD_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_available() -> bool:
    try:
        eng = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with eng.connect() as conn:
            conn.execute(text("SELECT 1"))
        eng.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[str]:
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is required in CI but is not reachable at " + PG_ADMIN_URL)
        pytest.skip("PostgreSQL not reachable")
    yield PG_ADMIN_URL


@pytest.fixture
def pg_url(pg_admin: str) -> Iterator[str]:
    """A brand-new PostgreSQL database, dropped afterwards."""
    name = "locard_t_" + uuid.uuid4().hex[:12]
    admin = create_engine(pg_admin, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = pg_admin.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'locard.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def live(db_url: str, tmp_path: Path) -> Iterator[LiveVault]:
    """A running vault (SQLite or PostgreSQL) with one principal per role, named after it."""
    with live_vault(make_settings(tmp_path / "vault", db_url)) as lv:
        yield lv


@pytest.fixture
def live_sqlite(tmp_path: Path) -> Iterator[LiveVault]:
    """The same on SQLite only, for tests whose subject is not the database."""
    with live_vault(make_settings(tmp_path / "vault", f"sqlite:///{tmp_path / 'locard.db'}")) as lv:
        yield lv


@pytest.fixture
def case_id(live: LiveVault) -> str:
    """A case created by the collector in the `live` vault."""
    with live.client("collector") as c:
        r = c.post("/v1/cases", json={"title": "Ransomware on FS01", "severity": "P1"})
        assert r.status_code == 201, r.text
        case = str(r.json()["case"]["id"])
        # legal joins, so that custody can be handed to it (transfers go to members only)
        r = c.post(f"/v1/cases/{case}/members", json={"principal": "legal"})
        assert r.status_code == 201, r.text
        return case
