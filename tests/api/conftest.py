from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.support.live_server import LiveVault, live_vault, make_settings


@contextmanager
def fresh_pg_database(admin_url: str) -> Iterator[str]:
    """A brand-new PostgreSQL database for one test module, dropped afterwards."""
    name = "locard_m_" + uuid.uuid4().hex[:12]
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def module_db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Like `db_url`, but one database per test module: starting a vault per test would
    take most of the suite's time budget for tests that leave no state behind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'locard.db'}"
        return
    with fresh_pg_database(request.getfixturevalue("pg_admin")) as url:
        yield url


@pytest.fixture(scope="module")
def module_live(
    module_db_url: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[LiveVault]:
    """One running vault per test module and database. A module may set `LIVE_SETTINGS`
    (a dict of Settings overrides), e.g. a small `max_upload_bytes`."""
    overrides: dict[str, Any] = getattr(request.module, "LIVE_SETTINGS", {})
    settings = make_settings(tmp_path_factory.mktemp("vault"), module_db_url, **overrides)
    with live_vault(settings) as lv:
        yield lv
