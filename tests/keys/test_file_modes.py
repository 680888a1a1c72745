"""Keys, evidence and the database are private to the vault's user (issue: key custody)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from custody.keyring import Keyring
from tests.support.live_server import LiveVault

#: private keys, the high-water mark and the exported-root record
_SECRET_SUFFIXES = (".key", ".mark", ".exported")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _modes_below(root: Path) -> dict[Path, int]:
    return {
        Path(d) / n: _mode(Path(d) / n) for d, dirs, files in os.walk(root) for n in dirs + files
    }


def test_a_running_vault_keeps_keys_evidence_and_database_private(live: LiveVault) -> None:
    with live.client("collector") as c:
        r = c.post("/v1/cases", json={"title": "modes", "severity": "P3"})
        assert r.status_code == 201, r.text
        case = r.json()["case"]["id"]
        r = c.post(f"/v1/cases/{case}/artifacts", params={"file_name": "a.bin"}, content=b"x" * 99)
        assert r.status_code == 201, r.text
    data_dir = live.settings.data_dir
    assert _mode(data_dir) == 0o700
    modes = _modes_below(data_dir)
    assert any(p.suffix == ".key" for p in modes)
    keys = live.settings.keys_dir
    for private in (keys / "log-ed25519.pem", keys / "report-signer.pem"):
        if private.exists():
            assert _mode(private) == 0o600, private
    for path, mode in modes.items():
        if path.is_dir():
            # Every directory is private, so nothing below is reachable by other users.
            assert mode == 0o700, (path, oct(mode))
        elif path.suffix in _SECRET_SUFFIXES:
            assert mode == 0o600, (path, oct(mode))
        else:
            assert mode & 0o022 == 0, (path, oct(mode))
    store_objects = live.settings.store_dir / "objects"
    objects = [p for p in modes if p.is_relative_to(store_objects) and p.is_file()]
    assert objects and all(modes[p] == 0o400 for p in objects)
    if live.settings.db_url.startswith("sqlite"):
        db = Path(live.settings.db_url.removeprefix("sqlite:///"))
        assert _mode(db) == 0o600


def test_loading_tightens_a_key_directory_made_loose(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    Keyring.create(keys, "test.locard.example/ledger")
    os.chmod(keys, 0o755)
    os.chmod(keys / "tsa", 0o755)
    Keyring.load(keys)
    assert _mode(keys) == 0o700 and _mode(keys / "tsa") == 0o700
