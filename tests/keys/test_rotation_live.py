"""A rotated vault serves its key history, and `locard verify` follows it (SQLite, PostgreSQL)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.vault import init_vault
from cli.keys import rotate
from tests.support.live_server import live_vault, make_settings

REPO = Path(__file__).resolve().parents[2]


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
