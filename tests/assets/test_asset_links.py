"""Explicit asset references: a containment action names the assets it concerns by id, and
an artifact is linked to the asset it came from, whatever the free text says. Both show on
the asset (API and page), are ledger events projected like the rest, and wrong roles or bad
input write nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.audit import audit
from tests.support.live_server import LiveVault, live_vault, make_settings
from tests.support.web_forms import signed_in

HOST = {"kind": "host", "name": "WS-FIN-042", "owner": "Finance IT", "criticality": "high"}
KEY = "host:ws-fin-042"


def _ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


@pytest.fixture(scope="module")
def live_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveVault]:
    """One SQLite vault for the module: the links are the subject, not the database."""
    root = tmp_path_factory.mktemp("links")
    with live_vault(make_settings(root / "vault", f"sqlite:///{root / 'locard.db'}")) as lv:
        lv.add_user("outsider", "collector")
        yield lv


@pytest.fixture
def case(live_sqlite: LiveVault) -> dict[str, str]:
    """A fresh case with the host and an artifact taken from it (named by its IP)."""
    with live_sqlite.client("collector") as c:
        cid = _ok(c.post("/v1/cases", json={"title": "Wiper", "severity": "P1"}), 201)["case"]["id"]
        _ok(c.post(f"/v1/cases/{cid}/assets", json=HOST))
        # collected from the host, but recorded by its IP: no name match
        art = _ok(
            c.post(
                f"/v1/cases/{cid}/artifacts",
                params={"file_name": "disk.E01", "source_host": "10.20.0.42"},
                content=b"image",
            ),
            201,
        )["artifact"]["id"]
    return {"case": cid, "artifact": art}


def test_containment_and_artifact_show_on_the_asset_they_name(
    live_sqlite: LiveVault, case: dict[str, str]
) -> None:
    live, cid, art = live_sqlite, case["case"], case["artifact"]
    with live.client("collector") as c:
        before = _ok(c.get(f"/v1/cases/{cid}/assets/{KEY}"))
        assert before["containment"] == [] and before["artifacts"] == []
        out = _ok(
            c.post(
                f"/v1/cases/{cid}/actions",
                json={
                    "action": "block_ioc",
                    "target": "10.20.0.42",
                    "outcome": "succeeded",
                    "assets": [KEY, KEY],
                },
            ),
            201,
        )["receipt"]
        assert out["event"]["body"]["assets"] == [KEY] and out["event"]["body"]["v"] == 3
        linked = _ok(c.post(f"/v1/cases/{cid}/assets/{KEY}/artifacts", json={"artifact": art}))
        assert linked["receipt"]["event"]["type"] == "asset.linked"
        size = live.vault.ledger.size()  # linking again records nothing
        again = _ok(c.post(f"/v1/cases/{cid}/assets/{KEY}/artifacts", json={"artifact": art}))
        assert again["receipt"] is None and live.vault.ledger.size() == size
    with live.client("auditor") as c:
        host = _ok(c.get(f"/v1/cases/{cid}/assets/{KEY}"))
        page = c.get(f"/cases/{cid}/assets/{KEY}")
    assert [(a["action"], a["target"]) for a in host["containment"]] == [
        ("block_ioc", "10.20.0.42")
    ]
    assert [a["id"] for a in host["artifacts"]] == [art]
    assert page.status_code == 200
    assert "block ioc" in page.text and "disk.E01" in page.text
    assert audit(live.vault, content=False).ok  # the links are what the archive projects


def test_the_page_form_links_an_artifact(live_sqlite: LiveVault, case: dict[str, str]) -> None:
    live, cid, art = live_sqlite, case["case"], case["artifact"]
    with signed_in(live, "collector") as (c, csrf):
        page = c.get(f"/cases/{cid}/assets/{KEY}")
        assert "Link artifact" in page.text and art in page.text
        r = c.post(f"/cases/{cid}/assets/{KEY}/artifacts", data={"artifact": art, "csrf": csrf})
        assert r.status_code == 303 and "done=linked" in r.headers["location"]
        assert "disk.E01" in c.get(f"/cases/{cid}/assets/{KEY}").text
    with live.client("collector") as c:
        assert [a["id"] for a in _ok(c.get(f"/v1/cases/{cid}/assets/{KEY}"))["artifacts"]] == [art]


@pytest.mark.parametrize(
    ("role", "status"), [("auditor", 403), ("legal", 403), ("outsider", 404), (None, 401)]
)
def test_wrong_roles_link_nothing(
    live_sqlite: LiveVault, case: dict[str, str], role: str | None, status: int
) -> None:
    live, cid, art = live_sqlite, case["case"], case["artifact"]
    size = live.vault.ledger.size()
    with live.client(role) as c:
        r = c.post(f"/v1/cases/{cid}/assets/{KEY}/artifacts", json={"artifact": art})
        assert r.status_code == status, r.text
        action = {"action": "isolate_host", "target": "x", "outcome": "succeeded", "assets": [KEY]}
        assert c.post(f"/v1/cases/{cid}/actions", json=action).status_code == status
    assert live.vault.ledger.size() == size


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("assets/host:nope/artifacts", {"artifact": "ART"}, 404),  # no such asset
        (f"assets/{KEY}/artifacts", {"artifact": "art-00000000000000000000"}, 404),
        (f"assets/{KEY}/artifacts", {"artifact": ""}, 422),
        (f"assets/{KEY}/artifacts", {"artifact": "a/b"}, 422),
        (f"assets/{KEY}/artifacts", {"artifact": "ART", "extra": 1}, 422),
        (f"assets/{KEY}/artifacts", {}, 422),
        (
            "actions",
            {
                "action": "isolate_host",
                "target": "x",
                "outcome": "succeeded",
                "assets": ["host:nope"],
            },
            409,
        ),  # fmt: skip
        (
            "actions",
            {"action": "isolate_host", "target": "x", "outcome": "succeeded", "assets": [""]},
            422,
        ),  # fmt: skip
        (
            "actions",
            {"action": "isolate_host", "target": "x", "outcome": "succeeded", "assets": [KEY] * 21},
            422,
        ),  # fmt: skip
        (
            "actions",
            {"action": "isolate_host", "target": "x", "outcome": "succeeded", "assets": KEY},
            422,
        ),  # fmt: skip
    ],
)
def test_bad_links_are_refused_without_a_write(
    live_sqlite: LiveVault, case: dict[str, str], path: str, body: dict[str, Any], status: int
) -> None:
    live, cid = live_sqlite, case["case"]
    if body.get("artifact") == "ART":
        body = {**body, "artifact": case["artifact"]}
    size = live.vault.ledger.size()
    with live.client("collector") as c:
        assert c.post(f"/v1/cases/{cid}/{path}", json=body).status_code == status
        host = _ok(c.get(f"/v1/cases/{cid}/assets/{KEY}"))
    assert host["containment"] == [] and host["artifacts"] == []
    assert live.vault.ledger.size() == size
