"""A connection flood from one address (127.0.0.2, loopback) is capped per address: the
flooder gets 429s, everyone else (127.0.0.1) is served, and the flooder is served again
once its connections close. Behind a trusted proxy the cap applies to the forwarded
client; from anyone else X-Forwarded-For changes nothing."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from app.audit import audit
from tests.abuse.sockets import BOUND, open_socket, status_of, until_closed
from tests.api.helpers import request_head
from tests.support.live_server import LiveVault

CAP = 4
LIVE_SETTINGS = {
    "max_connections_per_client": CAP,
    "trusted_proxies": ["127.0.0.1"],
    "header_timeout_s": 10.0,
}
FLOODER = "127.0.0.2"


@pytest.fixture(scope="module")
def case(module_live: LiveVault) -> str:
    with module_live.client("collector") as c:
        r = c.post("/v1/cases", json={"title": "flood", "severity": "P3"})
        assert r.status_code == 201, r.text
        return str(r.json()["case"]["id"])


@pytest.fixture(autouse=True)
def audited(module_live: LiveVault) -> Iterator[None]:
    yield
    report = audit(module_live.vault)
    assert report.ok, report.first_failure


def _refused(sock: socket.socket) -> bool:
    """Did the server refuse this connection (429 and close) rather than wait for a head?"""
    sock.settimeout(1.0)
    try:
        data = sock.recv(65536)
    except TimeoutError:
        return False  # still open, waiting for a request
    except ConnectionResetError:
        return True
    return status_of(data) == 429 or data == b""


def _in_flight(live: LiveVault, case: str, source: str, forwarded: str | None) -> socket.socket:
    """A request that stays in flight: its body is announced, and only begun."""
    headers = {"Content-Length": "100000"}
    if forwarded:
        headers["X-Forwarded-For"] = forwarded
    sock = open_socket(live.url, source=source)
    sock.sendall(
        request_head(
            "POST",
            f"/v1/cases/{case}/artifacts?file_name=f.bin",
            live.tokens["collector"],
            headers,
        )
        + b"x" * 10
    )
    return sock


def test_a_flood_from_one_address_does_not_starve_others(module_live: LiveVault, case: str) -> None:
    flood = [open_socket(module_live.url, source=FLOODER) for _ in range(5 * CAP)]
    try:
        refused = [_refused(s) for s in flood]
        assert refused.count(False) == CAP, refused  # exactly the cap is held open
        with module_live.client("collector") as c:
            for _ in range(2 * CAP):
                assert c.get(f"/v1/cases/{case}").status_code == 200
    finally:
        for s in flood:
            s.close()
    # served again once the server has seen those connections close
    transport = httpx.HTTPTransport(local_address=FLOODER)
    deadline = time.monotonic() + BOUND
    with httpx.Client(base_url=module_live.url, transport=transport) as c:
        while (status := _status(c, "/healthz")) != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
    assert status == 200


def _status(c: httpx.Client, path: str) -> int:
    try:
        return c.get(path).status_code
    except httpx.TransportError:  # refused before a response could be read
        return 0


def test_forwarded_clients_behind_a_trusted_proxy_are_counted_apart(
    module_live: LiveVault, case: str
) -> None:
    held = [_in_flight(module_live, case, "127.0.0.1", "203.0.113.9") for _ in range(CAP)]
    try:
        with _in_flight(module_live, case, "127.0.0.1", "203.0.113.9") as extra:
            assert status_of(until_closed(extra)) == 429
        # the proxy's other clients are not affected, nor is the proxy itself
        with _in_flight(module_live, case, "127.0.0.1", "203.0.113.10") as other:
            other.settimeout(1.0)
            with pytest.raises(TimeoutError):
                other.recv(1)  # accepted: the server waits for the rest of its body
        with module_live.client("collector") as c:
            assert c.get(f"/v1/cases/{case}").status_code == 200
    finally:
        for s in held:
            s.close()


def test_an_untrusted_peer_cannot_pick_its_address(module_live: LiveVault, case: str) -> None:
    held = [_in_flight(module_live, case, FLOODER, f"198.51.100.{i}") for i in range(CAP)]
    try:
        with open_socket(module_live.url, source=FLOODER) as extra:
            assert _refused(extra)
    finally:
        for s in held:
            s.close()
