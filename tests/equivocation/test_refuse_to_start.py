"""A vault whose database is lost, behind, or unlike its archive refuses to start, and
never signs a second checkpoint for a size it has already signed (issue 11).

Everything runs through the `locard` command, as an operator meets it: one clear line
naming `locard rebuild --from-store`, a non-zero exit, no traceback, and nothing new
signed, archived or marked.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import text

from custody.db import make_engine
from tests.equivocation.helpers import (
    CrashVault,
    backup_database,
    drop_database,
    locard_run,
    mark_of,
    one_line,
    start_refused,
)

REBUILD = "locard rebuild --from-store"


def seals(v: CrashVault) -> dict[int, bytes]:
    return {int(p.stem): p.read_bytes() for p in (v.store / "ledger" / "seals").glob("*.json")}


def add_case(v: CrashVault, title: str) -> None:
    with v.serve() as (url, _), httpx.Client(base_url=url, headers=v.collector, timeout=60) as c:
        r = c.post("/v1/cases", json={"title": title, "severity": "P3"})
        assert r.status_code == 201, r.text


def rebuild_then_serve(v: CrashVault, size: int) -> None:
    """The way out the messages name: an empty database, rebuilt; then the vault starts."""
    drop_database(v.db_url, v.data_dir)
    done = locard_run(v, "rebuild", "--from-store")
    assert done.returncode == 0, done.stdout + done.stderr
    with v.serve() as (url, _):
        assert httpx.get(f"{url}/healthz").status_code == 200
    assert v.db_ledger_size() == size == max(seals(v))


def test_user_add_on_a_lost_database_signs_nothing(db_url: str, tmp_path: Path) -> None:
    """The reproduction: database files deleted, then `locard user add`."""
    v = CrashVault(tmp_path, db_url)
    archived, mark = seals(v), mark_of(v)

    drop_database(db_url, v.data_dir)
    done = locard_run(v, "user", "add", "ops", "--role", "admin")
    assert done.returncode == 1, done.stdout + done.stderr
    said = one_line(done.stderr)
    assert "refuses to start" in said and "the database is empty" in said, said
    assert REBUILD in said and "Traceback" not in done.stderr, said
    assert done.stdout == "", "a token was printed for a principal that was never sealed"
    # Nothing new signed, archived or marked.
    assert v.db("SELECT size FROM checkpoints") == []
    assert seals(v) == archived
    assert mark_of(v) == mark and mark["size"] == max(archived)

    rebuild_then_serve(v, max(archived))


def test_server_refuses_an_empty_database_beside_the_archive(db_url: str, tmp_path: Path) -> None:
    v = CrashVault(tmp_path, db_url)
    archived = seals(v)
    drop_database(db_url, v.data_dir)
    said = start_refused(v)
    assert "the database is empty" in said and REBUILD in said, said
    assert v.db("SELECT size FROM checkpoints") == [] and seals(v) == archived
    rebuild_then_serve(v, max(archived))


def test_server_refuses_a_database_restored_from_an_older_backup(
    db_url: str, tmp_path: Path
) -> None:
    v = CrashVault(tmp_path, db_url)
    restore = backup_database(v)
    old_size = v.db_ledger_size()
    add_case(v, "sealed after the backup")
    archived, mark = seals(v), mark_of(v)
    assert max(archived) > old_size

    restore()
    assert v.db_ledger_size() == old_size
    said = start_refused(v)
    assert "the database is behind the write-once archive" in said and REBUILD in said, said
    done = locard_run(v, "user", "add", "ops", "--role", "admin")
    assert done.returncode == 1 and REBUILD in one_line(done.stderr), done.stderr
    assert v.db_ledger_size() == old_size and seals(v) == archived
    assert mark_of(v) == mark and mark["size"] == max(archived)

    rebuild_then_serve(v, max(archived))


def test_server_refuses_a_database_whose_last_checkpoint_differs(
    db_url: str, tmp_path: Path
) -> None:
    v = CrashVault(tmp_path, db_url)
    add_case(v, "one more seal")
    size = v.db_ledger_size()
    archived = seals(v)
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE checkpoints SET root = :r WHERE size = :s"), {"r": bytes(32), "s": size}
        )
    engine.dispose()
    said = start_refused(v)
    assert f"checkpoint of size {size} differs" in said and REBUILD in said, said
    assert seals(v) == archived
    rebuild_then_serve(v, size)


def test_server_refuses_a_database_behind_the_key_alone(db_url: str, tmp_path: Path) -> None:
    """Database and archive both gone (or both restored from old backups): the key's mark
    still knows what was signed, and the vault will not sign those sizes again."""
    v = CrashVault(tmp_path, db_url)
    mark = mark_of(v)
    drop_database(db_url, v.data_dir)
    for seal in (v.store / "ledger" / "seals").glob("*.json"):
        seal.chmod(0o644)
        seal.unlink()
    said = start_refused(v)
    assert f"this vault's key has signed a checkpoint of size {mark['size']}" in said, said
    assert "archive" in said and REBUILD in said, said
    done = locard_run(v, "user", "add", "ops", "--role", "admin")
    assert done.returncode == 1, done.stderr
    assert v.db("SELECT size FROM checkpoints") == [] and mark_of(v) == mark
