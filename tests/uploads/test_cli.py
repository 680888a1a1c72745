"""`locard upload` end to end: a real subprocess against a live vault.

The CLI runs with its own HOME and without the caller's LOCARD_* variables, so a
developer's real client config can never leak into (or out of) a test.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from sqlmodel import select

from app.db import session
from app.uploads.models import UploadSession
from tests.support.live_server import LiveVault
from tests.uploads.conftest import new_case
from tests.uploads.helpers import payload, row, snapshot, spool
from tests.uploads.proxy import FlakyProxy

ROOT = Path(__file__).resolve().parents[2]
MiB = 1 << 20


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCARD_", "XDG_"))}
    home.mkdir(parents=True, exist_ok=True)
    env["HOME"] = str(home)
    env["COLUMNS"] = "200"
    env.update(extra)
    return env


def locard(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
    )


def trust_args(live: LiveVault, tmp_path: Path) -> list[str]:
    ca = tmp_path / "tsa-root.der"
    ca.write_bytes(live.vault.keyring.tsa.root_cert_der)
    return ["--trusted-key", live.vault.ledger.log_key, "--trusted-tsa-ca", str(ca)]


def sessions_of(live: LiveVault, principal: str) -> list[UploadSession]:
    with session(live.vault.engine) as s:
        rows = list(
            s.exec(select(UploadSession).where(UploadSession.principal_id == principal)).all()
        )
        for r in rows:
            s.expunge(r)
        return rows


def assert_clean(out: subprocess.CompletedProcess[str], *secrets: str) -> None:
    text = out.stdout + out.stderr
    assert "Traceback" not in text, text
    for secret in secrets:
        assert secret not in text, "a secret was printed"


def test_upload_end_to_end_and_offline_verify(live: LiveVault, tmp_path: Path) -> None:
    case = new_case(live)
    files = []
    for i, size in enumerate((3 * MiB + 17, 1234)):
        f = tmp_path / f"evidence-{i}.bin"
        f.write_bytes(payload(size, seed=i))
        files.append(f)
    env = cli_env(tmp_path / "home", LOCARD_SERVER=live.url, LOCARD_TOKEN=live.tokens["collector"])
    out = locard(
        "upload",
        "--case",
        case,
        *map(str, files),
        "--chunk-mib",
        "1",
        "--source-host",
        "fs01",
        *trust_args(live, tmp_path),
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert_clean(out, live.tokens["collector"])
    for f in files:
        receipt_path = f.with_name(f.name + ".receipt.json")
        receipt = json.loads(receipt_path.read_text())
        body = receipt["event"]["body"]
        assert body["sha256"] == hashlib.sha256(f.read_bytes()).hexdigest()
        assert body["file_name"] == f.name and body["source_host"] == "fs01"
        assert not f.with_name(f.name + ".locard-upload.json").exists()
        check = locard(
            "verify", str(receipt_path), "--artifact", str(f), *trust_args(live, tmp_path), env=env
        )
        assert check.returncode == 0, check.stdout + check.stderr
        assert "VERIFIED — every check passed" in check.stdout
    # The receipt is bound to the bytes: a changed file fails offline verification.
    files[1].write_bytes(b"tampered" + files[1].read_bytes()[8:])
    bad = locard(
        "verify",
        str(files[1]) + ".receipt.json",
        "--artifact",
        str(files[1]),
        *trust_args(live, tmp_path),
        env=env,
    )
    assert bad.returncode == 1

    # Uploading again never overwrites the earlier receipt.
    again = locard("upload", "--case", case, str(files[0]), "--chunk-mib", "1", env=env)
    assert again.returncode == 0, again.stderr
    assert files[0].with_name(files[0].name + ".receipt.2.json").exists()


def _wait(cond: Callable[[], bool], timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _spool_unlocked(path: Path) -> bool:
    import fcntl

    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def test_killed_upload_resumes_without_resending(live: LiveVault, tmp_path: Path) -> None:
    case = new_case(live)
    data = payload(6 * MiB + 333, seed=3)
    f = tmp_path / "memory.raw"
    f.write_bytes(data)
    sidecar = f.with_name(f.name + ".locard-upload.json")
    token = live.tokens["collector"]
    with FlakyProxy(int(live.url.rsplit(":", 1)[1]), rate=3 * MiB) as proxy:
        env = cli_env(tmp_path / "home", LOCARD_SERVER=proxy.url, LOCARD_TOKEN=token)
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "upload", "--case", case, str(f)]
            + ["--chunk-mib", "1"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            _wait(sidecar.exists, what="the resume state")
            uid = json.loads(sidecar.read_text())["upload_id"]
            _wait(
                lambda: (r := row(live, uid)) is not None and r.upload_offset >= 2 * MiB,
                what="2 MiB on the server",
            )
            time.sleep(0.15)  # a third of the next 1 MiB chunk is on its way (3 MiB/s)
        finally:
            proc.send_signal(signal.SIGKILL)
            proxy.sever()
            proc.communicate(timeout=30)
        # The server keeps what reached it of the chunk in flight, then lets go.
        _wait(proxy.idle, what="the proxy to drop the link")
        _wait(lambda: _spool_unlocked(spool(live, uid)), what="the PATCH to end")
        killed_at = row(live, uid)
        assert killed_at is not None and killed_at.state == "open"
        assert 2 * MiB < killed_at.upload_offset < 3 * MiB  # part of a chunk was kept
        assert killed_at.bytes_received == killed_at.upload_offset
        assert spool(live, uid).read_bytes() == data[: killed_at.upload_offset]
        assert sidecar.exists()

        # Run the same command again, on a link that is fast now.
        proxy.rate = None
        wire_before = proxy.up_bytes
        out = locard("upload", "--case", case, str(f), "--chunk-mib", "1", env=env)
        sent_now = proxy.up_bytes - wire_before
    assert out.returncode == 0, out.stderr
    assert_clean(out, token)
    assert f"resuming upload {uid} at byte {killed_at.upload_offset}" in out.stderr.replace(
        "\n", " "
    )
    done = row(live, uid)
    assert done is not None and done.state == "completed"
    remaining = len(data) - killed_at.upload_offset
    assert done.bytes_received - killed_at.bytes_received == remaining
    # On the wire too: the rest of the file plus a few KiB of HTTP, not the file again.
    assert remaining <= sent_now < remaining + 64 * 1024
    assert len(sessions_of(live, "collector")) == 1
    assert not sidecar.exists() and f.with_name(f.name + ".receipt.json").exists()


def test_connection_cut_mid_transfer_is_retried(live_sqlite: LiveVault, tmp_path: Path) -> None:
    live = live_sqlite
    case = new_case(live)
    data = payload(3 * MiB, seed=5)
    f = tmp_path / "triage.zip"
    f.write_bytes(data)
    token = live.tokens["collector"]
    with FlakyProxy(int(live.url.rsplit(":", 1)[1]), cut_after=MiB + MiB // 2) as proxy:
        env = cli_env(tmp_path / "home", LOCARD_SERVER=proxy.url, LOCARD_TOKEN=token)
        out = locard("upload", "--case", case, str(f), "--chunk-mib", "1", env=env)
        assert proxy.cut_done
    assert out.returncode == 0, out.stderr
    assert "retrying" in out.stderr
    (s,) = sessions_of(live, "collector")
    assert s.state == "completed"
    # Every byte that reached the server was kept; none was sent to it twice.
    assert s.bytes_received == len(data)


def test_config_file_env_and_options_precedence(live_sqlite: LiveVault, tmp_path: Path) -> None:
    live = live_sqlite
    case = new_case(live)
    f = tmp_path / "a.log"
    f.write_bytes(payload(5000))
    token = live.tokens["collector"]
    wrong = "lcd_" + "x" * 43
    home = tmp_path / "home"
    cfg = home / ".config" / "locard" / "client.toml"
    cfg.parent.mkdir(parents=True)

    # The file alone is enough.
    cfg.write_text(f'server = "{live.url}"\ntoken = "{token}"\n')
    cfg.chmod(0o600)
    out = locard("upload", "--case", case, str(f), env=cli_env(home))
    assert out.returncode == 0, out.stderr
    assert_clean(out, token)

    # The environment beats the file.
    cfg.write_text(f'server = "{live.url}"\ntoken = "{wrong}"\n')
    out = locard("upload", "--case", case, str(f), env=cli_env(home, LOCARD_TOKEN=token))
    assert out.returncode == 0, out.stderr

    # The option beats the environment; a refused token is reported, never printed.
    env = cli_env(home, LOCARD_TOKEN=wrong)
    out = locard("upload", "--case", case, str(f), "--token", token, env=env)
    assert out.returncode == 0, out.stderr
    out = locard("upload", "--case", case, str(f), env=env)
    assert out.returncode == 1
    assert "refused" in out.stderr and "token" in out.stderr
    assert_clean(out, wrong, token)

    # LOCARD_CLIENT_CONFIG points elsewhere, and must exist when named.
    other = tmp_path / "elsewhere.toml"
    other.write_text(f'server = "{live.url}"\ntoken = "{token}"\n')
    out = locard(
        "upload", "--case", case, str(f), env=cli_env(home, LOCARD_CLIENT_CONFIG=str(other))
    )
    assert out.returncode == 0, out.stderr
    missing = cli_env(home, LOCARD_CLIENT_CONFIG=str(tmp_path / "nope.toml"))
    out = locard("upload", "--case", case, str(f), env=missing)
    assert out.returncode == 2 and "does not exist" in out.stderr
    assert_clean(out)


def test_signed_manifest_end_to_end(live_sqlite: LiveVault, tmp_path: Path) -> None:
    live = live_sqlite
    key = Ed25519PrivateKey.generate()
    pub = base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
    token = live.add_user("signer", "collector", pub)
    case = new_case(live, "signer")
    pem = tmp_path / "collector.pem"
    pem.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    f = tmp_path / "mail.pst"
    f.write_bytes(payload(MiB + 5, seed=9))
    env = cli_env(tmp_path / "home", LOCARD_SERVER=live.url, LOCARD_TOKEN=token)
    out = locard(
        "upload", "--case", case, str(f), "--sign-key", str(pem), "--chunk-mib", "1", env=env
    )
    assert out.returncode == 0, out.stderr
    receipt_path = f.with_name(f.name + ".receipt.json")
    body = json.loads(receipt_path.read_text())["event"]["body"]
    assert body["collector_signature"]["public_key"] == pub
    check = locard(
        "verify",
        str(receipt_path),
        "--artifact",
        str(f),
        "--json",
        *trust_args(live, tmp_path),
        env=env,
    )
    assert check.returncode == 0, check.stdout
    names = [c["name"] for c in json.loads(check.stdout)["reports"][0]["checks"]]
    assert any("collector" in n for n in names), names

    # A key the vault does not know for this collector is refused before any byte moves.
    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
        )
    )
    g = tmp_path / "other.bin"
    g.write_bytes(payload(2000, seed=10))
    before = snapshot(live)
    out = locard("upload", "--case", case, str(g), "--sign-key", str(stranger), env=env)
    assert out.returncode == 1 and "signature" in out.stderr
    assert_clean(out, token)
    assert snapshot(live) == before
    assert not g.with_name(g.name + ".locard-upload.json").exists()
    assert len(sessions_of(live, "signer")) == 1


def test_clear_failures_without_tracebacks(live_sqlite: LiveVault, tmp_path: Path) -> None:
    live = live_sqlite
    case = new_case(live)
    token = live.tokens["collector"]
    good = tmp_path / "good.bin"
    good.write_bytes(payload(1000))
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    env = cli_env(tmp_path / "home", LOCARD_SERVER=live.url, LOCARD_TOKEN=token)

    out = locard("upload", "--case", case, str(good), env=cli_env(tmp_path / "home"))
    assert out.returncode == 2 and "no server" in out.stderr
    out = locard(
        "upload", "--case", case, str(good), env=cli_env(tmp_path / "home", LOCARD_SERVER=live.url)
    )
    assert out.returncode == 2 and "no API token" in out.stderr
    out = locard("upload", "--case", case, str(good), "--server", "ftp://x", env=env)
    assert out.returncode == 2 and "http" in out.stderr

    # One bad file does not stop the others; the exit code says something failed.
    out = locard(
        "upload", "--case", case, str(tmp_path / "missing.bin"), str(empty), str(good), env=env
    )
    assert out.returncode == 1, out.stderr
    assert "missing.bin" in out.stderr and "empty" in out.stderr
    assert "2 of 3" in out.stderr
    assert good.with_name("good.bin.receipt.json").exists()

    out = locard("upload", "--case", "IR-1999-0042", str(good), env=env)
    assert out.returncode == 1 and "no case" in out.stderr

    dead = cli_env(tmp_path / "home", LOCARD_SERVER="http://127.0.0.1:9", LOCARD_TOKEN=token)
    out = locard("upload", "--case", case, str(good), "--retries", "0", env=dead)
    assert out.returncode == 1 and "127.0.0.1:9" in out.stderr

    for o in (out,):
        assert_clean(o, token)


def test_stale_resume_state_starts_over(live_sqlite: LiveVault, tmp_path: Path) -> None:
    live = live_sqlite
    case = new_case(live)
    f = tmp_path / "disk.dd"
    f.write_bytes(payload(2 * MiB, seed=11))
    token = live.tokens["collector"]
    env = cli_env(tmp_path / "home", LOCARD_SERVER=live.url, LOCARD_TOKEN=token)
    with live.client("collector") as c:
        old = c.post(
            f"/v1/cases/{case}/uploads",
            json={"file_name": "disk.dd", "size": 10, "sha256": "0" * 64},
        ).json()["upload_id"]
    sidecar = f.with_name(f.name + ".locard-upload.json")
    sidecar.write_text(
        json.dumps(
            {
                "format": "locard-upload-state/1",
                "upload_id": old,
                "server": live.url,
                "case": case,
                "sha256": "0" * 64,
                "size": 10,
                "mtime_ns": 1,
            }
        )
    )
    out = locard("upload", "--case", case, str(f), "--chunk-mib", "1", env=env)
    assert out.returncode == 0, out.stderr
    assert "starting over" in out.stderr
    assert row(live, old) is None  # the stale session was abandoned, not left to expire
    sidecar.write_text("{not json")
    out = locard("upload", "--case", case, str(f), "--chunk-mib", "1", env=env)
    assert out.returncode == 0 and "ignoring unreadable resume state" in out.stderr


@pytest.mark.parametrize("size", [1, 1 << 20])
def test_chunk_boundaries(live_sqlite: LiveVault, tmp_path: Path, size: int) -> None:
    live = live_sqlite
    case = new_case(live)
    f = tmp_path / "x.bin"
    f.write_bytes(payload(size, seed=size))
    env = cli_env(tmp_path / "home", LOCARD_SERVER=live.url, LOCARD_TOKEN=live.tokens["collector"])
    out = locard("upload", "--case", case, str(f), "--chunk-mib", "1", env=env)
    assert out.returncode == 0, out.stderr


def test_rerun_after_the_server_completed_fetches_the_receipt(
    live_sqlite: LiveVault, tmp_path: Path
) -> None:
    """Killed after the vault completed but before the receipt was saved: the re-run gets
    the same artifact (and a fresh receipt) instead of uploading a second copy."""
    live = live_sqlite
    case = new_case(live)
    f = tmp_path / "dump.bin"
    data = payload(70_000, seed=12)
    f.write_bytes(data)
    with live.client("collector") as c:
        uid = c.post(
            f"/v1/cases/{case}/uploads",
            json={
                "file_name": f.name,
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            },
        ).json()["upload_id"]
        c.patch(f"/v1/uploads/{uid}", content=data, headers={"Upload-Offset": "0"})
        art = c.post(f"/v1/uploads/{uid}/complete").json()["artifact"]["id"]
    f.with_name(f.name + ".locard-upload.json").write_text(
        json.dumps(
            {
                "format": "locard-upload-state/1",
                "upload_id": uid,
                "server": live.url,
                "case": case,
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
                "mtime_ns": f.stat().st_mtime_ns,
            }
        )
    )
    before = snapshot(live)
    env = cli_env(tmp_path / "home", LOCARD_SERVER=live.url, LOCARD_TOKEN=live.tokens["collector"])
    out = locard("upload", "--case", case, str(f), env=env)
    assert out.returncode == 0, out.stderr
    receipt = json.loads(f.with_name(f.name + ".receipt.json").read_text())
    assert receipt["event"]["body"]["artifact"] == art
    assert snapshot(live).ledger_size == before.ledger_size  # nothing ingested twice
