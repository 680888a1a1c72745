"""A playbook step is told to an automation system by webhook, after the seal and best
effort: a receiver that fails or is down never refuses or undoes the step."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.live_server import LiveVault, free_port, live_vault, make_settings


class Receiver(ThreadingHTTPServer):
    received: list[dict[str, Any]]
    status: int


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        length = int(self.headers.get("Content-Length", "0"))
        self.server.received.append(json.loads(self.rfile.read(length)))
        self.send_response(self.server.status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(("127.0.0.1", 0), _Handler)
    server.received, server.status = [], 204
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def live_hooked(tmp_path: Path, receiver: Receiver) -> Iterator[LiveVault]:
    url = f"http://127.0.0.1:{receiver.server_address[1]}/soar"
    settings = make_settings(
        tmp_path / "vault",
        f"sqlite:///{tmp_path / 'locard.db'}",
        playbook_webhook_url=url,
        playbook_webhook_timeout_s=5,
    )
    with live_vault(settings) as lv:
        yield lv


def test_steps_are_told_to_the_automation_system(
    live_hooked: LiveVault, receiver: Receiver
) -> None:
    with live_hooked.client("collector") as c:
        case = c.post("/v1/cases", json={"title": "Ransomware", "severity": "P1"}).json()["case"][
            "id"
        ]
        assert c.post(
            f"/v1/cases/{case}/classification", json={"scenario": "ransomware"}
        ).is_success
        r = c.post(f"/v1/cases/{case}/playbook/steps/isolate-hosts", json={"outcome": "done"})
        assert r.status_code == 201 and r.json()["webhook"] == "delivered"
        (notice,) = receiver.received
        assert notice["case"] == case and notice["step"] == "isolate-hosts"
        assert notice["action"] == "isolate_host" and notice["outcome"] == "done"
        assert notice["leaf_index"] == r.json()["receipt"]["leaf_index"]

        receiver.status = 500  # the receiver fails: the step stands
        r = c.post(
            f"/v1/cases/{case}/playbook/steps/block-iocs",
            json={"outcome": "skipped", "reason": "n/a"},
        )
        assert r.status_code == 201 and r.json()["webhook"] == "failed: HTTP 500"
        live_hooked.vault.settings.playbook_webhook_url = f"http://127.0.0.1:{free_port()}/down"
        r = c.post(f"/v1/cases/{case}/playbook/steps/scope", json={"outcome": "done"})
        assert r.status_code == 201 and r.json()["webhook"] == "failed: ConnectError"
        states = {s["id"]: s["state"] for s in c.get(f"/v1/cases/{case}/playbook").json()["steps"]}
    assert states["block-iocs"] == "skipped" and states["scope"] == "done"
    assert len(receiver.received) == 2
