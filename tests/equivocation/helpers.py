"""Driving a vault into the states that must not extend its ledger: a database lost,
restored from an older backup or unlike the archive, a key whose mark is all that is left.

Built on tests/crash's `CrashVault`: `locard init`, `locard user add` and `locard serve`
run as an operator runs them, each in its own process.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from custody.keyring import LOG_MARK
from tests.api.test_crash import REPO
from tests.conftest import PG_ADMIN_URL
from tests.crash.harness import CrashVault
from tests.recovery.test_rebuild import drop_database
from tests.support.live_server import free_port

__all__ = [
    "CrashVault",
    "backup_database",
    "corrupt_middle",
    "drop_database",
    "locard_run",
    "mark_of",
    "one_line",
    "start_refused",
]

SQLITE_FILES = ("", "-wal", "-shm")


def locard_run(v: CrashVault, *args: str) -> subprocess.CompletedProcess[str]:
    """`locard ARGS --data-dir ...` with the vault's environment; the caller checks the outcome."""
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args, "--data-dir", str(v.data_dir)],
        env=v.env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_line(text: str) -> str:
    """Rich wraps long messages at the terminal width; tests read them unwrapped."""
    return " ".join(text.split())


def start_refused(v: CrashVault) -> str:
    """Start `locard serve`; it must exit non-zero without ever answering. Its output."""
    port = free_port()
    log = v.tmp / f"refused-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve", "--data-dir", str(v.data_dir)]
            + ["--port", str(port)],
            env=v.env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while proc.poll() is None:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            except httpx.TransportError:
                pass
            else:
                raise AssertionError(f"the server started and answered {r.status_code}")
            assert time.monotonic() < deadline, "the server neither started nor exited"
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = log.read_text()
    assert proc.returncode != 0, output
    assert "Traceback" not in output, output
    return one_line(output)


def mark_of(v: CrashVault) -> dict[str, Any]:
    """The signing key's high-water mark ({} if it has none)."""
    path = v.data_dir / "keys" / LOG_MARK
    doc: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    return doc


def backup_database(v: CrashVault) -> Callable[[], None]:
    """Copy the database now (server stopped); the returned function restores the copy."""
    if v.db_url.startswith("sqlite"):
        db = Path(v.db_url.removeprefix("sqlite:///"))
        saved = v.tmp / f"backup-{uuid.uuid4().hex[:8]}"
        saved.mkdir()
        for suffix in SQLITE_FILES:
            if Path(f"{db}{suffix}").exists():
                shutil.copy2(f"{db}{suffix}", saved / f"db{suffix}")

        def restore_sqlite() -> None:
            for suffix in SQLITE_FILES:
                Path(f"{db}{suffix}").unlink(missing_ok=True)
                if (saved / f"db{suffix}").exists():
                    shutil.copy2(saved / f"db{suffix}", f"{db}{suffix}")

        return restore_sqlite
    name = v.db_url.rsplit("/", 1)[1]
    copy = f"{name}_bak"
    _pg_admin(f'CREATE DATABASE "{copy}" TEMPLATE "{name}"', name)

    def restore_pg() -> None:
        _pg_admin(f'DROP DATABASE "{name}"', name)
        _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{copy}"', copy)
        _pg_admin(f'DROP DATABASE "{copy}"', copy)

    return restore_pg


def _pg_admin(sql: str, idle: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            # TEMPLATE and DROP need the database to themselves.
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": idle},
            )
            conn.execute(text(sql))
    finally:
        admin.dispose()


def corrupt_middle(db_url: str, span: int = 16 * 4096) -> None:
    """Overwrite `span` bytes in the middle of a SQLite file, its WAL folded in first."""
    path = Path(db_url.removeprefix("sqlite:///"))
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    size = path.stat().st_size
    assert size > 2 * span, f"database too small to damage its middle ({size} bytes)"
    with path.open("r+b") as fh:
        fh.seek(size // 2 - span // 2)
        fh.write(bytes((i * 131 + 7) % 251 for i in range(span)))
