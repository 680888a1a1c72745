"""Shared checks for upload tests: vault snapshots, session rows, spool files."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from app.db import session
from app.uploads.models import UploadSession
from tests.support.live_server import LiveVault
from verify.policy import VerificationPolicy
from verify.verifier import Verifier


@dataclass(frozen=True)
class Snapshot:
    """What an upload that must leave no trace could have changed."""

    objects: frozenset[str]
    ledger_size: int
    staging: frozenset[str]


def snapshot(live: LiveVault) -> Snapshot:
    staging = live.settings.store_dir / "staging"
    return Snapshot(
        objects=frozenset(live.vault.store.list_keys("objects/")),
        ledger_size=live.vault.ledger.size(),
        staging=frozenset(os.listdir(staging)) if staging.is_dir() else frozenset(),
    )


def row(live: LiveVault, upload_id: str) -> UploadSession | None:
    with session(live.vault.engine) as s:
        r = s.get(UploadSession, upload_id)
        if r is not None:
            s.expunge(r)
        return r


def spool(live: LiveVault, upload_id: str) -> Path:
    return live.settings.data_dir / "uploads" / f"{upload_id}.part"


def verifier(live: LiveVault) -> Verifier:
    return Verifier(
        VerificationPolicy(
            trusted_log_keys=(live.vault.ledger.log_key,),
            trusted_tsa_roots=(live.vault.keyring.tsa.root_cert_der,),
        )
    )


def payload(size: int, seed: int = 0) -> bytes:
    """Deterministic, incompressible-looking bytes."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest() * 64
        counter += 1
    return bytes(out[:size])


def create(
    c: httpx.Client, case_id: str, data: bytes, *, sha256: str | None = None, **extra: Any
) -> httpx.Response:
    body: dict[str, Any] = {
        "file_name": "disk.img",
        "size": len(data),
        "sha256": sha256 or hashlib.sha256(data).hexdigest(),
        **extra,
    }
    return c.post(f"/v1/cases/{case_id}/uploads", json=body)


def patch(c: httpx.Client, upload_id: str, offset: int, chunk: bytes) -> httpx.Response:
    return c.patch(
        f"/v1/uploads/{upload_id}",
        content=chunk,
        headers={"Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"},
    )
