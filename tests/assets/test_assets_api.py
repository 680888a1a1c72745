"""Assets over real HTTP (SQLite and PostgreSQL): recorded as ledger events, linked to the
containment actions and artifacts that concern them, refused to wrong roles and bad input
without a write, and exactly what the archive projects."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import app.db_metadata  # noqa: F401  (every table on the metadata, for the schema check)
from app.audit import audit
from tests.support.live_server import LiveVault

HOST = {"kind": "host", "name": "WS-FIN-042", "owner": "Finance IT", "criticality": "high"}


@pytest.fixture(scope="module")
def live(module_live: LiveVault) -> LiveVault:
    if "outsider" not in module_live.tokens:
        module_live.add_user("outsider", "collector")
    return module_live


def _ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def _case(live: LiveVault) -> str:
    with live.client("collector") as c:
        r = c.post("/v1/cases", json={"title": "Ransomware on WS-FIN-042", "severity": "P1"})
        return str(_ok(r, 201)["case"]["id"])


def test_asset_shows_its_containment_and_artifacts(live: LiveVault) -> None:
    case = _case(live)
    with live.client("collector") as c:
        out = _ok(c.post(f"/v1/cases/{case}/assets", json=HOST))
        assert out["receipt"]["event"]["type"] == "asset.recorded"
        assert out["asset"]["id"] == "host:ws-fin-042"
        _ok(
            c.post(
                f"/v1/cases/{case}/actions",
                json={"action": "isolate_host", "target": "ws-fin-042", "outcome": "succeeded"},
            ),
            201,
        )
        _ok(
            c.post(
                f"/v1/cases/{case}/actions",
                json={"action": "block_ioc", "target": "203.0.113.7", "outcome": "succeeded"},
            ),
            201,
        )
        art = _ok(
            c.post(
                f"/v1/cases/{case}/artifacts",
                params={"file_name": "mem.raw", "source_host": "WS-FIN-042"},
                content=b"memory",
            ),
            201,
        )["artifact"]
        _ok(c.post(f"/v1/cases/{case}/artifacts", params={"file_name": "x"}, content=b"x"), 201)
        ip = {"kind": "ip", "name": "203.0.113.7", "owner": "unknown", "criticality": "low"}
        _ok(c.post(f"/v1/cases/{case}/assets", json=ip))
        # the same again records nothing; a changed owner is an update
        size = live.vault.ledger.size()
        assert _ok(c.post(f"/v1/cases/{case}/assets", json=HOST))["receipt"] is None
        assert live.vault.ledger.size() == size
        moved = _ok(c.post(f"/v1/cases/{case}/assets", json={**HOST, "owner": "Group IT"}))
        assert moved["asset"]["owner"] == "Group IT" and moved["receipt"] is not None
    with live.client("auditor") as c:
        assets = {a["id"]: a for a in _ok(c.get(f"/v1/cases/{case}/assets"))}
        host = _ok(c.get(f"/v1/cases/{case}/assets/host:ws-fin-042"))
        assert c.get(f"/v1/cases/{case}/assets/host:nope").status_code == 404
        timeline = _ok(c.get(f"/v1/cases/{case}/timeline", params={"type": "asset.recorded"}))
    with live.client("outsider") as c:  # another collector's case: not even its existence
        assert c.get(f"/v1/cases/{case}/assets").status_code == 404
        assert c.get(f"/v1/cases/{case}/assets/host:ws-fin-042").status_code == 404
    assert set(assets) == {"host:ws-fin-042", "ip:203.0.113.7"}
    assert host == assets["host:ws-fin-042"]
    assert [a["action"] for a in host["containment"]] == ["isolate_host"]
    assert [a["id"] for a in host["artifacts"]] == [art["id"]]
    assert [a["action"] for a in assets["ip:203.0.113.7"]["containment"]] == ["block_ioc"]
    assert assets["ip:203.0.113.7"]["artifacts"] == []
    assert timeline["entries"][0]["summary"] == (
        "Asset host WS-FIN-042 involved (owner Finance IT, high criticality)"
    )
    assert audit(live.vault, content=False).ok
    with live.vault.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert [d for d in diffs if "case_assets" in repr(d)] == []


@pytest.fixture(scope="module")
def untouched_case(live: LiveVault) -> str:
    """One case for the refusals: none of them may record an asset on it."""
    return _case(live)


@pytest.mark.parametrize(
    ("role", "status"), [("auditor", 403), ("legal", 403), ("outsider", 404), (None, 401)]
)
def test_wrong_roles_write_nothing(
    live: LiveVault, untouched_case: str, role: str | None, status: int
) -> None:
    case = untouched_case
    size = live.vault.ledger.size()
    with live.client(role) as c:
        assert c.post(f"/v1/cases/{case}/assets", json=HOST).status_code == status
    assert live.vault.ledger.size() == size


@pytest.mark.parametrize(
    "body",
    [
        {**HOST, "kind": "printer"},
        {**HOST, "criticality": "extreme"},
        {**HOST, "name": ""},
        {**HOST, "name": "   "},
        {**HOST, "owner": "a\u202eb"},
        {**HOST, "name": "x" * 256},
        {**HOST, "extra": 1},
        {k: v for k, v in HOST.items() if k != "owner"},
    ],
)
def test_bad_input_is_refused_without_a_write(
    live: LiveVault, untouched_case: str, body: dict[str, Any]
) -> None:
    case = untouched_case
    size = live.vault.ledger.size()
    with live.client("collector") as c:
        assert c.post(f"/v1/cases/{case}/assets", json=body).status_code == 422
        assert _ok(c.get(f"/v1/cases/{case}/assets")) == []
    assert live.vault.ledger.size() == size
