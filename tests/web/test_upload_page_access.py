"""Who may open a case or reach the upload page, and what bad input leaves behind.

No browser needed: a session cookie from the sign-in form, then plain HTTP. Every
refusal is checked to have written nothing (no case sealed).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing

import httpx
import pytest

from app.auth.csrf import csrf_for
from app.deps import SESSION_COOKIE
from tests.support.live_server import LiveVault, live_vault, make_settings


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveVault]:
    """One vault for the module: each test compares the case count before and after."""
    root = tmp_path_factory.mktemp("upload-access")
    with live_vault(make_settings(root / "vault", f"sqlite:///{root / 'locard.db'}")) as lv:
        yield lv


def session(live: LiveVault, role: str) -> tuple[httpx.Client, str]:
    c = httpx.Client(base_url=live.url, timeout=30, headers={"Accept": "text/html"})
    r = c.post("/signin", data={"token": live.tokens[role]})
    assert r.status_code == 303, r.text
    return c, csrf_for(c.cookies[SESSION_COOKIE])


def case_count(live: LiveVault) -> int:
    with live.client("admin") as c:
        return len(c.get("/v1/cases").json())


FORM = {"title": "Phishing wave", "severity": "P3", "description": "", "personal_data": "yes"}


def test_signed_out_visitors_are_sent_to_sign_in(live: LiveVault) -> None:
    before = case_count(live)
    with httpx.Client(base_url=live.url, headers={"Accept": "text/html"}) as c:
        for path in ("/cases/new", "/cases/IR-2026-0001/upload"):
            r = c.get(path)
            assert r.status_code == 303 and r.headers["location"].startswith("/signin?next=")
        r = c.post("/cases/new", data=FORM)
        assert r.status_code == 303 and r.headers["location"].startswith("/signin")
    assert case_count(live) == before


@pytest.mark.parametrize("role", ["auditor", "legal"])
def test_readers_may_not_open_cases_or_upload(live: LiveVault, role: str) -> None:
    with live.client("collector") as c:
        case_id = c.post("/v1/cases", json={"title": "x", "severity": "P4"}).json()["case"]["id"]
    before = case_count(live)
    client, csrf = session(live, role)
    with closing(client):
        assert client.get("/cases/new").status_code == 403
        r = client.post("/cases/new", data={**FORM, "csrf": csrf})
        assert r.status_code == 403 and "collector or admin" in r.text
        assert client.get(f"/cases/{case_id}/upload").status_code == 403
        assert "Open a case" not in client.get("/cases").text
        assert "Upload evidence" not in client.get(f"/cases/{case_id}").text
    assert case_count(live) == before


def test_collector_opens_a_case_and_reaches_only_their_upload_pages(
    live: LiveVault,
) -> None:
    with live.client("admin") as c:
        theirs = c.post("/v1/cases", json={"title": "not yours", "severity": "P4"})
        theirs_id = theirs.json()["case"]["id"]
    client, csrf = session(live, "collector")
    with closing(client):
        r = client.post("/cases/new", data={**FORM, "csrf": csrf})
        assert r.status_code == 303, r.text
        where = r.headers["location"]
        m = re.fullmatch(r"/cases/(IR-\d{4}-\d{4})/upload\?done=case_created", where)
        assert m
        page = client.get(r.headers["location"])
        assert page.status_code == 200 and f'data-case="{m[1]}"' in page.text
        assert f'data-csrf="{csrf}"' in page.text  # the header the script sends
        # another's case: the same 404 as a case that does not exist
        assert client.get(f"/cases/{theirs_id}/upload").status_code == 404
    with live.client("collector") as c:
        case = c.get(f"/v1/cases/{m[1]}").json()
    assert case["title"] == "Phishing wave" and case["owner"] == "collector"
    assert case["personal_data"] is True and case["severity"] == "P3"


@pytest.mark.parametrize(
    "bad",
    [
        {"title": ""},
        {"title": "x" * 201},
        {"severity": "P9"},
        {"title": "bell\x07"},
        {"declared_at": "not a time"},
        {"declared_at": "2999-01-01T00:00:00"},
    ],
)
def test_bad_case_forms_are_refused_and_seal_nothing(live: LiveVault, bad: dict) -> None:
    before = case_count(live)
    client, csrf = session(live, "collector")
    with closing(client):
        r = client.post("/cases/new", data={**FORM, **bad, "csrf": csrf})
    assert r.status_code in (400, 422), r.text
    assert case_count(live) == before


def test_case_form_without_csrf_token_or_from_another_origin_is_refused(
    live: LiveVault,
) -> None:
    before = case_count(live)
    client, csrf = session(live, "collector")
    with closing(client):
        assert client.post("/cases/new", data=FORM).status_code == 403
        r = client.post(
            "/cases/new", data={**FORM, "csrf": csrf}, headers={"Origin": "http://evil.example"}
        )
        assert r.status_code == 403
    assert case_count(live) == before


def test_the_upload_script_path_needs_the_csrf_header_and_own_origin(
    live: LiveVault,
) -> None:
    """What static/upload.js sends: the session cookie, X-CSRF-Token and the page's Origin.
    Without either, the resumable session is not opened."""
    with live.client("collector") as c:
        case_id = c.post("/v1/cases", json={"title": "x", "severity": "P4"}).json()["case"]["id"]
    body = {"file_name": "a.bin", "size": 3, "sha256": "ab" * 32}
    client, csrf = session(live, "collector")
    url = f"/v1/cases/{case_id}/uploads"
    with closing(client):
        assert client.post(url, json=body, headers={"Origin": live.url}).status_code == 403
        r = client.post(url, json=body, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 403  # no Origin: not a page of this vault
        r = client.post(url, json=body, headers={"X-CSRF-Token": csrf, "Origin": live.url})
        assert r.status_code == 201, r.text
        upload = r.json()["upload_id"]
        r = client.patch(
            f"/v1/uploads/{upload}",
            content=b"abc",
            headers={"Upload-Offset": "0", "Origin": live.url},
        )
        assert r.status_code == 403
        assert client.get(f"/v1/uploads/{upload}").json()["offset"] == 0
