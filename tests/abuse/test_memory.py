"""A 300 MB body sent without a token, to a whole `locard serve` process: its peak memory
stays bounded (the server answers 401 without reading or parsing the body)."""

from __future__ import annotations

import select
from pathlib import Path

from tests.abuse.conftest import Served
from tests.abuse.sockets import open_socket
from tests.api.helpers import read_response, request_head

SIZE = 300 * 1024 * 1024
#: far below the ~1 GB the parsed body took, far above the noise of one request
BOUND = 64 * 1024 * 1024


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def _send_until_answered(served: Served, token: str | None) -> int:
    head = request_head(
        "POST",
        "/v1/cases",
        token,
        {"Content-Type": "application/json", "Content-Length": str(SIZE)},
    )
    prefix = b'{"title": "' + b"a" * (1024 * 1024 - 11)
    piece = b"a" * (1024 * 1024)
    with open_socket(served.url, timeout=60) as sock:
        sock.sendall(head)
        sent = 0
        while sent < SIZE - 2:
            readable, writable, _ = select.select([sock], [sock], [], 60)
            if readable:
                break  # answered before the body was sent
            if writable:
                chunk = prefix if sent == 0 else piece[: min(len(piece), SIZE - 2 - sent)]
                try:
                    sent += sock.send(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    break
        else:
            sock.sendall(b'"}')
        return read_response(sock).status


def test_unauthenticated_300mb_json_leaves_memory_bounded(served: Served) -> None:
    before = _kib(served.pid, "VmRSS")
    for token, status in ((None, 401), ("wrong-token", 401), (served.token, 413)):
        assert _send_until_answered(served, token) == status
        peak = _kib(served.pid, "VmHWM")
        assert peak - before < BOUND, f"{status}: peak RSS grew by {(peak - before) >> 20} MiB"
