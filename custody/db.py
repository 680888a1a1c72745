"""Engines for SQLite (embedded, WAL) and PostgreSQL, and the sequencer's write lock."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.pool import QueuePool

BEGIN_OPTION = "locard_begin"
#: any fixed 64-bit key: all Locard processes sharing a database serialise on it
SEQUENCER_LOCK_ID = 0x4C4F43415244  # "LOCARD"


#: connections kept open per engine; beyond it up to `max_overflow` more are opened and closed
SQLITE_POOL: dict[str, Any] = {"poolclass": QueuePool, "pool_size": 64, "max_overflow": 256}


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        _private_sqlite_file(url)
        # Pooled: opening a SQLite connection (file open, WAL set-up, four PRAGMAs) costs
        # several times a short query, and every request used to pay it.
        pooling: dict[str, Any] = {} if ":memory:" in url else SQLITE_POOL
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 60},
            **pooling,
            **kwargs,
        )
        _configure_sqlite(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # No pre-ping: it cost a round trip on every checkout, several per request. After a
    # server restart the first statement on a dropped connection fails (one request), and
    # SQLAlchemy then discards the whole pool. 30 connections at most, as before:
    # PostgreSQL allows 100 by default, shared by every process of the vault.
    return create_engine(url, pool_size=20, max_overflow=10, pool_recycle=3600, **kwargs)


def _private_sqlite_file(url: str) -> None:
    """Create the database file 0600 (or tighten an older one) before SQLite opens it.

    SQLite gives its -wal and -shm files the main file's mode, so this covers all three.
    """
    path = url.removeprefix("sqlite:///")
    if not path or path == url or ":memory:" in path or path.startswith("file:"):
        return
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return  # SQLite itself reports an unusable path, with its own message
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so BEGIN IMMEDIATE is possible.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Straight to the driver: through `exec_driver_sql` the BEGIN cost as much as the
        # query that follows it.
        begin = conn.get_execution_options().get(BEGIN_OPTION, "BEGIN")
        if begin:  # "": a lone statement, its own transaction (see app.db.reading)
            conn.connection.dbapi_connection.execute(begin)  # type: ignore[union-attr]


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def sequencer_connection(engine: Engine) -> Connection:
    """A connection whose transactions hold the one-sequencer-at-a-time lock.

    SQLite: BEGIN IMMEDIATE takes the database write lock at once, so two processes
    cannot both read the tree size and append. PostgreSQL: a transaction-scoped
    advisory lock, taken by `lock_sequencer` right after BEGIN.
    """
    conn = engine.connect()
    if is_sqlite(engine):
        conn = conn.execution_options(**{BEGIN_OPTION: "BEGIN IMMEDIATE"})
    return conn


def lock_sequencer(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SEQUENCER_LOCK_ID})
