"""A real uvicorn server on 127.0.0.1 in a background thread, for tests that need real HTTP
(streaming bodies, chunked encoding, disconnects) rather than an in-process client."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn

from app.auth.service import create_principal
from app.edge.server import server_config
from app.main import create_app
from app.settings import Settings
from app.vault import Vault, init_vault, open_vault

ROLES = ("collector", "legal", "auditor", "admin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveVault:
    url: str
    vault: Vault
    settings: Settings
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, role: str | None = None, **kw: object) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kw)  # type: ignore[arg-type]

    def add_user(self, name: str, role: str, public_key: str | None = None) -> str:
        _, token = create_principal(self.vault, name, role, public_key)
        self.tokens[name] = token
        return token


def make_settings(data_dir: Path, db_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "database_url": db_url,
        "origin": "test.locard.example/ledger",
        "seal_interval_ms": 20,
    }
    return Settings(**{**values, **overrides})  # type: ignore[arg-type]


@contextmanager
def live_vault(settings: Settings, *, users: bool = True) -> Iterator[LiveVault]:
    if not (settings.keys_dir / "vault.json").exists():
        init_vault(settings)
    vault = open_vault(settings)
    port = free_port()
    app = create_app(settings, vault=vault)
    # the server `locard serve` runs: same protocol, limits and proxy rules
    config = server_config(app, settings, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    live = LiveVault(f"http://127.0.0.1:{port}", vault, settings)
    if users:
        for role in ROLES:
            _, live.tokens[role] = create_principal(vault, role, role)
    try:
        yield live
    finally:
        server.should_exit = True
        thread.join(15)
        vault.close()
