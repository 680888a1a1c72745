"""Shared checks for the API tests: refusals, "nothing was stored", raw sockets, receipts."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Engine, text

from tests.support.live_server import LiveVault
from verify.policy import VerificationPolicy
from verify.verifier import Verifier

#: the service tables a refused request must not touch (the ledger is checked by size)
_TABLES = ("artifacts", "cases", "case_members", "principals", "upload_sessions")


def assert_refused(r: httpx.Response, *statuses: int) -> None:
    """A 4xx (one of `statuses` if given) that says why, as JSON. Never a 5xx."""
    assert 400 <= r.status_code < 500, (
        f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    )
    if statuses:
        assert r.status_code in statuses, f"{r.status_code} not in {statuses}: {r.text}"
    if r.request.method == "HEAD":
        return  # no body to carry the reason
    assert r.headers.get("content-type", "").startswith("application/json"), r.text
    body = r.json()
    reason = body.get("detail") if isinstance(body, dict) else None
    assert reason, f"no reason given: {r.text}"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- state of the vault --------------------------------------------------------------


def _files(root: Path) -> set[str]:
    if not root.exists():
        return set()
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@dataclass(frozen=True)
class VaultState:
    objects: frozenset[str]
    ledger_size: int
    rows: tuple[tuple[str, int], ...]


def table_counts(engine: Engine) -> tuple[tuple[str, int], ...]:
    with engine.connect() as conn:
        return tuple(
            (t, int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())) for t in _TABLES
        )


def vault_state(live: LiveVault) -> VaultState:
    return VaultState(
        objects=frozenset(_files(live.settings.store_dir / "objects")),
        ledger_size=live.vault.ledger.size(),
        rows=table_counts(live.vault.engine),
    )


def staging_files(store_dir: Path) -> set[str]:
    return _files(store_dir / "staging")


def wait_for_staging(store_dir: Path, *, empty: bool, timeout: float = 10.0) -> set[str]:
    """Staging settles after the server noticed a disconnect, not when the socket closed."""
    deadline = time.monotonic() + timeout
    while True:
        files = staging_files(store_dir)
        if bool(files) != empty or time.monotonic() > deadline:
            return files
        time.sleep(0.02)


@contextmanager
def untouched(live: LiveVault, *, settle: float = 0.0) -> Iterator[None]:
    """Whatever happens inside leaves no object, no staging, no ledger event and no row.

    `settle`: how long staging must then stay empty. Over a raw socket the server may
    still be working on a request after the client has its answer (uvicorn answers a
    malformed pipelined request itself while the app handles the one before it).
    """
    before = vault_state(live)
    assert not staging_files(live.settings.store_dir), "staging not clean before the test"
    yield
    left = wait_for_staging(live.settings.store_dir, empty=True)
    quiet_until = time.monotonic() + settle
    while not left and time.monotonic() < quiet_until:
        time.sleep(0.02)
        left = staging_files(live.settings.store_dir)
        if left:
            left = wait_for_staging(live.settings.store_dir, empty=True)
            quiet_until = time.monotonic() + settle
    assert not left, f"upload staging left behind: {left}"
    after = vault_state(live)
    assert after.objects == before.objects, f"new objects: {after.objects - before.objects}"
    assert after.ledger_size == before.ledger_size, "a custody event was recorded"
    assert after.rows == before.rows, f"rows changed: {before.rows} -> {after.rows}"


# -- raw HTTP ------------------------------------------------------------------------


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def connect(url: str, timeout: float = 10.0) -> socket.socket:
    parts = urlsplit(url)
    assert parts.hostname and parts.port
    return socket.create_connection((parts.hostname, parts.port), timeout=timeout)


def request_head(
    method: str, target: str, token: str | None, headers: dict[str, str] | None = None
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def read_response(sock: socket.socket) -> RawResponse:
    """One HTTP/1.1 response with a Content-Length body (all this server sends on errors)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before a response: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return RawResponse(int(status_line.split()[1]), headers, body)


# -- receipts ------------------------------------------------------------------------


def verifier(log_key: str, tsa_root_der: bytes) -> Verifier:
    return Verifier(
        VerificationPolicy(trusted_log_keys=(log_key,), trusted_tsa_roots=(tsa_root_der,))
    )


def live_verifier(live: LiveVault) -> Verifier:
    return verifier(live.vault.ledger.log_key, live.vault.keyring.tsa.root_cert_der)
