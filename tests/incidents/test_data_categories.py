"""Categories of data affected: a configurable list, set through the ledger
(`case.data_categories`), shown on the case page and rendered by the communication
templates; wrong roles and bad input write nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.audit import audit
from tests.support.live_server import LiveVault, live_vault, make_settings
from tests.support.web_forms import signed_in


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveVault]:
    root = tmp_path_factory.mktemp("cats")
    with live_vault(make_settings(root / "vault", f"sqlite:///{root / 'locard.db'}")) as lv:
        lv.add_user("outsider", "collector")
        yield lv


@pytest.fixture
def case(live: LiveVault) -> str:
    with live.client("collector") as c:
        r = c.post(
            "/v1/cases",
            json={"title": "Payroll export leaked", "severity": "P2", "personal_data": True},
        )
        assert r.status_code == 201, r.text
        return str(r.json()["case"]["id"])


def _ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def _set(c: httpx.Client, case: str, keys: Any) -> httpx.Response:
    return c.post(f"/v1/cases/{case}/data-categories", json={"categories": keys})


def test_categories_recorded_shown_and_rendered(live: LiveVault, case: str) -> None:
    with live.client("collector") as c:
        out = _ok(_set(c, case, ["health", "personal", "financial", "personal"]))
        # the configured list's order, once each
        assert [x["key"] for x in out["categories"]] == ["personal", "financial", "health"]
        event = out["receipt"]["event"]
        assert event["type"] == "case.data_categories"
        assert event["body"] == {"categories": ["personal", "financial", "health"]}
        size = live.vault.ledger.size()
        assert _ok(_set(c, case, ["financial", "personal", "health"]))["receipt"] is None
        assert live.vault.ledger.size() == size
        drafts = {
            k: _ok(c.get(f"/v1/cases/{case}/communications/{k}/draft"))["text"]
            for k in ("regulator", "executive", "customer", "internal")
        }
        timeline = _ok(c.get(f"/v1/cases/{case}/timeline", params={"type": "case.data_categories"}))
    labels = "Personal data, Financial and payment data, Health data"
    assert f"Categories of data affected: {labels}." in drafts["regulator"]
    assert f"Data affected: {labels}." in drafts["executive"]
    assert f"Data affected: {labels}." in drafts["internal"]
    assert f"The kinds of data concerned: {labels}." in drafts["customer"]
    assert timeline["entries"][0]["summary"] == "Data affected: personal, financial, health"
    with live.client("legal") as c:
        got = _ok(c.get(f"/v1/cases/{case}/data-categories"))
        page = c.get(f"/cases/{case}").text
    assert [x["label"] for x in got["categories"]] == labels.split(", ")
    assert "credentials" in [x["key"] for x in got["available"]]
    assert f'<dd id="data-categories">{labels}</dd>' in page
    assert "Set the categories of data affected" not in page  # legal reads, responders set
    with live.client("collector") as c:  # an empty set is a fact too
        assert _ok(_set(c, case, []))["categories"] == []
        draft = _ok(c.get(f"/v1/cases/{case}/communications/regulator/draft"))["text"]
    assert "Categories of data affected: not yet established." in draft
    assert audit(live.vault, content=False).ok


def test_the_case_page_form_sets_them(live: LiveVault, case: str) -> None:
    with signed_in(live, "collector") as (c, csrf):
        assert "Set the categories of data affected" in c.get(f"/cases/{case}").text
        r = c.post(
            f"/cases/{case}/data-categories",
            data={"csrf": csrf, "category": ["credentials", "employee"]},
        )
        assert r.status_code == 303 and "done=categories" in r.headers["location"]
        page = c.get(r.headers["location"]).text
        assert "Credentials and secrets, Employee records" in page
        bad = c.post(f"/cases/{case}/data-categories", data={"csrf": csrf, "category": "x"})
        assert bad.status_code == 400
        forged = c.post(f"/cases/{case}/data-categories", data={"category": "health"})
        assert forged.status_code == 403


def test_a_configured_list_replaces_the_shipped_one(
    live: LiveVault, case: str, tmp_path: Path
) -> None:
    own = tmp_path / "cats.toml"
    own.write_text('[categories]\nsecrets = "Trade secrets"\n', encoding="utf-8")
    live.vault.settings.data_categories_file = own
    try:
        with live.client("collector") as c:
            assert _set(c, case, ["health"]).status_code == 400
            out = _ok(_set(c, case, ["secrets"]))
            assert out["categories"] == [{"key": "secrets", "label": "Trade secrets"}]
            own.write_text("[categories\n", encoding="utf-8")
            assert c.get(f"/v1/cases/{case}/data-categories").status_code == 503
    finally:
        live.vault.settings.data_categories_file = None
    with live.client("collector") as c:  # a key the list no longer holds shows as itself
        assert _ok(c.get(f"/v1/cases/{case}/data-categories"))["categories"] == [
            {"key": "secrets", "label": "secrets"}
        ]


@pytest.mark.parametrize(
    ("role", "status"), [("auditor", 403), ("legal", 403), ("outsider", 404), (None, 401)]
)
def test_wrong_roles_write_nothing(
    live: LiveVault, case: str, role: str | None, status: int
) -> None:
    size = live.vault.ledger.size()
    with live.client(role) as c:
        assert _set(c, case, ["health"]).status_code == status
    assert live.vault.ledger.size() == size


@pytest.mark.parametrize(
    "body",
    [
        {"categories": ["nope"]},
        {"categories": [""]},
        {"categories": "health"},
        {"categories": ["health"] * 51},
        {"categories": ["x" * 65]},
        {"categories": ["health"], "extra": 1},
        {},
    ],
)
def test_bad_input_is_refused_without_a_write(
    live: LiveVault, case: str, body: dict[str, Any]
) -> None:
    size = live.vault.ledger.size()
    with live.client("collector") as c:
        r = c.post(f"/v1/cases/{case}/data-categories", json=body)
        assert r.status_code in (400, 422), r.text
        assert _ok(c.get(f"/v1/cases/{case}/data-categories"))["categories"] == []
    assert live.vault.ledger.size() == size
