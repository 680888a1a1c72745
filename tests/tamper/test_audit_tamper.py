"""Tampering applied directly to the database or the store must be caught by the audit.

Each case edits storage behind the vault's back, then runs the same audit as
`locard audit` and checks both that it fails and what it names.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from app.audit import audit
from app.vault import Vault, open_vault
from custody.audit import IndexMismatch
from custody.signing import NoteSigner
from tests.support.live_server import live_vault, make_settings
from verify.checkpoint import Checkpoint
from verify.errors import ArtifactHashMismatch, KeyMismatch, VerificationError


@pytest.fixture
def vault(db_url: str, tmp_path: Path) -> Iterator[Vault]:
    settings = make_settings(tmp_path / "vault", db_url)
    with live_vault(settings) as live, live.client("collector") as c:
        cid = c.post("/v1/cases", json={"title": "Intrusion", "severity": "P1"}).json()["case"][
            "id"
        ]
        for i in range(3):
            r = c.post(
                f"/v1/cases/{cid}/artifacts",
                params={"file_name": f"log-{i}.txt"},
                content=os.urandom(4096),
            )
            assert r.status_code == 201, r.text
        art = r.json()["artifact"]["id"]
        c.get(f"/v1/artifacts/{art}/content", params={"reason": "triage"})
        c.post(f"/v1/artifacts/{art}/annotations", json={"text": "looks bad"})
    v = open_vault(settings, start=False)
    assert audit(v).ok
    yield v
    v.close()


def run(engine: Engine, sql: str, **params: object) -> None:
    with engine.begin() as conn:
        conn.execute(text(sql), params)


def one(engine: Engine, sql: str, **params: object) -> object:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).first()


def writable(path: Path) -> Path:
    path.chmod(0o644)
    return path


def stored_objects(v: Vault) -> list[Path]:
    return sorted(p for p in (v.settings.store_dir / "objects").rglob("*") if p.is_file())


def flip_artifact_byte(v: Vault) -> None:
    p = writable(stored_objects(v)[0])
    data = bytearray(p.read_bytes())
    data[100] ^= 0x01
    p.write_bytes(bytes(data))


def replace_artifact_same_size(v: Vault) -> None:
    p = writable(stored_objects(v)[0])
    p.write_bytes(os.urandom(p.stat().st_size))


def edit_event_row(v: Vault) -> None:
    # The first ingest (principals are created through the ledger, so its index varies)
    row = one(
        v.engine,
        "SELECT leaf_index, canonical FROM ledger_events WHERE type = 'ingest' "
        "ORDER BY leaf_index LIMIT 1",
    )
    index, canonical = row[0], bytes(row[1])  # type: ignore[index]
    edited = canonical.replace(b'"log-', b'"LOG-')
    assert edited != canonical
    run(
        v.engine, "UPDATE ledger_events SET canonical = :c WHERE leaf_index = :i", c=edited, i=index
    )


def delete_event(v: Vault) -> None:
    run(v.engine, "DELETE FROM ledger_events WHERE leaf_index = 3")


def reorder_events(v: Vault) -> None:
    a = one(v.engine, "SELECT canonical, leaf_hash FROM ledger_events WHERE leaf_index = 2")
    b = one(v.engine, "SELECT canonical, leaf_hash FROM ledger_events WHERE leaf_index = 3")
    for idx, row in ((2, b), (3, a)):
        run(
            v.engine,
            "UPDATE ledger_events SET canonical = :c, leaf_hash = :h WHERE leaf_index = :i",
            c=row[0],
            h=row[1],
            i=idx,  # type: ignore[index]
        )


def truncate_ledger(v: Vault) -> None:
    size = int(one(v.engine, "SELECT max(size) FROM checkpoints")[0])  # type: ignore[index]
    run(v.engine, "DELETE FROM ledger_events WHERE leaf_index >= :n", n=size - 2)


def roll_back_database(v: Vault) -> None:
    """Restore an earlier copy of the index: the ledger tables as they were 3 events ago."""
    size = int(one(v.engine, "SELECT max(size) FROM checkpoints")[0])  # type: ignore[index]
    earlier = int(one(v.engine, "SELECT max(size) FROM checkpoints WHERE size < :n", n=size)[0])  # type: ignore[index]
    run(v.engine, "DELETE FROM ledger_events WHERE leaf_index >= :n", n=earlier)
    run(v.engine, "DELETE FROM checkpoints WHERE size > :n", n=earlier)
    run(v.engine, "DELETE FROM timestamps WHERE checkpoint_size > :n", n=earlier)


def replace_checkpoint(v: Vault) -> None:
    size, root = one(v.engine, "SELECT size, root FROM checkpoints ORDER BY size DESC LIMIT 1")  # type: ignore[misc]
    forger = NoteSigner.generate(v.keyring.origin)
    note = forger.sign_note(Checkpoint(v.keyring.origin, int(size), bytes(root)).body())
    run(v.engine, "UPDATE checkpoints SET note = :n WHERE size = :s", n=note.decode(), s=size)


def swap_token(v: Vault) -> None:
    rows = list(
        _all(v.engine, "SELECT checkpoint_size, tsr FROM timestamps ORDER BY checkpoint_size")
    )
    (s1, _), (_, t2) = rows[0], rows[-1]
    run(v.engine, "UPDATE timestamps SET tsr = :t WHERE checkpoint_size = :s", t=t2, s=s1)


def _all(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def replace_public_key(v: Vault) -> None:
    run(
        v.engine,
        "UPDATE vault_keys SET value = :k WHERE name = 'log'",
        k=NoteSigner.generate(v.keyring.origin).vkey(),
    )


def insert_forged_event(v: Vault) -> None:
    row = one(
        v.engine,
        "SELECT canonical, leaf_hash, chain_key, type, actor_id, at, sealed_in "
        "FROM ledger_events WHERE leaf_index = 1",
    )
    size = int(one(v.engine, "SELECT max(size) FROM checkpoints")[0])  # type: ignore[index]
    run(
        v.engine,
        "INSERT INTO ledger_events (leaf_index, canonical, leaf_hash, chain_key, type, actor_id,"
        " at, sealed_in) VALUES (:i, :c, :h, :k, :t, :a, :at, :s)",
        i=size,
        c=row[0],
        h=row[1],
        k=row[2],
        t=row[3],
        a=row[4],
        at=row[5],
        s=size + 1,  # type: ignore[index]
    )


def edit_archived_seal(v: Vault) -> None:
    """The archive itself edited (root on the store's disk): the signed root no longer fits."""
    for seal in sorted((v.settings.store_dir / "ledger" / "seals").glob("*.json")):
        doc = json.loads(seal.read_text())
        for i, data in enumerate(doc["events"]):
            ev = base64.b64decode(data)
            if b'"log-' in ev:  # the first seal holding an ingest of a log file
                doc["events"][i] = base64.b64encode(ev.replace(b'"log-', b'"LOG-')).decode()
                writable(seal).write_text(json.dumps(doc, sort_keys=True))
                return
    raise AssertionError("no archived event to edit")


def delete_artifact_row(v: Vault) -> None:
    run(v.engine, "DELETE FROM artifacts WHERE id = (SELECT min(id) FROM artifacts)")


CASES: list[tuple[Callable[[Vault], None], type[VerificationError], str]] = [
    (flip_artifact_byte, ArtifactHashMismatch, "artifact bytes"),
    (replace_artifact_same_size, ArtifactHashMismatch, "artifact bytes"),
    (edit_event_row, IndexMismatch, "index events"),
    (delete_event, IndexMismatch, "index events"),
    (reorder_events, IndexMismatch, "index events"),
    (truncate_ledger, IndexMismatch, "index events"),
    (roll_back_database, IndexMismatch, "index events"),
    (replace_checkpoint, IndexMismatch, "index checkpoints"),
    (swap_token, IndexMismatch, "index tokens"),
    (replace_public_key, KeyMismatch, "published keys"),
    (insert_forged_event, IndexMismatch, "index events"),
    (delete_artifact_row, IndexMismatch, "artifacts"),
    (edit_archived_seal, VerificationError, "checkpoint roots"),
]


@pytest.mark.parametrize(("tamper", "error", "check"), CASES, ids=[c[0].__name__ for c in CASES])
def test_audit_names_the_tampering(
    vault: Vault, tamper: Callable[[Vault], None], error: type[VerificationError], check: str
) -> None:
    tamper(vault)
    report = audit(vault)
    failure = report.first_failure
    assert failure is not None, f"{tamper.__name__} went unnoticed"
    assert failure.name == check, report.to_json()
    assert isinstance(failure.error, error), report.to_json()


def test_locard_audit_exits_nonzero_and_names_the_item(vault: Vault) -> None:
    cli = [sys.executable, "-m", "cli.main", "audit", "--data-dir", str(vault.settings.data_dir)]
    env = {**os.environ, "LOCARD_DATABASE_URL": vault.settings.db_url}
    root = Path(__file__).resolve().parents[2]
    ok = subprocess.run(cli, capture_output=True, text=True, env=env, cwd=root, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    delete_event(vault)
    bad = subprocess.run(
        cli + ["--json"], capture_output=True, text=True, env=env, cwd=root, timeout=120
    )
    assert bad.returncode == 1
    doc = json.loads(bad.stdout)
    failed = [c for c in doc["reports"][0]["checks"] if not c["ok"]]
    assert failed[0]["check"] == "index" and "event 3" in failed[0]["detail"]
    assert "Traceback" not in bad.stderr
