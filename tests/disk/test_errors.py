"""Which database errors are the disk's fault: told apart on real SQLite errors from a
real full tmpfs, not on strings made up for the test."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg.errors
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app.disk.errors import disk_failure
from custody.db import make_engine
from tests.support.tmpfs import fill, mounted_tmpfs


@pytest.fixture
def small(tmp_path: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_path / "small", "2m") as mount_point:
        yield mount_point


def test_sqlite_full_and_unwritable_wal_index_are_disk_failures(small: Path) -> None:
    engine = make_engine(f"sqlite:///{small / 'x.db'}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (b BLOB)"))
        engine.dispose()  # the pool's connections too
        filler = fill(small, leave=0)
        # Every connection closed: SQLite removed its WAL index, and cannot create it again.
        with pytest.raises(OperationalError) as opening, engine.connect() as conn:
            conn.execute(text("SELECT count(*) FROM t"))
        assert "disk I/O error" in str(opening.value)
        assert disk_failure(opening.value) == (
            "the database could not write to its disk (disk I/O error)"
        )
        filler.unlink()

        with engine.connect() as keeper:  # holds the WAL and its index open
            keeper.execute(text("SELECT 1"))
            keeper.rollback()
            fill(small, leave=0)
            with pytest.raises(OperationalError) as writing, engine.begin() as conn:
                conn.execute(text("INSERT INTO t VALUES (randomblob(1000000))"))
            assert disk_failure(writing.value) == "the database's disk is full"
    finally:
        engine.dispose()


def test_other_database_errors_are_not_the_disks(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with pytest.raises(OperationalError) as exc, engine.connect() as conn:
            conn.execute(text("SELECT * FROM no_such_table"))
        assert disk_failure(exc.value) is None
    finally:
        engine.dispose()
    assert disk_failure(sqlite3.OperationalError("database is locked")) is None


def test_postgresql_disk_full_is_a_disk_failure() -> None:
    # SQLSTATE 53100 is how PostgreSQL says it; SQLAlchemy wraps psycopg's error class.
    wrapped = OperationalError("INSERT ...", {}, psycopg.errors.DiskFull("could not extend file"))
    assert disk_failure(wrapped) == "the database's disk is full"
    assert disk_failure(psycopg.errors.QueryCanceled("canceled")) is None


def test_enospc_from_a_file_write_is_a_disk_failure(small: Path) -> None:
    fill(small, leave=0)
    with pytest.raises(OSError) as exc:
        (small / "key.pem").write_bytes(b"k" * 8192)
    assert disk_failure(exc.value) == "no space left on the disk"
    with pytest.raises(OSError) as missing:
        (small / "no" / "such" / "dir").write_bytes(b"")
    assert disk_failure(missing.value) is None
