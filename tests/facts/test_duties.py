"""Separation of duties: an admin cannot make a legal or admin principal alone, principals
are disabled by sealed events, and tokens expire."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from app.audit import audit
from tests.facts.conftest import ok, together
from tests.support.live_server import LiveVault


def _types(live: LiveVault, n: int) -> list[dict[str, Any]]:
    """The last `n` sealed events."""
    size = live.vault.ledger.size()
    return [json.loads(live.vault.ledger.event(i).canonical) for i in range(size - n, size)]


def test_an_admin_alone_cannot_mint_a_legal_principal(live: LiveVault, case_id: str) -> None:
    live.add_user("admin2", "admin")
    with live.client("admin") as a1, live.client("admin2") as a2:
        r = a1.post("/v1/principals", json={"name": "mallory", "role": "legal"})
        assert r.status_code == 202, r.text
        assert "token" not in r.json() and "principal" not in r.json()
        req = r.json()["request"]["id"]
        # the principal does not exist yet, so its token cannot place a hold
        assert "mallory" not in {p["id"] for p in a1.get("/v1/principals").json()}
        assert a1.post(f"/v1/principals/requests/{req}/approve").status_code == 403
        r = a2.post(f"/v1/principals/requests/{req}/approve")
        assert r.status_code == 201, r.text
        token = r.json()["token"]
        assert a2.post(f"/v1/principals/requests/{req}/approve").status_code == 409
    requested, created = _types(live, 2)
    assert requested["type"] == "principal.requested" and requested["actor"]["id"] == "admin"
    assert created["type"] == "principal.created" and created["actor"]["id"] == "admin2"
    assert created["body"] == {
        "v": 2,
        "principal": "mallory",
        "role": "legal",
        "public_key": None,
        "request": req,
    }
    with live.client() as c:
        c.headers["Authorization"] = f"Bearer {token}"
        assert c.get("/v1/principals/me").json()["role"] == "legal"
    assert audit(live.vault, content=False).ok


def test_promotion_needs_a_second_admin(live: LiveVault) -> None:
    live.add_user("admin2", "admin")
    live.add_user("eve", "collector")
    with live.client("admin") as a1, live.client("admin2") as a2:
        r = a1.post("/v1/principals/eve/role", json={"role": "admin"})
        assert r.status_code == 202, r.text
        req = r.json()["request"]["id"]
        assert a1.post(f"/v1/principals/requests/{req}/approve").status_code == 403
        assert a1.post("/v1/principals/admin/role", json={"role": "legal"}).status_code == 403
        ok(a2.post(f"/v1/principals/requests/{req}/approve"))
        roles = {p["id"]: p["role"] for p in a1.get("/v1/principals").json()}
        assert roles["eve"] == "admin"
        # demotion needs no second admin
        assert ok(a1.post("/v1/principals/eve/role", json={"role": "auditor"}))
        declined = a1.post("/v1/principals/eve/role", json={"role": "legal"}).json()["request"]
        ok(a2.post(f"/v1/principals/requests/{declined['id']}/decline", json={"reason": "no"}))
        states = {q["id"]: q["state"] for q in a1.get("/v1/principals/requests").json()}
        assert states == {req: "approved", declined["id"]: "declined"}
    assert audit(live.vault, content=False).ok


def test_two_approvals_at_once_seal_one(slow_seal: LiveVault) -> None:
    lv = slow_seal
    for name in ("admin2", "admin3"):
        lv.add_user(name, "admin")
    with lv.client("admin") as a1, lv.client("admin2") as a2, lv.client("admin3") as a3:
        req = a1.post("/v1/principals", json={"name": "lex", "role": "legal"}).json()["request"]
        got = together(
            lambda: a2.post(f"/v1/principals/requests/{req['id']}/approve"),
            lambda: a3.post(f"/v1/principals/requests/{req['id']}/approve"),
        )
    assert sorted(r.status_code for r in got) == [201, 409], [r.text for r in got]
    assert audit(lv.vault, content=False).ok


def test_disabled_principals_and_expired_tokens_are_refused(live: LiveVault) -> None:
    live.add_user("bob", "collector")
    with live.client("admin") as a:
        assert a.post("/v1/principals/admin/disable", json={"reason": "x"}).status_code == 403
        ok(a.post("/v1/principals/bob/disable", json={"reason": "left the team"}))
        assert a.post("/v1/principals/bob/disable", json={"reason": "again"}).status_code == 409
    with live.client("bob") as b:
        assert b.get("/v1/principals/me").status_code == 401
    disabled = _types(live, 1)[0]
    assert disabled["type"] == "principal.disabled"
    assert disabled["body"] == {"principal": "bob", "reason": "left the team"}

    # a token carries its expiry (90 days by default); past it the token is refused
    me = ok(live.client("collector").get("/v1/principals/me"))
    expires = datetime.fromisoformat(me["token_expires_at"])
    assert timedelta(days=89) < expires - datetime.now(UTC) <= timedelta(days=90)
    with live.vault.engine.begin() as conn:
        conn.execute(
            text("UPDATE principals SET token_expires_at = :t WHERE id = 'collector'"),
            {"t": datetime.now(UTC) - timedelta(seconds=1)},
        )
    # a row edited behind the ledger's back is no principal event: the server's cache of
    # principals (app.auth.cache) is emptied here as a sealed change would empty it
    live.vault.principals.invalidate()
    r = live.client("collector").get("/v1/principals/me")
    assert r.status_code == 401 and "expired" in r.text
    # tokens issued before expiry existed have none, and stay valid until reissued
    with live.vault.engine.begin() as conn:
        conn.execute(text("UPDATE principals SET token_expires_at = NULL WHERE id = 'collector'"))
    live.vault.principals.invalidate()
    assert live.client("collector").get("/v1/principals/me").status_code == 200
    # expiry is not a fact: the audit ignores it, but a disabled flag edited back is caught
    assert audit(live.vault, content=False).ok
    with live.vault.engine.begin() as conn:
        conn.execute(text("UPDATE principals SET disabled = FALSE WHERE id = 'bob'"))
    assert not audit(live.vault, content=False).ok


def test_cli_disables_on_the_host(live: LiveVault) -> None:
    live.add_user("carl", "collector")
    live.vault.sequencer.stop()  # the CLI is one more sequencer; keep this one out of the way
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "user", "disable", "carl", "--reason", "laptop lost",
         "--data-dir", str(live.settings.data_dir)],
        capture_output=True,
        text=True,
        env={**os.environ, "LOCARD_DATABASE_URL": live.settings.db_url},
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    ev = _types(live, 1)[0]
    assert ev["type"] == "principal.disabled" and ev["actor"]["id"] == "locard-cli"
