"""A rotated vault serves its key history, and `locard verify` follows it (SQLite, PostgreSQL)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import load_pem_x509_certificate

from app.vault import init_vault
from cli.keys import rotate
from custody.signing import NoteSigner
from tests.bundles.conftest import members, rewrite
from tests.support.live_server import live_vault, make_settings
from verify.bundle import KEY_HISTORY_MEMBER, LOG_KEY_MEMBER, MANIFEST
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
    root_pem = settings.keys_dir / "tsa" / "tsa-root.pem"
    root_der = load_pem_x509_certificate(root_pem.read_bytes()).public_bytes(Encoding.DER)
    bundle = tmp_path / "bundle.zip"
    # The bundle carries the hand-over: pinning the original key is enough.
    manifest = json.loads(members(bundle)[MANIFEST])
    assert manifest["format"] == "locard-bundle/3"
    assert manifest["key_history"] == KEY_HISTORY_MEMBER
    assert json.loads(members(bundle)[KEY_HISTORY_MEMBER]) == [h.to_json() for h in history]
    pinned = VerificationPolicy(trusted_log_keys=(original,), trusted_tsa_roots=(root_der,))
    report = verify_bundle(bundle, pinned)
    assert report.ok, [c for c in report.checks if not c.ok]
    # ... and an explicit history that agrees with it changes nothing.
    report = verify_bundle(bundle, dataclasses.replace(pinned, log_key_history=history))
    assert report.ok, [c for c in report.checks if not c.ok]
    (tmp_path / "original.vkey").write_text(original + "\n")
    cli_args = ("--trusted-tsa-ca", str(root_pem))
    cli = _verify(str(bundle), "--trusted-key", str(tmp_path / "original.vkey"), *cli_args)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    # Unpinned, it is followed from its own first key, with the usual warning.
    unpinned = verify_bundle(bundle, VerificationPolicy())
    assert unpinned.ok and any("key history" in w for w in unpinned.warnings), unpinned

    # A hand-over to another key than the one sealed in the ledger is refused, as is a bundle
    # stripped of its history (its checkpoints after the rotation are then under an unpinned key).
    def _forged(files: dict[str, bytes], manifest: dict[str, Any]) -> None:
        [handover] = json.loads(files[KEY_HISTORY_MEMBER])
        handover["new_key"] = NoteSigner.generate(settings.origin).vkey()
        files[KEY_HISTORY_MEMBER] = json.dumps([handover]).encode()
        files[LOG_KEY_MEMBER] = (handover["new_key"] + "\n").encode()
        manifest["log_key"] = handover["new_key"]

    def _stripped(files: dict[str, bytes], manifest: dict[str, Any]) -> None:
        del files[KEY_HISTORY_MEMBER]
        manifest["key_history"] = None

    for name, edit in (("forged", _forged), ("stripped", _stripped)):
        report = verify_bundle(rewrite(bundle, tmp_path / f"{name}.zip", edit), pinned)
        failed = [c for c in report.checks if not c.ok]
        assert failed and failed[0].name == "log key", (name, failed)
