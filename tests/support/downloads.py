"""Download an artifact through the API, hashing it on the way (never held whole)."""

from __future__ import annotations

import hashlib

import httpx


def download_sha256(client: httpx.Client, artifact_id: str, reason: str) -> str:
    h = hashlib.sha256()
    with client.stream(
        "GET", f"/v1/artifacts/{artifact_id}/content", params={"reason": reason}
    ) as r:
        assert r.status_code == 200, r.read()
        for chunk in r.iter_bytes():
            h.update(chunk)
    return h.hexdigest()
