"""The signing key's high-water mark: the signer itself refuses a fork, even when the
database and the archive are both gone, and a rolled-back or crashed seal never wedges it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import stat
from functools import partial
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from app.audit import audit
from app.vault import init_vault, open_vault
from custody import migrations
from custody.archive import archived_root
from custody.consistency import VaultInconsistent
from custody.db import make_engine
from custody.keyring import LOG_KEY, LOG_MARK, Keyring
from custody.ledger import EventDraft, Ledger
from custody.signing import NoteSigner, NoteTextError
from custody.watermark import HighWaterMark, Mark, WouldEquivocate
from storage.local import LocalWormStore
from tests.equivocation.helpers import CrashVault, drop_database, mark_of
from tests.support.live_server import live_vault, make_settings
from verify.checkpoint import Checkpoint

ORIGIN = "test.locard.example/ledger"


def draft(i: int = 0) -> EventDraft:
    return EventDraft("annotation", "tester", "collector", {"i": i}, "IR-1", "item")


def body(size: int, root: bytes) -> bytes:
    return Checkpoint(ORIGIN, size, root).body()


def test_signer_refuses_below_or_beside_the_mark(tmp_path: Path) -> None:
    mark = HighWaterMark(tmp_path / LOG_MARK)
    signer = NoteSigner.generate(ORIGIN).with_mark(mark)
    root = hashlib.sha256(b"five").digest()
    signer.sign_note(body(5, root))
    signer.signed_durably(5, root, b"")
    assert mark.read() == Mark(5, root, b"")
    assert stat.S_IMODE((tmp_path / LOG_MARK).stat().st_mode) == 0o600
    for size, other in ((5, bytes(32)), (4, root), (1, bytes(32))):
        with pytest.raises(WouldEquivocate) as info:
            signer.sign_note(body(size, other))
        assert info.value.size == size
    # The same checkpoint again is the same signature: harmless, and allowed.
    assert signer.sign_note(body(5, root)) == signer.sign_note(body(5, root))
    signer.sign_note(body(6, bytes(32)))
    # The mark never moves down, whoever reports an older checkpoint.
    signer.signed_durably(3, bytes(32), b"")
    assert mark.read() == Mark(5, root, b"")
    with pytest.raises(NoteTextError):
        signer.sign_note(b"not a checkpoint\n")


def test_signer_refuses_a_size_the_archive_holds_with_another_root(
    ledger: Ledger, tmp_path: Path
) -> None:
    """A key whose mark was lost or left behind still cannot fork the archive."""
    ledger.seal([draft()])
    assert ledger.store is not None
    mark = HighWaterMark(tmp_path / "elsewhere.mark").watching(partial(archived_root, ledger.store))
    signer = ledger.signer.with_mark(mark)
    with pytest.raises(WouldEquivocate, match="write-once archive"):
        signer.sign_note(body(1, bytes(32)))
    signer.sign_note(body(1, ledger.checkpoint(1).root))


def test_only_the_mark_is_left_and_the_signer_still_refuses(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "vault", db_url)
    with live_vault(settings) as live, live.client("collector") as c:
        assert c.post("/v1/cases", json={"title": "x", "severity": "P3"}).status_code == 201
        signed = live.vault.ledger.checkpoint()
    # The key and its mark move to a new data directory; database and archive are gone.
    drop_database(db_url, settings.data_dir)
    moved = make_settings(tmp_path / "moved", db_url)
    moved.keys_dir.mkdir(parents=True)
    for name in (LOG_KEY, LOG_MARK, "vault.json", "tsa"):
        src = settings.keys_dir / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, moved.keys_dir / name)

    with pytest.raises(VaultInconsistent, match=f"has signed a checkpoint of size {signed.size}"):
        open_vault(moved, start=False)

    # The signer on its own, with no start-up check in front of it.
    keyring = Keyring.load(moved.keys_dir)
    engine = make_engine(db_url)
    migrations.upgrade(engine)
    try:
        fresh = Ledger(engine, ORIGIN, keyring.signer, [], LocalWormStore(moved.store_dir))
        for n in range(1, signed.size + 1):
            with pytest.raises(WouldEquivocate):
                fresh.seal([draft(i) for i in range(n)])
        assert fresh.size() == 0, "the refused seal was committed"
        assert not list(fresh.store.list_keys("ledger/")), "the refused seal was archived"  # type: ignore[union-attr]
        with pytest.raises(WouldEquivocate):
            keyring.signer.sign_note(body(signed.size, bytes(32)))
    finally:
        engine.dispose()
    assert keyring.signer.mark is not None and keyring.signer.mark.read() == Mark(
        signed.size, signed.root, signed.note
    )


FAIL_CHECKPOINT = {
    "sqlite": [
        "CREATE TRIGGER fail_checkpoint BEFORE INSERT ON checkpoints "
        "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION fail_checkpoint() RETURNS trigger AS "
        "$$ BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER fail_checkpoint BEFORE INSERT ON checkpoints "
        "FOR EACH ROW EXECUTE FUNCTION fail_checkpoint()",
    ],
}
HEAL = {
    "sqlite": ["DROP TRIGGER fail_checkpoint"],
    "postgresql": ["DROP TRIGGER fail_checkpoint ON checkpoints", "DROP FUNCTION fail_checkpoint"],
}


def test_a_seal_rolled_back_after_signing_does_not_wedge(db_url: str, tmp_path: Path) -> None:
    """The checkpoint is signed, then its transaction rolls back: the next seal signs the
    same size over other events, and must be allowed to."""
    settings = make_settings(tmp_path / "vault", db_url)
    init_vault(settings)
    vault = open_vault(settings, start=False)
    try:
        dialect = vault.engine.dialect.name
        size = vault.ledger.size()
        before = mark_of_keys(settings.keys_dir)
        assert before["size"] == size
        with vault.engine.begin() as conn:
            for sql in FAIL_CHECKPOINT[dialect]:
                conn.execute(text(sql))
        with pytest.raises(Exception, match="injected failure"):
            vault.ledger.seal([draft(1)])
        assert vault.ledger.size() == size and mark_of_keys(settings.keys_dir) == before
        with vault.engine.begin() as conn:
            for sql in HEAL[dialect]:
                conn.execute(text(sql))
        receipts = vault.ledger.seal([draft(2)])
        assert receipts[0].checkpoint.size == size + 1
        assert mark_of_keys(settings.keys_dir)["size"] == size + 1
        assert audit(vault).ok
    finally:
        vault.close()


def mark_of_keys(keys_dir: Path) -> dict[str, object]:
    doc: dict[str, object] = json.loads((keys_dir / LOG_MARK).read_text())
    return doc


@pytest.mark.parametrize("point", ["seal.before_commit", "seal.after_commit"])
def test_a_crash_during_a_seal_does_not_wedge(point: str, db_url: str, tmp_path: Path) -> None:
    """kill -9 inside a seal (before or after its commit); the restarted vault seals on,
    and its mark is the database's last checkpoint again."""
    v = CrashVault(tmp_path, db_url)
    size = v.db_ledger_size()
    assert mark_of(v)["size"] == size
    with v.serve(crash_at=point) as (url, proc), v.client(url, v.collector) as c:
        with pytest.raises(httpx.TransportError):
            c.post("/v1/cases", json={"title": "crashed", "severity": "P3"})
        assert proc.wait(30) == -signal.SIGKILL
    committed = point == "seal.after_commit"
    assert v.db_ledger_size() == size + committed
    assert mark_of(v)["size"] == size + committed
    assert list((v.data_dir / "run").glob("*.open")), "a crash leaves its run marker"

    with v.serve() as (url, _), v.client(url, v.collector) as c:
        r = c.post("/v1/cases", json={"title": "after the crash", "severity": "P3"})
        assert r.status_code == 201, r.text
        receipt = r.json()["receipt"]
        assert receipt["leaf_index"] == size + committed
        assert v.check.verify_receipt(receipt).ok
    assert "not closed cleanly" in v.log.read_text()
    last = v.db_ledger_size()
    assert last == size + committed + 1
    (root,) = v.db("SELECT root FROM checkpoints WHERE size = :s", s=last)[0]
    assert mark_of(v)["size"] == last and mark_of(v)["root"] == bytes(root).hex()
    assert v.archived_seals() == {int(s) for (s,) in v.db("SELECT size FROM checkpoints")}
    assert not list((v.data_dir / "run").glob("*.open")), "a clean stop removes its marker"
    done = v.audit()
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_mark_behind_the_database_is_raised_at_start(db_url: str, tmp_path: Path) -> None:
    """What a crash between a seal's commit and its mark write leaves (or a key from before
    marks): the start-up check raises the mark to the database's signed checkpoint."""
    settings = make_settings(tmp_path / "vault", db_url)
    with live_vault(settings) as live:
        older = (settings.keys_dir / LOG_MARK).read_bytes()
        with live.client("collector") as c:
            assert c.post("/v1/cases", json={"title": "x", "severity": "P3"}).status_code == 201
        last = live.vault.ledger.checkpoint()
    for state in (older, None):
        if state is None:
            (settings.keys_dir / LOG_MARK).unlink()
        else:
            (settings.keys_dir / LOG_MARK).write_bytes(state)
        vault = open_vault(settings, start=False)
        try:
            assert vault.keyring.signer.mark is not None
            assert vault.keyring.signer.mark.read() == Mark(last.size, last.root, last.note)
            last = vault.ledger.seal([draft()])[0].checkpoint
        finally:
            vault.close()
    assert os.path.exists(settings.keys_dir / LOG_MARK)
