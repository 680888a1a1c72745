"""Fixtures for resumable uploads: a live vault, a case, and "nothing changed" snapshots."""

from __future__ import annotations

from tests.support.live_server import LiveVault


def new_case(live: LiveVault, role: str = "collector") -> str:
    with live.client(role) as c:
        r = c.post("/v1/cases", json={"title": "Ransomware on FS01", "severity": "P1"})
        assert r.status_code == 201, r.text
        return str(r.json()["case"]["id"])
