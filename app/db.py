"""ORM sessions for the service. Objects stay usable after commit: services return them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import ColumnElement, Connection, Engine, Table, select
from sqlmodel import Session, SQLModel

from custody.db import BEGIN_OPTION, is_sqlite

M = TypeVar("M", bound=SQLModel)


def reading(engine: Engine) -> Connection:
    """A connection for one statement, which is its own transaction: a lone SELECT reads
    one consistent snapshot without a BEGIN. On PostgreSQL in autocommit (BEGIN and
    ROLLBACK were a round trip each); on SQLite without the BEGIN, a driver call that
    gives up and takes back the GIL, which under load costs a thread switch."""
    conn = engine.connect()
    if is_sqlite(engine):
        return conn.execution_options(**{BEGIN_OPTION: ""})
    return conn.execution_options(isolation_level="AUTOCOMMIT")


def read_one(engine: Engine, model: type[M], *where: ColumnElement[bool]) -> M | None:
    """The one row matching `where`, as a detached model, read through SQLAlchemy Core.

    The per-request reads (the token, the artifact, the case, the membership) need none
    of the ORM session's identity map and unit of work, which cost several times the
    query itself.
    """
    table: Table = model.__table__  # type: ignore[attr-defined]
    with reading(engine) as conn:
        row = conn.execute(select(table).where(*where)).first()
    return None if row is None else model(**row._mapping)


def exists(engine: Engine, model: type[SQLModel], *where: ColumnElement[bool]) -> bool:
    table: Table = model.__table__  # type: ignore[attr-defined]
    with reading(engine) as conn:
        found = conn.execute(select(1).select_from(table).where(*where).limit(1)).first()
    return found is not None


@contextmanager
def session(engine: Engine) -> Iterator[Session]:
    """A session for reading. On SQLite it begins DEFERRED: it reads a WAL snapshot and
    takes no lock, so reads never queue behind the sequencer or each other.

    A session that writes must be a `write_session`: in WAL mode a deferred transaction
    that reads and then writes fails at once with "database is locked" when another
    writer committed in between (its snapshot is stale; the busy timeout cannot help).
    """
    with Session(engine, expire_on_commit=False) as s:
        yield s


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """A session whose transactions can always complete their writes.

    On SQLite it begins IMMEDIATE and queues for the write lock (see `session`).
    PostgreSQL needs nothing.
    """
    if not is_sqlite(engine):
        with Session(engine, expire_on_commit=False) as s:
            yield s
        return
    immediate = engine.connect().execution_options(**{BEGIN_OPTION: "BEGIN IMMEDIATE"})
    with immediate as conn, Session(bind=conn, expire_on_commit=False) as s:
        yield s
