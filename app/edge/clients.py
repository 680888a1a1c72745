"""Who the client is, and how many connections each client holds.

Behind a reverse proxy every connection comes from the proxy; the client is then named
by X-Forwarded-For, but only when the proxy is listed in `trusted_proxies`. From
anyone else the header is ignored: a client cannot pick the address it is counted as.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    def __init__(self, entries: Iterable[str]) -> None:
        self._networks: tuple[_Network, ...] = tuple(
            ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip()
        )

    def __bool__(self) -> bool:
        return bool(self._networks)

    def trusts(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in n for n in self._networks)

    def client_of(self, peer: str, forwarded_for: Sequence[bytes]) -> str:
        """The client a request is from: the nearest X-Forwarded-For hop that is not one
        of our proxies (hops further left were written by the client itself)."""
        if not self.trusts(peer):
            return peer
        hops = [h.strip() for v in forwarded_for for h in v.decode("latin-1").split(",")]
        hops = [h for h in hops if h]
        for hop in reversed(hops):
            if not self.trusts(hop):
                return hop
        return hops[0] if hops else peer


class ClientSlots:
    """Counts what each client address holds open; used from the event loop only."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._held: dict[str, int] = {}

    def acquire(self, client: str) -> bool:
        held = self._held.get(client, 0)
        if held >= self.limit:
            return False
        self._held[client] = held + 1
        return True

    def release(self, client: str) -> None:
        held = self._held.get(client, 0) - 1
        if held > 0:
            self._held[client] = held
        else:
            self._held.pop(client, None)
