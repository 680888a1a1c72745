"""Bearer tokens' principals are cached (app.auth.cache), and no change to a principal is
ever answered from a stale copy: not one sealed by this server, not one sealed by another
process on the same database (the CLI: a stamp file on SQLite, NOTIFY on PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event

from app.auth.cache import PrincipalCache
from app.auth.models import Principal
from app.auth.service import hash_token, known_token
from app.errors import Unauthorized
from tests.api.helpers import assert_refused, auth
from tests.support.live_server import LiveVault

REPO = Path(__file__).resolve().parents[2]


@contextmanager
def principal_reads(lv: LiveVault) -> Iterator[list[str]]:
    """The SELECTs on the principal table this vault's engine runs inside the block."""
    seen: list[str] = []

    def count(_conn: object, _cur: object, statement: str, *_: object) -> None:
        if "FROM principal" in statement and "token_hash" in statement:
            seen.append(statement)

    event.listen(lv.vault.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(lv.vault.engine, "before_cursor_execute", count)


def listening(lv: LiveVault) -> None:
    """Wait for the server to hear other processes (PostgreSQL's listener connects in the
    background; until it has, the cache is not used)."""
    deadline = time.monotonic() + 10
    while not lv.vault.principals.changes.fresh():
        assert time.monotonic() < deadline, "the principal change listener never connected"
        time.sleep(0.01)


def test_a_known_token_is_not_read_again(live: LiveVault) -> None:
    token = live.add_user("cora", "collector")
    listening(live)
    with live.client() as c:
        assert c.get("/v1/cases", headers=auth(token)).status_code == 200
        with principal_reads(live) as reads:
            for _ in range(5):
                assert c.get("/v1/cases", headers=auth(token)).status_code == 200
    assert reads == []


def cli(lv: LiveVault, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "LOCARD_DATABASE_URL": str(lv.settings.database_url),
        "LOCARD_ORIGIN": lv.settings.origin,
    }
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", *args, "--data-dir", str(lv.settings.data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return done


def refused_soon(lv: LiveVault, token: str, *, within_s: float) -> float:
    """Seconds until `token` is refused; PostgreSQL's NOTIFY arrives asynchronously."""
    start = time.monotonic()
    with lv.client() as c:
        while True:
            r = c.get("/v1/cases", headers=auth(token))
            if r.status_code == 401:
                return time.monotonic() - start
            assert r.status_code == 200, r.text
            assert time.monotonic() - start < within_s, "a stale principal was still served"
            time.sleep(0.01)


def test_a_change_sealed_by_another_process_reaches_the_cache(live: LiveVault) -> None:
    token = live.add_user("dora", "collector")
    listening(live)
    with live.client() as c:
        assert c.get("/v1/cases", headers=auth(token)).status_code == 200  # now cached
    cli(live, "user", "token", "dora")  # rotated by another process
    if live.vault.engine.dialect.name == "sqlite":
        # the stamp is replaced before the CLI exits: the very next request sees it
        with live.client() as c:
            assert_refused(c.get("/v1/cases", headers=auth(token)), 401)
    else:
        # NOTIFY is delivered once the CLI's transaction commits; well under the cache's
        # 30 s backstop, which would otherwise be what refuses it
        refused_soon(live, token, within_s=5.0)


def test_disabled_by_another_process_and_by_this_one(live: LiveVault) -> None:
    a = live.add_user("ezra", "collector")
    b = live.add_user("finn", "collector")
    listening(live)
    with live.client() as c:
        for t in (a, b):
            assert c.get("/v1/cases", headers=auth(t)).status_code == 200
    cli(live, "user", "disable", "ezra", "--reason", "left")
    refused_soon(live, a, within_s=5.0)
    with live.client("admin") as admin:
        r = admin.post("/v1/principals/finn/disable", json={"reason": "left"})
        assert r.status_code == 200, r.text
    with live.client() as c:  # sealed here: refused on the next request, no wait
        assert_refused(c.get("/v1/cases", headers=auth(b)), 401)


def _principal(**kw: object) -> Principal:
    return Principal(id="gus", role="collector", token_hash=hash_token("lcd_x"), **kw)


def test_a_copy_read_before_an_invalidation_is_never_kept() -> None:
    cache = PrincipalCache(ttl_s=60)
    generation = cache.generation  # a reader starts...
    cache.invalidate()  # ...a change commits while it reads...
    cache.put(hash_token("lcd_x"), _principal(), generation)  # ...its copy is dropped
    assert cache.get(hash_token("lcd_x")) is None
    cache.put(hash_token("lcd_x"), _principal(), cache.generation)
    assert cache.get(hash_token("lcd_x")) is not None


def test_expiry_is_checked_on_every_use_and_ttl_zero_turns_it_off() -> None:
    cache = PrincipalCache(ttl_s=60)
    past = datetime.now(UTC) - timedelta(seconds=1)
    cache.put(hash_token("lcd_x"), _principal(token_expires_at=past), cache.generation)
    with pytest.raises(Unauthorized):
        known_token(cache, "lcd_x")
    off = PrincipalCache(ttl_s=0)
    off.put(hash_token("lcd_x"), _principal(), off.generation)
    assert known_token(off, "lcd_x") is None


def test_entries_expire_after_the_ttl() -> None:
    cache = PrincipalCache(ttl_s=0.05)
    cache.put(hash_token("lcd_x"), _principal(), cache.generation)
    assert cache.get(hash_token("lcd_x")) is not None
    time.sleep(0.1)
    assert cache.get(hash_token("lcd_x")) is None
