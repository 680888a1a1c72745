"""HTTP/1.1 connections with the limits uvicorn lacks.

uvicorn's parser has no deadline for a request head, no cap on its size, no minimum
rate for a body and no per-client connection cap: a client that connects and sends
nothing, sends a header a byte at a time, or announces a body that never comes holds a
connection (and for a body, a running view) for ever. This protocol adds them around
uvicorn's own parser and request cycle:

- head: from the connection (or the first byte of the next request) to the end of its
  headers, at most `header_timeout_s` and `max_header_bytes`; else 408 or 431, closed.
- body: must arrive at `min_body_rate` bytes/s, averaged over `body_rate_window_s`. Time
  the server was not reading (its buffer full while the view writes to a slow disk, or a
  `100 Continue` not yet sent) does not count, so only the client's own slowness does: a
  slow-but-moving upload of any size survives. Too slow: closed, and the view sees a
  disconnect (an upload is discarded).
- a request answered before its body was read (401, 413, 429): the answer says
  `Connection: close`, the rest of the body is neither parsed nor kept, and the
  connection is half-closed, then closed ("lingering close", so a client still sending
  can read the answer instead of a reset).
- connections per client address: at most `max_connections_per_client` (429, closed).
  A trusted proxy's connection counts against the forwarded client while it carries a
  request for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

from app.edge.clients import ClientSlots, TrustedProxies
from app.settings import Settings

log = logging.getLogger("locard.edge")

#: how long the rest of an unread body is drained before the connection closes
LINGER_S = 2.0
#: the body rate is looked at this many times per window
_TICKS = 4

_Phase = Literal["head", "body", "idle", "linger"]


@dataclass(frozen=True)
class EdgeLimits:
    header_timeout_s: float
    max_header_bytes: int
    min_body_rate: int
    body_rate_window_s: float
    max_connections_per_client: int
    proxies: TrustedProxies

    @classmethod
    def from_settings(cls, settings: Settings) -> EdgeLimits:
        return cls(
            header_timeout_s=settings.header_timeout_s,
            max_header_bytes=settings.max_header_bytes,
            min_body_rate=settings.min_body_rate,
            body_rate_window_s=settings.body_rate_window_s,
            max_connections_per_client=settings.max_connections_per_client,
            proxies=TrustedProxies(settings.trusted_proxies),
        )


def guarded_protocol(limits: EdgeLimits) -> type[GuardedProtocol]:
    """A protocol class for one server: its connections share one count per client."""
    attrs = {"limits": limits, "slots": ClientSlots(limits.max_connections_per_client)}
    return type("GuardedHttpProtocol", (GuardedProtocol,), attrs)


class _MeteredFlow(FlowControl):
    """Flow control that keeps the total time reading was paused by the server."""

    def __init__(self, transport: asyncio.Transport) -> None:
        super().__init__(transport)
        self._since: float | None = None
        self._total = 0.0

    def pause_reading(self) -> None:
        if not self.read_paused:
            self._since = asyncio.get_running_loop().time()
        super().pause_reading()

    def resume_reading(self) -> None:
        if self.read_paused and self._since is not None:
            self._total += asyncio.get_running_loop().time() - self._since
            self._since = None
        super().resume_reading()

    def paused_seconds(self, now: float) -> float:
        return self._total + (now - self._since if self._since is not None else 0.0)


async def _too_many(scope: Scope, receive: Receive, send: Send) -> None:
    body = b'{"error": "too_many_connections", "detail": "too many requests in flight"}'
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class GuardedProtocol(HttpToolsProtocol):
    limits: ClassVar[EdgeLimits]
    slots: ClassVar[ClientSlots]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._phase: _Phase = "head"
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._rate_timer: asyncio.TimerHandle | None = None
        self._linger_timer: asyncio.TimerHandle | None = None
        self._peer_slot: str | None = None
        self._request_slots: deque[str] = deque()
        self._window_start = 0.0
        self._window_paused = 0.0
        self._window_bytes = 0
        self._metered: _MeteredFlow | None = None
        self._close_announced = False

    # -- connection ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.flow = self._metered = _MeteredFlow(transport)
        peer = self.client[0] if self.client else None
        if peer is not None and not self.limits.proxies.trusts(peer):
            if not self.slots.acquire(peer):
                log.warning("%s: refused, too many connections from this address", peer)
                self._refuse(429, b"too many connections from this address")
                return
            self._peer_slot = peer
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._head_timer, self._rate_timer, self._linger_timer):
            if timer is not None:
                timer.cancel()
        while self._request_slots:
            self.slots.release(self._request_slots.popleft())
        if self._peer_slot is not None:
            self.slots.release(self._peer_slot)
            self._peer_slot = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._phase == "linger":
            return  # the rest of a body nobody will read
        if self._phase != "body":
            self._head_bytes += len(data)
        super().data_received(data)
        if (
            self._phase == "head"
            and self._head_bytes > self.limits.max_header_bytes
            and not self.transport.is_closing()
        ):
            self._refuse(431, b"request header fields too large")

    # -- parser callbacks --------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._phase != "head":
            self._phase = "head"
            self._arm_head_timer()

    def on_headers_complete(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._head_bytes = 0
        self._phase = "body"
        self._start_window()
        app: ASGIApp = self.app
        peer = self.client[0] if self.client else None
        if peer is not None and self.limits.proxies.trusts(peer):
            forwarded = [v for n, v in self.headers if n == b"x-forwarded-for"]
            client = self.limits.proxies.client_of(peer, forwarded)
            if self.slots.acquire(client):
                self._request_slots.append(client)
            else:
                log.warning("%s (via %s): refused, too many requests in flight", client, peer)
                app = _too_many
        cycles: list[RequestResponseCycle] = []  # filled once uvicorn has made the cycle
        saved, self.app = self.app, self._closing_if_early(app, cycles)
        try:
            super().on_headers_complete()
        finally:
            self.app = saved
        cycles.append(self.cycle)

    def _closing_if_early(self, app: ASGIApp, cycles: list[RequestResponseCycle]) -> ASGIApp:
        """Runs the request; an answer started before its body has fully arrived says
        `Connection: close`, and the connection is then closed by lingering, not at once."""

        async def run(scope: Scope, receive: Receive, send: Send) -> None:
            async def send_(message: Message) -> None:
                cycle = cycles[0] if cycles else None
                early = message["type"] == "http.response.start" and (
                    cycle is not None and cycle.more_body
                )
                if not early:
                    await send(message)
                    return
                headers = [*message.get("headers", []), (b"connection", b"close")]
                await send({**message, "headers": headers})
                # uvicorn would close at once, and a reset can destroy the answer
                assert cycle is not None
                cycle.keep_alive = True
                self._close_announced = True

            await app(scope, receive, send_)

        return run

    def on_body(self, body: bytes) -> None:
        self._window_bytes += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._phase = "idle"
        if self._rate_timer is not None:
            self._rate_timer.cancel()
            self._rate_timer = None

    def on_response_complete(self) -> None:
        if self._request_slots:
            self.slots.release(self._request_slots.popleft())
        if self._close_announced and not self.transport.is_closing():
            self.server_state.total_requests += 1
            self._linger()
            return
        super().on_response_complete()

    # -- limits ------------------------------------------------------------------------

    def _refuse(self, status: int, reason: bytes) -> None:
        if self.cycle is None or self.cycle.response_complete:
            # nothing else is being written on this connection: say why before closing
            self.transport.write(
                STATUS_LINE[status]
                + b"content-type: text/plain; charset=utf-8\r\n"
                + b"content-length: %d\r\nconnection: close\r\n\r\n" % len(reason)
                + reason
            )
        self.transport.close()

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(
                self.limits.header_timeout_s, self._head_expired
            )

    def _head_expired(self) -> None:
        self._head_timer = None
        if self._phase == "head" and not self.transport.is_closing():
            log.info("%s: request head not received in time", self._peer())
            self._refuse(408, b"request header not received in time")

    def _start_window(self) -> None:
        now = self.loop.time()
        self._window_start = now
        self._window_paused = self._paused(now)
        self._window_bytes = 0
        if self._rate_timer is None:
            self._rate_timer = self.loop.call_later(
                self.limits.body_rate_window_s / _TICKS, self._rate_tick
            )

    def _rate_tick(self) -> None:
        self._rate_timer = None
        if self._phase != "body" or self.transport.is_closing():
            return
        now = self.loop.time()
        if self.cycle is not None and self.cycle.waiting_for_100_continue:
            self._start_window()  # the client waits for us, not we for it
            return
        active = now - self._window_start - (self._paused(now) - self._window_paused)
        if active >= self.limits.body_rate_window_s:
            if self._window_bytes < self.limits.min_body_rate * active:
                log.info(
                    "%s: body too slow (%d bytes in %.1f s); closed",
                    self._peer(),
                    self._window_bytes,
                    active,
                )
                self.transport.close()
                return
            self._start_window()
            return
        self._rate_timer = self.loop.call_later(
            self.limits.body_rate_window_s / _TICKS, self._rate_tick
        )

    def _paused(self, now: float) -> float:
        return self._metered.paused_seconds(now) if self._metered is not None else 0.0

    def _linger(self) -> None:
        self._phase = "linger"
        if self._rate_timer is not None:
            self._rate_timer.cancel()
            self._rate_timer = None
        self.flow.resume_reading()  # drain and drop, so the client is not left blocked
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._linger_timer = self.loop.call_later(LINGER_S, self.transport.close)

    def _peer(self) -> str:
        return self.client[0] if self.client else "?"
