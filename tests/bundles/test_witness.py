"""`locard witness`: growth passes; a rewritten, truncated or re-keyed vault is caught."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.bundles.conftest import cli
from tests.support.live_server import LiveVault, live_vault, make_settings


def _events(live: LiveVault, n: int, title: str = "Credential stuffing") -> None:
    with live.client("collector") as c:
        for i in range(n):
            r = c.post("/v1/cases", json={"title": f"{title} {i}", "severity": "P3"})
            assert r.status_code == 201, r.text


def witness(live: LiveVault, state: Path, *extra: str) -> Any:
    env = {"LOCARD_TOKEN": live.tokens["auditor"], "XDG_CONFIG_HOME": str(state.parent)}
    return cli("witness", live.url, "--state", str(state), *extra, env=env)


def _state(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def test_two_runs_with_growth(live: LiveVault, tmp_path: Path) -> None:
    state = tmp_path / "witness.json"
    _events(live, 2)
    first = witness(live, state)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "trust on first use" in first.stdout
    size1 = _state(state)["size"]
    assert _state(state)["log_key"] == live.vault.ledger.log_key

    _events(live, 3)
    second = witness(live, state)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "trust on first use" not in second.stdout
    assert "is a prefix of the new one" in second.stdout
    assert _state(state)["size"] > size1
    # Nothing new: still consistent.
    third = witness(live, state, "--json")
    assert third.returncode == 0
    assert json.loads(third.stdout)["ok"] is True


#: The forger copies the signing key but not its high-water mark, which would refuse to sign
#: the sizes the honest vault already signed (tests/equivocation): the witness must catch a
#: key used that way.
WITHOUT_MARK = shutil.ignore_patterns("*.mark", "*.mark.lock")


def test_rewritten_history_is_caught(tmp_path: Path) -> None:
    """A second vault with the same keys but another history, as a vault that rebuilt its
    ledger would be: its checkpoints verify, but no consistency proof links them."""
    honest = make_settings(tmp_path / "a", f"sqlite:///{tmp_path / 'a.db'}")
    state = tmp_path / "witness.json"
    with live_vault(honest) as a:
        _events(a, 3)
        assert witness(a, state).returncode == 0
    saved = state.read_text()
    size = _state(state)["size"]

    forged = make_settings(tmp_path / "b", f"sqlite:///{tmp_path / 'b.db'}")
    shutil.copytree(honest.keys_dir, forged.keys_dir, ignore=WITHOUT_MARK)
    with live_vault(forged) as b:
        assert b.vault.ledger.log_key == _state(state)["log_key"]
        _events(b, 6, title="Rewritten")
        assert b.vault.ledger.size() > size
        r = witness(b, state)
        assert r.returncode == 1, r.stdout + r.stderr
        assert "ConsistencyProofError" in r.stdout and "consistency" in r.stdout
        assert state.read_text() == saved  # the last good checkpoint is kept as evidence

    shrunk = make_settings(tmp_path / "c", f"sqlite:///{tmp_path / 'c.db'}")
    shutil.copytree(honest.keys_dir, shrunk.keys_dir, ignore=WITHOUT_MARK)
    with live_vault(shrunk) as c:
        _events(c, 1)
        assert c.vault.ledger.size() < size
        r = witness(c, state)
        assert r.returncode == 1
        assert "shrank" in r.stdout
    assert state.read_text() == saved


def test_same_size_other_root_is_caught(tmp_path: Path) -> None:
    honest = make_settings(tmp_path / "a", f"sqlite:///{tmp_path / 'a.db'}")
    state = tmp_path / "witness.json"
    with live_vault(honest) as a:
        _events(a, 2)
        assert witness(a, state).returncode == 0
        size = a.vault.ledger.size()
    fork = make_settings(tmp_path / "b", f"sqlite:///{tmp_path / 'b.db'}")
    shutil.copytree(honest.keys_dir, fork.keys_dir, ignore=WITHOUT_MARK)
    with live_vault(fork) as b:
        _events(b, 2, title="Fork")
        assert b.vault.ledger.size() == size
        r = witness(b, state)
        assert r.returncode == 1
        assert "different roots" in r.stdout


def test_changed_key_is_caught(tmp_path: Path) -> None:
    state = tmp_path / "witness.json"
    with live_vault(make_settings(tmp_path / "a", f"sqlite:///{tmp_path / 'a.db'}")) as a:
        _events(a, 1)
        assert witness(a, state).returncode == 0
    # Same origin, new keys: what a vault that lost (or swapped) its signing key looks like.
    with live_vault(make_settings(tmp_path / "b", f"sqlite:///{tmp_path / 'b.db'}")) as b:
        _events(b, 3)
        r = witness(b, state)
        assert r.returncode == 1
        assert "KeyMismatch" in r.stdout
        # Pinning explicitly the vault's real key on a first run passes; a wrong pin fails.
        fresh = tmp_path / "fresh.json"
        r = witness(b, fresh, "--trusted-key", _state(state)["log_key"])
        assert r.returncode == 1 and not fresh.exists()
        r = witness(b, fresh, "--trusted-key", b.vault.ledger.log_key)
        assert r.returncode == 0, r.stdout + r.stderr


def test_unusable_runs_exit_2_and_keep_state(live: LiveVault, tmp_path: Path) -> None:
    state = tmp_path / "witness.json"
    _events(live, 1)
    assert witness(live, state).returncode == 0
    saved = state.read_text()
    env = {"LOCARD_TOKEN": "not-a-token", "XDG_CONFIG_HOME": str(tmp_path)}
    r = cli("witness", live.url, "--state", str(state), env=env)
    assert r.returncode == 2 and "401" in r.stderr
    r = cli("witness", "http://127.0.0.1:9", "--state", str(state), env=env)
    assert r.returncode == 2 and "cannot reach" in r.stderr
    assert state.read_text() == saved
    state.write_text("{not json")
    r = witness(live, state)
    assert r.returncode == 2 and "unreadable" in r.stderr
