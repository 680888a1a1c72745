"""Bodies: who sends one is authenticated before it is read, and a non-evidence body is
capped before it is parsed. Evidence uploads stream and are not capped by this."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest

from tests.abuse.sockets import open_socket
from tests.api.helpers import (
    RawResponse,
    assert_refused,
    read_response,
    request_head,
    untouched,
)
from tests.support.live_server import LiveVault

CAP = 64 * 1024
LIVE_SETTINGS = {"max_body_bytes": CAP}
HUGE = 300 * 1024 * 1024


@pytest.fixture(scope="module")
def case(module_live: LiveVault) -> str:
    with module_live.client("collector") as c:
        r = c.post("/v1/cases", json={"title": "limits", "severity": "P3"})
        assert r.status_code == 201, r.text
        return str(r.json()["case"]["id"])


def _head_only(
    live: LiveVault, method: str, target: str, token: str | None, **headers: str
) -> RawResponse:
    """Send a request head announcing a body, and no body: the answer cannot have read it."""
    sock = open_socket(live.url, timeout=10)
    with sock:
        sock.sendall(request_head(method, target, token, headers))
        return read_response(sock)


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("POST", "/v1/cases"),
        ("POST", "/v1/cases/{case}/notes"),
        ("PATCH", "/v1/cases/{case}"),
        ("POST", "/v1/principals"),
        ("POST", "/v1/cases/{case}/artifacts"),
        ("POST", "/v1/cases/{case}/uploads"),
        ("PATCH", "/v1/uploads/nope"),
        ("POST", "/v1/verify"),
    ],
)
@pytest.mark.parametrize("token", [None, "not-a-token"], ids=["no token", "bad token"])
def test_unauthenticated_body_is_not_read(
    module_live: LiveVault, case: str, method: str, target: str, token: str | None
) -> None:
    with untouched(module_live):
        r = _head_only(
            module_live,
            method,
            target.format(case=case),
            token,
            **{"Content-Type": "application/json", "Content-Length": str(HUGE)},
        )
    assert r.status == 401, r
    assert json.loads(r.body)["error"] == "unauthorized"


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("POST", "/v1/cases"),
        ("PATCH", "/v1/cases/{case}"),
        ("POST", "/v1/cases/{case}/artifacts"),
        ("POST", "/v1/cases/{case}/uploads"),
    ],
)
def test_cookie_write_without_csrf_is_refused_before_its_body(
    module_live: LiveVault, case: str, method: str, target: str
) -> None:
    """A same-site page's request with the victim's session cookie and no CSRF token is
    refused as soon as its head is read: 403, not one body byte read."""
    with httpx.Client(base_url=module_live.url) as c:
        signed_in = c.post("/signin", data={"token": module_live.tokens["collector"]})
        session_id = signed_in.cookies["locard_session"]
    with untouched(module_live):
        r = _head_only(
            module_live,
            method,
            target.format(case=case),
            None,
            **{
                "Cookie": f"locard_session={session_id}",
                "Origin": module_live.url.rsplit(":", 1)[0] + ":1",
                "Content-Type": "application/json",
                "Content-Length": str(HUGE),
            },
        )
    assert r.status == 403, r
    assert json.loads(r.body)["error"] == "csrf_refused"


def test_deep_nesting_without_a_token_is_401(module_live: LiveVault) -> None:
    with untouched(module_live), httpx.Client(base_url=module_live.url) as c:
        r = c.post("/v1/cases", content=b"[" * 60_000, headers={"content-type": "application/json"})
    assert_refused(r, 401)


@pytest.mark.parametrize(
    ("method", "target"),
    [("POST", "/v1/cases"), ("POST", "/v1/cases/{case}/notes"), ("PATCH", "/v1/cases/{case}")],
)
def test_declared_oversized_json_is_413_before_reading(
    module_live: LiveVault, case: str, method: str, target: str
) -> None:
    with untouched(module_live):
        r = _head_only(
            module_live,
            method,
            target.format(case=case),
            module_live.tokens["collector"],
            **{"Content-Type": "application/json", "Content-Length": str(HUGE)},
        )
    assert r.status == 413, r


def _chunked_flood(live: LiveVault, head: bytes) -> RawResponse:
    """Send `head`, then a JSON body in chunks far past the cap (far less than memory)."""
    piece = b'{"text": "' + b"a" * 16 * 1024
    with open_socket(live.url) as sock:
        sock.sendall(head)
        sent = 0
        try:
            while sent < 4 * CAP:
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
                sent += len(piece)
                piece = b"a" * 16 * 1024
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_response(sock)


def test_chunked_oversized_json_is_cut_off(module_live: LiveVault, case: str) -> None:
    """No Content-Length to refuse up front: the server stops once the cap is passed."""
    head = request_head(
        "POST",
        f"/v1/cases/{case}/notes",
        module_live.tokens["collector"],
        {"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
    )
    with untouched(module_live):
        r = _chunked_flood(module_live, head)
    assert r.status == 413, r


def test_a_small_content_length_beside_chunked_framing_is_no_way_past_the_cap(
    module_live: LiveVault, case: str
) -> None:
    """A body under a declared Content-Length is trusted unread (HTTP framing ends it
    there), so a request that also says chunked, and sends far more, must not be: the
    parser refuses the pair, or the cap reads the chunks and stops at it."""
    head = request_head(
        "POST",
        f"/v1/cases/{case}/notes",
        module_live.tokens["collector"],
        {
            "Content-Type": "application/json",
            "Content-Length": "16",
            "Transfer-Encoding": "chunked",
        },
    )
    with untouched(module_live):
        r = _chunked_flood(module_live, head)
    assert r.status in (400, 413), r


def test_json_under_the_cap_still_works(module_live: LiveVault, case: str) -> None:
    text = "n" * 19_000
    with module_live.client("collector") as c:
        r = c.post(f"/v1/cases/{case}/notes", json={"text": text})
    assert r.status_code == 201, r.text


def test_signin_form_is_capped(module_live: LiveVault) -> None:
    with untouched(module_live), httpx.Client(base_url=module_live.url) as c:
        r = c.post(
            "/signin",
            content=b"token=" + b"x" * (2 * CAP),
            headers={
                "content-type": "application/x-www-form-urlencoded",
                "origin": module_live.url,
            },
        )
    assert r.status_code == 413, r.text


def test_evidence_streams_past_the_cap(module_live: LiveVault, case: str) -> None:
    """The cap is for bodies that are parsed whole; evidence is streamed to the store."""
    data = bytes(range(256)) * (4 * CAP // 256)
    with module_live.client("collector") as c:
        r = c.post(f"/v1/cases/{case}/artifacts", params={"file_name": "big.bin"}, content=data)
        assert r.status_code == 201, r.text
        assert r.json()["artifact"]["sha256"] == hashlib.sha256(data).hexdigest()
        r = c.post("/v1/verify", content=data)
        assert r.status_code == 200 and r.json()["held"], r.text
        meta = {"file_name": "resumed.bin", "size": len(data), "sha256": "0" * 64}
        meta["sha256"] = hashlib.sha256(data).hexdigest()
        r = c.post(f"/v1/cases/{case}/uploads", json=meta)
        assert r.status_code == 201, r.text
        uid = r.json()["upload_id"]
        r = c.patch(
            f"/v1/uploads/{uid}",
            content=data,
            headers={"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
        )
        assert r.status_code == 200, r.text
        r = c.post(f"/v1/uploads/{uid}/complete")
        assert r.status_code == 201, r.text


def test_cap_applies_with_auth(module_live: LiveVault, case: str) -> None:
    with untouched(module_live), module_live.client("collector") as c:
        r = c.post(f"/v1/cases/{case}/notes", json={"text": "x" * (2 * CAP)})
    assert_refused(r, 413)
