"""Raw client sockets on loopback, bounded in time: what a slow or hostile client does."""

from __future__ import annotations

import select
import socket
import time
from urllib.parse import urlsplit

#: no test waits longer than this for the server to act (a bound, not a measurement)
BOUND = 15.0


def open_socket(url: str, source: str | None = None, timeout: float = BOUND) -> socket.socket:
    parts = urlsplit(url)
    assert parts.hostname and parts.port
    return socket.create_connection(
        (parts.hostname, parts.port),
        timeout=timeout,
        source_address=(source, 0) if source else None,
    )


def until_closed(sock: socket.socket, bound: float = BOUND) -> bytes:
    """Everything the server sends until it closes the connection (fails past `bound`)."""
    sock.settimeout(bound)
    data = b""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk
    raise AssertionError(f"server kept the connection open; it sent {data[:200]!r}")


def status_of(data: bytes) -> int | None:
    if not data.startswith(b"HTTP/1.1 "):
        return None
    return int(data.split(b" ", 2)[1])


def trickle(sock: socket.socket, data: bytes, interval: float, bound: float = BOUND) -> bool:
    """Send `data` a byte at a time; True if the server closed the connection first."""
    deadline = time.monotonic() + bound
    for i in range(len(data)):
        if time.monotonic() > deadline:
            return False
        readable, _, _ = select.select([sock], [], [], interval)
        if readable:
            return True  # an answer or EOF: the server acted
        try:
            sock.sendall(data[i : i + 1])
        except (BrokenPipeError, ConnectionResetError):
            return True
    return False


def send_slowly(sock: socket.socket, data: bytes, piece: int, interval: float) -> None:
    """A slow client that keeps moving: `piece` bytes every `interval` seconds."""
    for i in range(0, len(data), piece):
        sock.sendall(data[i : i + piece])
        time.sleep(interval)
