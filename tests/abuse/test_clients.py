"""Which address a request is counted against (pure: no server)."""

from __future__ import annotations

import pytest

from app.edge.clients import ClientSlots, TrustedProxies

PROXIES = TrustedProxies(["10.0.0.1", "192.168.0.0/24", "::1"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("203.0.113.5", [b"198.51.100.1"], "203.0.113.5"),  # not a proxy: header ignored
        ("10.0.0.1", [b"198.51.100.1"], "198.51.100.1"),
        ("10.0.0.1", [b"6.6.6.6, 198.51.100.1"], "198.51.100.1"),  # the client wrote 6.6.6.6
        ("10.0.0.1", [b"198.51.100.1, 192.168.0.7"], "198.51.100.1"),  # two proxies deep
        ("10.0.0.1", [b"198.51.100.1", b"192.168.0.7"], "198.51.100.1"),  # repeated header
        ("10.0.0.1", [], "10.0.0.1"),  # the proxy's own request
        ("10.0.0.1", [b"192.168.0.7"], "192.168.0.7"),  # only proxies: the farthest
        ("::1", [b"2001:db8::1"], "2001:db8::1"),
        ("10.0.0.1", [b" , "], "10.0.0.1"),
    ],
)
def test_client_of(peer: str, forwarded: list[bytes], client: str) -> None:
    assert PROXIES.client_of(peer, forwarded) == client


def test_nothing_trusted_by_default() -> None:
    assert not TrustedProxies([]).trusts("127.0.0.1")
    assert not PROXIES.trusts("not an address")


def test_slots_are_counted_per_client() -> None:
    slots = ClientSlots(2)
    assert slots.acquire("a") and slots.acquire("a") and not slots.acquire("a")
    assert slots.acquire("b")
    slots.release("a")
    assert slots.acquire("a") and not slots.acquire("a")
