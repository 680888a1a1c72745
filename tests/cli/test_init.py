"""`locard init`, `user add` and `keys` through the real console entry point."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

from verify.note import NoteVerifier


def locard(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )


def test_init_creates_private_keys_and_refuses_to_overwrite(tmp_path: Path) -> None:
    d = tmp_path / "vault"
    first = locard("init", "--origin", "vault.example.org/ledger", data_dir=d)
    assert first.returncode == 0, first.stderr
    keys = d / "keys"
    private = [keys / "log-ed25519.pem", *(keys / "tsa").glob("*.key")]
    assert len(private) >= 2
    for p in private:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    assert (d / "locard.db").exists()
    before = {p: p.read_bytes() for p in private}

    again = locard("init", data_dir=d)
    assert again.returncode == 1
    assert "refusing to overwrite" in again.stderr and "Traceback" not in again.stderr
    assert {p: p.read_bytes() for p in private} == before

    shown = locard("keys", data_dir=d)
    assert shown.returncode == 0
    verifier = NoteVerifier.from_vkey(shown.stdout.strip())
    assert verifier.name == "vault.example.org/ledger"


def test_user_add_prints_token_once(tmp_path: Path) -> None:
    d = tmp_path / "vault"
    assert locard("init", data_dir=d).returncode == 0
    out = locard("user", "add", "alice", "--role", "collector", data_dir=d)
    assert out.returncode == 0, out.stderr
    token = out.stdout.strip()
    assert token.startswith("lcd_") and len(token) > 30
    assert token.encode() not in (d / "locard.db").read_bytes()  # stored hashed only
    dup = locard("user", "add", "alice", "--role", "collector", data_dir=d)
    assert dup.returncode == 1 and "exists" in dup.stderr
    bad = locard("user", "add", "bob", "--role", "wizard", data_dir=d)
    assert bad.returncode == 1 and "unknown role" in bad.stderr and "Traceback" not in bad.stderr


def test_serve_without_init_explains(tmp_path: Path) -> None:
    out = locard("serve", data_dir=tmp_path / "nothing")
    assert out.returncode == 1 and "locard init" in out.stderr


def test_user_token_replaces_the_old_one(tmp_path: Path) -> None:
    d = tmp_path / "vault"
    assert locard("init", data_dir=d).returncode == 0
    first = locard("user", "add", "dana", "--role", "legal", data_dir=d).stdout.strip()
    second = locard("user", "token", "dana", data_dir=d)
    assert second.returncode == 0, second.stderr
    new = second.stdout.strip()
    assert new.startswith("lcd_") and new != first

    from app.auth.service import authenticate
    from app.errors import Unauthorized
    from custody.db import make_engine

    engine = make_engine(f"sqlite:///{d / 'locard.db'}")
    try:
        assert authenticate(engine, new).id == "dana"
        import pytest

        with pytest.raises(Unauthorized):
            authenticate(engine, first)
    finally:
        engine.dispose()
    missing = locard("user", "token", "nobody", data_dir=d)
    assert missing.returncode == 1 and "no principal" in missing.stderr
