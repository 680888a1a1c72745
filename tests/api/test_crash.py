"""The server killed (SIGKILL) in the middle of a large streaming upload, then restarted.

Nothing of the cut upload may become visible: no artifact, no object, no ingest event;
the ledger must still verify from its receipts alone, and the same upload must then go
through. The server runs as `locard serve` in its own process, as an operator runs it.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from app.settings import Settings
from app.vault import init_vault, open_vault
from custody.keyring import Keyring
from tests.api.helpers import auth, staging_files, verifier
from tests.support.downloads import download_sha256
from tests.support.live_server import free_port

REPO = Path(__file__).resolve().parents[2]
MIB = 1 << 20
SIZE = 24 * MIB
#: the sender pauses here, so the kill always lands mid-body
PAUSE_AT = 8 * MIB


def locard(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"locard {' '.join(args)}: {done.stderr}"
    return done.stdout


@contextmanager
def serve(
    env: dict[str, str], data_dir: Path, log: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli.main",
                "serve",
                "--data-dir",
                str(data_dir),
                "--port",
                str(port),
            ],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"server exited: {log.read_text()[-3000:]}"
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"server did not start: {log.read_text()[-3000:]}"
            time.sleep(0.05)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def paused_body(data: bytes, paused: threading.Event, resume: threading.Event) -> Iterator[bytes]:
    for at in range(0, len(data), MIB):
        if at == PAUSE_AT:
            paused.set()
            resume.wait(60)
        yield data[at : at + MIB]


def staged_bytes(store: Path) -> int:
    return sum((store / "staging" / f).stat().st_size for f in staging_files(store))


def objects(store: Path) -> set[str]:
    return {p.name for p in (store / "objects").rglob("*") if p.is_file()}


def test_sigkill_mid_upload_then_restart(db_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "vault"
    store = data_dir / "store"
    log = tmp_path / "server.log"
    env = {
        **os.environ,
        "LOCARD_DATABASE_URL": db_url,
        "LOCARD_SEAL_INTERVAL_MS": "20",
    }
    locard(env, "init", "--data-dir", str(data_dir))
    collector = auth(
        locard(
            env, "user", "add", "ir-bot", "--role", "collector", "--data-dir", str(data_dir)
        ).strip()
    )
    auditor = auth(
        locard(
            env, "user", "add", "audit", "--role", "auditor", "--data-dir", str(data_dir)
        ).strip()
    )

    data = os.urandom(SIZE)
    digest = hashlib.sha256(data).hexdigest()
    params = {"file_name": "fs01-disk.img", "sha256": digest}

    with serve(env, data_dir, log) as (url, proc):
        with httpx.Client(base_url=url, headers=collector, timeout=60) as c:
            case = c.post("/v1/cases", json={"title": "crash", "severity": "P1"}).json()["case"][
                "id"
            ]
            small = c.post(
                f"/v1/cases/{case}/artifacts", params={"file_name": "a.txt"}, content=b"before"
            )
            assert small.status_code == 201, small.text
        before = objects(store)

        paused, resume = threading.Event(), threading.Event()
        outcome: list[object] = []

        def send() -> None:
            try:
                with httpx.Client(base_url=url, headers=collector, timeout=60) as c:
                    outcome.append(
                        c.post(
                            f"/v1/cases/{case}/artifacts",
                            params=params,
                            content=paused_body(data, paused, resume),
                        )
                    )
            except httpx.TransportError as exc:
                outcome.append(exc)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        try:
            assert paused.wait(60), "the upload never got going"
            deadline = time.monotonic() + 30
            while staged_bytes(store) < PAUSE_AT // 2:
                assert time.monotonic() < deadline, "the server staged nothing"
                time.sleep(0.02)
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
        finally:
            resume.set()
            sender.join(60)
        assert outcome and isinstance(outcome[0], httpx.TransportError), outcome

    # What the crash left: staged bytes, never an object.
    assert staged_bytes(store) > 0
    assert objects(store) == before

    # Restart; with no other API process on this store, all staging is stale.
    env["LOCARD_STAGING_CLEANUP_AFTER_S"] = "0"
    with serve(env, data_dir, log) as (url, _):
        assert not staging_files(store), "restart did not clean the staging of the cut upload"
        assert objects(store) == before
        with httpx.Client(base_url=url, headers=collector, timeout=60) as c:
            listed = c.get(f"/v1/cases/{case}/artifacts").json()
            assert [a["file_name"] for a in listed] == ["a.txt"]

        # Every receipt the ledger can produce verifies against the keys made at init.
        keyring = Keyring.load(data_dir / "keys")
        check = verifier(keyring.signer.vkey(), keyring.tsa.root_cert_der)
        with httpx.Client(base_url=url, headers=auditor, timeout=60) as a:
            size = a.get("/v1/ledger/checkpoint").json()["size"]
            assert size >= 2
            for index in range(size):
                receipt = a.get(f"/v1/ledger/receipts/{index}").json()
                report = check.verify_receipt(receipt)
                assert report.ok, (index, report.first_failure)
                assert receipt["event"]["body"].get("sha256") != digest, (
                    "the cut upload was recorded"
                )

        # The retry goes through, whole.
        with httpx.Client(base_url=url, headers=collector, timeout=120) as c:
            r = c.post(f"/v1/cases/{case}/artifacts", params=params, content=data)
            assert r.status_code == 201, r.text
            art = r.json()["artifact"]
            assert art["sha256"] == digest and art["size"] == SIZE
            assert check.verify_receipt(r.json()["receipt"]).ok
            assert (store / "objects" / "sha256" / digest).stat().st_size == SIZE
            assert download_sha256(c, art["id"], "verify retry") == digest
        assert not staging_files(store)


def test_startup_sweeps_only_stale_staging(db_url: str, tmp_path: Path) -> None:
    """Staging younger than the cutoff survives opening the vault: it may belong to another
    API process's upload in progress (and is invisible either way). Older staging goes."""
    age = 3600.0
    settings = Settings(data_dir=tmp_path / "v", database_url=db_url, staging_cleanup_after_s=age)
    init_vault(settings)
    leftover = settings.store_dir / "staging" / "in-flight.tmp"
    leftover.write_bytes(b"x" * 10)
    stale = settings.store_dir / "staging" / "crashed.tmp"
    stale.write_bytes(b"y" * 10)
    old = time.time() - 2 * age
    os.utime(stale, (old, old))
    vault = open_vault(settings, start=False)
    try:
        assert leftover.exists() and not stale.exists()
        assert not list(vault.store.list_keys("objects/"))
    finally:
        vault.close()
