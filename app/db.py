"""ORM sessions for the service. Objects stay usable after commit: services return them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlmodel import Session

from custody.db import BEGIN_OPTION, is_sqlite


@contextmanager
def session(engine: Engine) -> Iterator[Session]:
    """A session whose transactions can always complete their writes.

    In SQLite's WAL mode a transaction that reads and then writes fails at once with
    "database is locked" when another writer committed in between (its snapshot is
    stale; the busy timeout cannot help). Service transactions therefore begin
    IMMEDIATE on SQLite and queue for the write lock instead. PostgreSQL needs nothing.
    """
    if not is_sqlite(engine):
        with Session(engine, expire_on_commit=False) as s:
            yield s
        return
    immediate = engine.connect().execution_options(**{BEGIN_OPTION: "BEGIN IMMEDIATE"})
    with immediate as conn, Session(bind=conn, expire_on_commit=False) as s:
        yield s
