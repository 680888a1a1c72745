"""Slow clients over real sockets: a head that never ends, a body that never comes or
stalls, oversized headers. Each is cut off; other clients are served meanwhile; a client
that is slow but keeps moving above the minimum rate is not cut off.

The vault runs with small limits (1 s head deadline, 1 KiB/s over a 1 s window) so the
tests are short; every wait is bounded by `sockets.BOUND`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from app.audit import audit
from tests.abuse.sockets import (
    open_socket,
    send_slowly,
    status_of,
    trickle,
    until_closed,
)
from tests.api.helpers import read_response, request_head, untouched
from tests.support.live_server import LiveVault

LIVE_SETTINGS = {
    "header_timeout_s": 1.0,
    "max_header_bytes": 8 * 1024,
    "min_body_rate": 1024,
    "body_rate_window_s": 1.0,
}


@pytest.fixture(scope="module")
def case(module_live: LiveVault) -> str:
    with module_live.client("collector") as c:
        r = c.post("/v1/cases", json={"title": "slow clients", "severity": "P3"})
        assert r.status_code == 201, r.text
        return str(r.json()["case"]["id"])


@pytest.fixture(autouse=True)
def audited(module_live: LiveVault) -> Iterator[None]:
    """`locard audit` passes after each test: nothing half-written was left behind."""
    yield
    report = audit(module_live.vault)
    assert report.ok, report.first_failure


def test_a_silent_connection_is_closed(module_live: LiveVault) -> None:
    with open_socket(module_live.url) as sock:
        assert status_of(until_closed(sock)) in (408, None)


def test_an_incomplete_head_gets_408(module_live: LiveVault) -> None:
    with open_socket(module_live.url) as sock:
        sock.sendall(b"POST /signin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
        assert status_of(until_closed(sock)) == 408


def test_a_trickled_head_cannot_outlive_its_deadline(module_live: LiveVault) -> None:
    """A byte every 0.1 s keeps the connection busy, but the deadline is for the head."""
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 1000
    with open_socket(module_live.url) as sock:
        assert trickle(sock, head, 0.1), "the server waited for the whole trickle"
        assert status_of(until_closed(sock)) in (408, None)


def test_oversized_headers_get_431(module_live: LiveVault) -> None:
    with open_socket(module_live.url) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 16 * 1024)
        assert status_of(until_closed(sock)) == 431


def test_a_signin_body_that_never_comes_is_cut_off(module_live: LiveVault) -> None:
    head = request_head(
        "POST",
        "/signin",
        None,
        {"Content-Type": "application/x-www-form-urlencoded", "Content-Length": "100"},
    )
    with untouched(module_live), open_socket(module_live.url) as sock:
        sock.sendall(head + b"token=")
        until_closed(sock)


def test_a_stalled_upload_is_cut_off_and_discarded(module_live: LiveVault, case: str) -> None:
    head = request_head(
        "POST",
        f"/v1/cases/{case}/artifacts?file_name=stalled.bin",
        module_live.tokens["collector"],
        {"Content-Length": str(1 << 20)},
    )
    with untouched(module_live), open_socket(module_live.url) as sock:
        sock.sendall(head + b"x" * 10_000)
        until_closed(sock)


def test_a_stalled_resumable_chunk_is_cut_off(module_live: LiveVault, case: str) -> None:
    data = b"r" * 50_000
    meta = {"file_name": "r.bin", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    with module_live.client("collector") as c:
        r = c.post(f"/v1/cases/{case}/uploads", json=meta)
        assert r.status_code == 201, r.text
        uid = r.json()["upload_id"]
    head = request_head(
        "PATCH",
        f"/v1/uploads/{uid}",
        module_live.tokens["collector"],
        {"Content-Length": str(len(data)), "Upload-Offset": "0"},
    )
    with open_socket(module_live.url) as sock:
        sock.sendall(head + data[:20_000])
        until_closed(sock)
    # the protocol resumes from what arrived: the rest completes the upload
    with module_live.client("collector") as c:
        offset = int(c.head(f"/v1/uploads/{uid}").headers["upload-offset"])
        assert 0 < offset <= 20_000
        r = c.patch(
            f"/v1/uploads/{uid}", content=data[offset:], headers={"Upload-Offset": str(offset)}
        )
        assert r.status_code == 200, r.text
        assert c.post(f"/v1/uploads/{uid}/complete").status_code == 201


def test_a_slow_but_moving_upload_survives(module_live: LiveVault, case: str) -> None:
    """4 KiB/s for 3 s: four times the minimum rate, three times the window."""
    data = bytes(range(256)) * 48
    head = request_head(
        "POST",
        f"/v1/cases/{case}/artifacts?file_name=slow.bin",
        module_live.tokens["collector"],
        {"Content-Length": str(len(data))},
    )
    with open_socket(module_live.url) as sock:
        sock.sendall(head)
        send_slowly(sock, data, 1024, 0.25)
        r = read_response(sock)
    assert r.status == 201, r
    assert hashlib.sha256(data).hexdigest().encode() in r.body


def test_other_clients_are_served_while_slow_ones_hang(module_live: LiveVault, case: str) -> None:
    stalled = [open_socket(module_live.url) for _ in range(20)]
    try:
        for i, sock in enumerate(stalled):
            if i % 2:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            else:
                sock.sendall(
                    request_head(
                        "POST",
                        f"/v1/cases/{case}/artifacts?file_name=s{i}.bin",
                        module_live.tokens["collector"],
                        {"Content-Length": "100000"},
                    )
                    + b"x" * 100
                )
        with module_live.client("collector") as c:
            for _ in range(5):
                assert c.get(f"/v1/cases/{case}").status_code == 200
            r = c.post(f"/v1/cases/{case}/artifacts", params={"file_name": "ok.bin"}, content=b"ok")
            assert r.status_code == 201, r.text
        for sock in stalled:
            until_closed(sock)
    finally:
        for sock in stalled:
            sock.close()


def test_expect_continue_waits_for_the_server_not_the_client(
    module_live: LiveVault, case: str
) -> None:
    """A client waiting for `100 Continue` is not slow: the window starts when it is sent.
    Without a token the answer is 401 at once, and the body is never asked for."""
    data = b"e" * 4096
    headers = {"Content-Length": str(len(data)), "Expect": "100-continue"}
    target = f"/v1/cases/{case}/artifacts?file_name=expect.bin"
    with untouched(module_live), open_socket(module_live.url) as sock:
        sock.sendall(request_head("POST", target, None, headers))
        assert read_response(sock).status == 401
    with open_socket(module_live.url) as sock:
        sock.sendall(request_head("POST", target, module_live.tokens["collector"], headers))
        assert read_response(sock).status == 100
        sock.sendall(data)
        assert read_response(sock).status == 201
