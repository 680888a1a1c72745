"""Web sessions: the cookie names a server-side session, and `/v1` writes with it need the
CSRF token and this vault's Origin (issue 12).

Before: the `locard_session` cookie held the raw API token, signing out only dropped it in
that browser (a copied cookie kept working), and `/v1` took the cookie like a bearer token
with no CSRF token and no Origin check, so a page on another port of the same host could
POST an artifact with a victim's cookie and got 201.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel, select

import app.db_metadata  # noqa: F401  (every table on the metadata, for the schema check)
from app.audit import audit
from app.auth.service import get_principal, issue_token
from app.auth.web_sessions import (
    WebSession,
    hash_session_id,
    open_session,
    session_principal,
    sweep,
)
from app.db import session
from app.errors import Unauthorized
from app.events.audit import PROJECTED
from tests.support.live_server import LiveVault

_CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


@pytest.fixture(scope="module")
def live(module_live: LiveVault) -> LiveVault:
    return module_live


@pytest.fixture(scope="module")
def case(live: LiveVault) -> str:
    with live.client("collector") as c:
        r = c.post("/v1/cases", json={"title": "Session tests", "severity": "P3"})
        assert r.status_code == 201, r.text
        case_id: str = r.json()["case"]["id"]
        return case_id


@pytest.fixture
def http(live: LiveVault) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=60) as c:
        yield c


def sign_in(http: httpx.Client, token: str) -> str:
    """The session id the sign-in form sets; the client keeps no cookie jar of its own."""
    r = http.post("/signin", data={"token": token})
    assert r.status_code == 303, r.text
    session_id = r.cookies["locard_session"]
    http.cookies.clear()
    return session_id


def cookie(session_id: str) -> dict[str, str]:
    return {"Cookie": f"locard_session={session_id}"}


def csrf_of(http: httpx.Client, session_id: str) -> str:
    """As a page script would: the token every page of the vault shows its session."""
    r = http.get("/cases", headers=cookie(session_id))
    assert r.status_code == 200, r.text
    found = _CSRF.search(r.text)
    assert found is not None
    return found.group(1)


def upload(http: httpx.Client, case: str, headers: dict[str, str]) -> httpx.Response:
    return http.post(
        f"/v1/cases/{case}/artifacts",
        params={
            "file_name": "csrf.bin",
            "source_host": "ws01",
            "collection_tool": "dd",
            "collected_at": datetime.now(UTC).isoformat(),
        },
        content=b"forged? " + datetime.now(UTC).isoformat().encode(),
        headers=headers,
    )


def artifact_count(live: LiveVault, case: str) -> int:
    with live.client("collector") as c:
        r = c.get(f"/v1/cases/{case}/artifacts")
        assert r.status_code == 200
        return len(r.json())


def test_cookie_holds_a_session_id_not_the_token(live: LiveVault, http: httpx.Client) -> None:
    token = live.tokens["auditor"]
    session_id = sign_in(http, token)
    assert session_id != token and token not in session_id
    assert session_id.startswith("lws_") and len(session_id) >= 4 + 43  # 256 random bits
    with session(live.vault.engine) as s:
        row = s.get(WebSession, hash_session_id(session_id))
        assert row is not None and row.principal_id == "auditor"
        stored = [str(v) for v in row.model_dump().values()]
    assert session_id not in stored and token not in stored
    # The session authenticates the pages; the token itself is not a cookie any more.
    assert http.get("/cases", headers=cookie(session_id)).status_code == 200
    r = http.get("/cases", headers=cookie(token))
    assert r.status_code == 303 and r.headers["location"].startswith("/signin")


def test_sign_out_ends_the_session_on_the_server(live: LiveVault, http: httpx.Client) -> None:
    session_id = sign_in(http, live.tokens["legal"])
    copied = cookie(session_id)  # e.g. lifted from the browser's profile
    assert http.get("/v1/cases", headers=copied).status_code == 200
    r = http.post(
        "/signout", data={"csrf": csrf_of(http, session_id)}, headers={**copied, "Origin": live.url}
    )
    assert r.status_code == 303 and r.headers["location"] == "/signin?done=signed_out"
    assert http.get("/v1/cases", headers=copied).status_code == 401
    r = http.get("/cases", headers=copied)
    assert r.status_code == 303 and r.headers["location"].startswith("/signin")
    with session(live.vault.engine) as s:
        assert s.get(WebSession, hash_session_id(session_id)) is None


def test_disabling_a_principal_ends_its_sessions(live: LiveVault, http: httpx.Client) -> None:
    live.add_user("leaver", "collector")
    session_id = sign_in(http, live.tokens["leaver"])
    assert http.get("/v1/cases", headers=cookie(session_id)).status_code == 200
    with live.client("admin") as admin:
        r = admin.post("/v1/principals/leaver/disable", json={"reason": "left the team"})
        assert r.status_code == 200, r.text
    assert http.get("/v1/cases", headers=cookie(session_id)).status_code == 401


def test_a_new_token_ends_the_sessions_of_the_old(live: LiveVault, http: httpx.Client) -> None:
    live.add_user("rotator", "auditor")
    session_id = sign_in(http, live.tokens["rotator"])
    assert http.get("/v1/cases", headers=cookie(session_id)).status_code == 200
    live.tokens["rotator"] = issue_token(live.vault, "rotator")
    assert http.get("/v1/cases", headers=cookie(session_id)).status_code == 401
    fresh = sign_in(http, live.tokens["rotator"])
    assert http.get("/v1/cases", headers=cookie(fresh)).status_code == 200


def test_sessions_expire_and_are_swept(live: LiveVault, http: httpx.Client) -> None:
    engine = live.vault.engine
    auditor = get_principal(engine, "auditor")
    yesterday = datetime.now(UTC) - timedelta(days=1)
    stale = open_session(engine, auditor, now=yesterday)  # 8 hours long: over by now
    assert session_principal(engine, stale, now=yesterday + timedelta(hours=1)).id == "auditor"
    with pytest.raises(Unauthorized):
        session_principal(engine, stale)
    assert http.get("/v1/cases", headers=cookie(stale)).status_code == 401
    assert sweep(engine) >= 1
    with session(engine) as s:
        assert s.get(WebSession, hash_session_id(stale)) is None
        left = s.exec(select(WebSession.expires_at)).all()
    assert all(e > datetime.now(UTC) for e in left)


def test_api_write_with_the_cookie_needs_csrf_and_own_origin(
    live: LiveVault, http: httpx.Client, case: str
) -> None:
    session_id = sign_in(http, live.tokens["collector"])
    csrf = csrf_of(http, session_id)
    before = artifact_count(live, case)
    refused = {
        "cookie alone": cookie(session_id),
        "cookie and own Origin, no CSRF token": {**cookie(session_id), "Origin": live.url},
        "CSRF token, foreign Origin": {
            **cookie(session_id),
            "X-CSRF-Token": csrf,
            "Origin": live.url.rsplit(":", 1)[0] + ":1",  # same host, another port
        },
        "CSRF token, no Origin": {**cookie(session_id), "X-CSRF-Token": csrf},
        "another session's CSRF token": {
            **cookie(session_id),
            "X-CSRF-Token": csrf_of(http, sign_in(http, live.tokens["collector"])),
            "Origin": live.url,
        },
    }
    for what, headers in refused.items():
        r = upload(http, case, headers)
        assert r.status_code == 403, (what, r.text)
        assert r.json()["error"] == "csrf_refused", what
    assert artifact_count(live, case) == before  # nothing was written

    ok = upload(http, case, {**cookie(session_id), "X-CSRF-Token": csrf, "Origin": live.url})
    assert ok.status_code == 201, ok.text
    with live.client("collector") as c:
        assert upload(c, case, {}).status_code == 201  # bearer tokens are not affected
    assert artifact_count(live, case) == before + 2
    # Reads with the cookie need neither: the pages link downloads and exports.
    assert http.get(f"/v1/cases/{case}/artifacts", headers=cookie(session_id)).status_code == 200


def test_migration_builds_the_table_the_model_describes(live: LiveVault) -> None:
    """The vault's schema comes from the migrations; the model must agree with 0006."""
    with live.vault.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    ours = [d for d in diffs if "web_sessions" in repr(d)]
    assert ours == []
    with live.vault.engine.connect() as conn:
        assert "web_sessions" in inspect(conn).get_table_names()


def test_sessions_are_not_ledger_facts(live: LiveVault, http: httpx.Client) -> None:
    """Signing in and out seals nothing, and the audit (rows against the archived events)
    stays clean with sessions in the table."""
    size = live.vault.ledger.size()
    session_id = sign_in(http, live.tokens["auditor"])
    assert http.get("/cases", headers=cookie(session_id)).status_code == 200
    assert live.vault.ledger.size() == size
    assert "web_sessions" not in {t.name for t, _ in PROJECTED}
    assert audit(live.vault, content=False).ok
