"""A vault served by `locard serve` in its own process, killed and restarted by the tests.

The server helpers come from tests/api/test_crash.py; this adds what every crash test
asserts after a restart: acknowledged receipts still hold (same index, same bytes, and
the new checkpoint consistent with the one they were given), what the ledger and the
database say now, and the offline audit.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from custody.db import make_engine
from custody.faults import ENV
from custody.keyring import Keyring
from tests.api.helpers import auth, verifier
from tests.api.test_crash import REPO, locard, serve
from verify.checkpoint import Checkpoint
from verify.merkle import verify_consistency
from verify.note import NoteVerifier, verify_checkpoint_note

#: the largest page /v1/ledger/entries serves is larger than any ledger these tests make
ENTRIES_PAGE = 500


@dataclass
class Acked:
    """A write the server answered with 201: its receipt is a promise the vault must keep."""

    receipt: dict[str, Any]
    artifact: dict[str, Any] | None = None

    @property
    def index(self) -> int:
        return int(self.receipt["leaf_index"])


@dataclass
class CrashVault:
    tmp: Path
    db_url: str
    data_dir: Path = field(init=False)
    env: dict[str, str] = field(init=False)
    collector: dict[str, str] = field(init=False)
    auditor: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.data_dir = self.tmp / "vault"
        self.env = {
            **os.environ,
            "LOCARD_DATABASE_URL": self.db_url,
            "LOCARD_SEAL_INTERVAL_MS": "20",
            # No other API process shares this store: whatever a crash left staged is stale.
            "LOCARD_STAGING_CLEANUP_AFTER_S": "0",
        }
        self.env.pop(ENV, None)
        locard(self.env, "init", "--data-dir", str(self.data_dir))
        self.collector = auth(self._user("ir-bot", "collector"))
        self.auditor = auth(self._user("audit", "auditor"))
        keyring = Keyring.load(self.data_dir / "keys")
        self.origin = keyring.origin
        self.vkey = keyring.signer.vkey()
        self.check = verifier(self.vkey, keyring.tsa.root_cert_der)
        self.note_verifier = NoteVerifier.from_vkey(self.vkey)

    def _user(self, name: str, role: str) -> str:
        out = locard(
            self.env, "user", "add", name, "--role", role, "--data-dir", str(self.data_dir)
        )
        return out.strip().splitlines()[-1]

    @property
    def store(self) -> Path:
        return self.data_dir / "store"

    @property
    def log(self) -> Path:
        return self.tmp / "server.log"

    def serve(
        self, crash_at: str | None = None
    ) -> AbstractContextManager[tuple[str, subprocess.Popen[bytes]]]:
        env = dict(self.env)
        if crash_at is not None:
            env[ENV] = crash_at
        return serve(env, self.data_dir, self.log)

    def audit(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cli.main", "audit", "--data-dir", str(self.data_dir)],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )

    # -- the database as the crash left it (server down) -------------------------------

    def db(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        engine = make_engine(self.db_url)
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(text(sql), params)]
        finally:
            engine.dispose()

    def db_ledger_size(self) -> int:
        return int(self.db("SELECT coalesce(max(size), 0) FROM checkpoints")[0][0])

    # -- the archive ---------------------------------------------------------------------

    def archived_seals(self) -> set[int]:
        return {int(p.stem) for p in (self.store / "ledger" / "seals").glob("*.json")}

    def archived_tokens(self) -> set[int]:
        return {int(p.parent.name) for p in (self.store / "ledger" / "timestamps").glob("*/*.json")}

    def objects(self) -> set[str]:
        """SHA-256 of every evidence object in the store."""
        return {p.name for p in (self.store / "objects").rglob("*") if p.is_file()}

    # -- through the API -----------------------------------------------------------------

    def client(self, url: str, who: dict[str, str], timeout: float = 60) -> httpx.Client:
        return httpx.Client(base_url=url, headers=who, timeout=timeout)

    def entries(self, url: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        with self.client(url, self.auditor) as a:
            size = a.get("/v1/ledger/checkpoint").json()["size"]
            while len(out) < size:
                end = min(size, len(out) + ENTRIES_PAGE)
                r = a.get("/v1/ledger/entries", params={"start": len(out), "end": end})
                assert r.status_code == 200, r.text
                out += r.json()["entries"]
        assert [e["index"] for e in out] == list(range(len(out)))
        return out

    def verified_checkpoint(self, note: str) -> Checkpoint:
        return verify_checkpoint_note(note.encode(), self.note_verifier, origin=self.origin)

    def check_acked(self, url: str, acked: list[Acked]) -> None:
        """Each acknowledged event is where its receipt put it, byte for byte, and the
        vault's history since then extends the checkpoint the receipt was given."""
        assert acked, "the test acknowledged nothing"
        with self.client(url, self.auditor) as a:
            latest = a.get("/v1/ledger/checkpoint").json()
            now = self.verified_checkpoint(latest["checkpoint"])
            consistent: set[int] = set()
            for ack in acked:
                old = ack.receipt
                report = self.check.verify_receipt(old)
                assert report.ok, (ack.index, report.first_failure)
                fresh = a.get(f"/v1/ledger/receipts/{ack.index}").json()
                assert fresh["event"] == old["event"], f"event {ack.index} changed"
                assert fresh["leaf_hash"] == old["leaf_hash"], f"event {ack.index} changed"
                report = self.check.verify_receipt(fresh)
                assert report.ok, (ack.index, report.first_failure)
                then = self.verified_checkpoint(old["checkpoint"])
                if then.size in consistent:
                    continue
                proof = a.get(
                    "/v1/ledger/proofs/consistency",
                    params={"first": then.size, "second": now.size},
                ).json()["proof"]
                verify_consistency(
                    then.size, now.size, [bytes.fromhex(h) for h in proof], then.root, now.root
                )
                consistent.add(then.size)
        with self.client(url, self.collector) as c:
            for ack in acked:
                if ack.artifact is None:
                    continue
                r = c.get(f"/v1/artifacts/{ack.artifact['id']}")
                assert r.status_code == 200, r.text
                art = r.json()
                assert art["sha256"] == ack.artifact["sha256"]
                assert art["ingest_index"] == ack.index

    def visible(self, url: str, case: str) -> list[dict[str, Any]]:
        with self.client(url, self.collector) as c:
            r = c.get(f"/v1/cases/{case}/artifacts")
            assert r.status_code == 200, r.text
            listed: list[dict[str, Any]] = r.json()
            return listed


def upload(c: httpx.Client, case: str, name: str, data: bytes) -> Acked:
    r = c.post(
        f"/v1/cases/{case}/artifacts",
        params={"file_name": name, "sha256": hashlib.sha256(data).hexdigest()},
        content=data,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    return Acked(body["receipt"], body["artifact"])


def new_case(c: httpx.Client, title: str) -> tuple[str, Acked]:
    r = c.post("/v1/cases", json={"title": title, "severity": "P2"})
    assert r.status_code == 201, r.text
    return r.json()["case"]["id"], Acked(r.json()["receipt"])


def ingest_events(entries: list[dict[str, Any]], sha256: str) -> list[dict[str, Any]]:
    return [
        e
        for e in entries
        if e["event"]["type"] == "ingest" and e["event"]["body"]["sha256"] == sha256
    ]
