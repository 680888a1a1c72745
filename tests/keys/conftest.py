"""One SoftHSM2 token shared by every PKCS#11 test of this directory."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from custody.pkcs11_keys import PIN_ENV

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PIN = "246810"


@pytest.fixture(scope="session")
def softhsm_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One SoftHSM2 token for the session: the library reads its configuration once per
    process, at its first use, so every test shares this token (with its own key labels)."""
    if shutil.which("softhsm2-util") is None or not Path(MODULE).exists():
        pytest.skip("SoftHSM2 is not installed (scripts/services.sh installs it)")
    base = tmp_path_factory.mktemp("softhsm")
    (base / "tokens").mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOFTHSM2_CONF", str(conf))
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", "locard-test"]
            + ["--pin", PIN, "--so-pin", "13579"],
            check=True,
            capture_output=True,
        )
        yield "locard-test"


@pytest.fixture
def token(softhsm_token: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(PIN_ENV, PIN)
    return softhsm_token
