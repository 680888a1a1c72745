"""A rotated vault serves its key history, and `locard verify` follows it (SQLite, PostgreSQL)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import load_pem_x509_certificate

from app.vault import init_vault
from cli.keys import rotate
from tests.support.live_server import live_vault, make_settings
from verify.bundle.checks import verify_bundle
from verify.policy import VerificationPolicy

REPO = Path(__file__).resolve().parents[2]
COLLECTED = "2026-01-02T03:04:05+00:00"


def _upload(name: str) -> dict[str, str]:
    # An explicit collection time: an ingest body without one does not verify on this
    # release (occurred_at null), which is not what this test is about.
    return {"file_name": name, "collected_at": COLLECTED}


def _verify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "verify", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )


def test_keys_endpoint_publishes_the_history_that_verify_follows(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path / "vault", db_url)
    init_vault(settings)
    with live_vault(settings) as live, live.client() as anon:
        before = anon.get("/v1/keys").json()
    monkeypatch.setenv("LOCARD_DATABASE_URL", db_url)
    monkeypatch.setenv("LOCARD_ORIGIN", settings.origin)
    rotate(reason="test rotation", data_dir=settings.data_dir)
    with live_vault(settings, users=False) as live:
        with live.client() as anon:
            keys = anon.get("/v1/keys").json()
        last = live.vault.ledger.checkpoint(None).size - 1
        receipt = live.vault.ledger.receipt(last).to_json()
    # `log_key` stays the key auditors pinned; the hand-over leads to the current one.
    assert keys["log_key"] == before["log_key"] == before["log_key_current"]
    assert keys["log_key_current"] != keys["log_key"]
    [handover] = keys["log_key_history"]
    assert handover["old_key"] == keys["log_key"]
    assert handover["new_key"] == keys["log_key_current"]
    assert receipt["log_key"] == keys["log_key_current"]

    (tmp_path / "keys.json").write_text(json.dumps(keys))
    (tmp_path / "receipt.json").write_text(json.dumps(receipt))
    root = str(settings.keys_dir / "tsa" / "tsa-root.pem")
    pinned = ["--trusted-key", str(tmp_path / "keys.json"), "--trusted-tsa-ca", root]
    ok = _verify(
        str(tmp_path / "receipt.json"), *pinned, "--key-history", str(tmp_path / "keys.json")
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    refused = _verify(str(tmp_path / "receipt.json"), *pinned)
    assert refused.returncode == 1, refused.stdout + refused.stderr


def test_a_bundle_spanning_the_rotation_verifies_with_the_original_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db_url = f"sqlite:///{tmp_path / 'locard.db'}"
    settings = make_settings(tmp_path / "vault", db_url)
    init_vault(settings)
    with live_vault(settings) as live, live.client("collector") as c:
        r = c.post("/v1/cases", json={"title": "across a rotation", "severity": "P2"})
        assert r.status_code == 201, r.text
        case = r.json()["case"]["id"]
        r = c.post(
            f"/v1/cases/{case}/artifacts",
            params={"file_name": "a.bin", "collected_at": COLLECTED},
            content=b"a",
        )
        assert r.status_code == 201, r.text
        tokens = dict(live.tokens)
        original = live.vault.keyring.signer.vkey()
    monkeypatch.setenv("LOCARD_DATABASE_URL", db_url)
    monkeypatch.setenv("LOCARD_ORIGIN", settings.origin)
    rotate(reason="test rotation", data_dir=settings.data_dir)
    with live_vault(settings, users=False) as live:
        live.tokens.update(tokens)
        with live.client("collector") as c:
            r = c.post(
                f"/v1/cases/{case}/artifacts",
                params={"file_name": "b.bin", "collected_at": COLLECTED},
                content=b"b",
            )
            assert r.status_code == 201, r.text
        with live.client("auditor") as c:
            r = c.get(f"/v1/cases/{case}/bundle")
            assert r.status_code == 200, r.text
        (tmp_path / "bundle.zip").write_bytes(r.content)
        history = live.vault.keyring.history
    root = (settings.keys_dir / "tsa" / "tsa-root.pem").read_bytes()
    root_der = load_pem_x509_certificate(root).public_bytes(Encoding.DER)
    policy = VerificationPolicy(
        trusted_log_keys=(original,), trusted_tsa_roots=(root_der,), log_key_history=history
    )
    report = verify_bundle(tmp_path / "bundle.zip", policy)
    assert report.ok, [c for c in report.checks if not c.ok]
    without = VerificationPolicy(trusted_log_keys=(original,), trusted_tsa_roots=(root_der,))
    assert not verify_bundle(tmp_path / "bundle.zip", without).ok
