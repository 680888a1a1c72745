"""The database's own integrity, and when to check it.

A full check reads the whole database (SQLite's `PRAGMA quick_check`), so it costs in
proportion to the vault's size: `locard audit` always runs it, a start runs it only
after an unclean shutdown. A process that opens the vault leaves a marker file in the
data directory and removes it when it closes; a marker whose process is gone means
that process died (kill -9, power cut) and the next start checks the database first.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from custody.db import is_sqlite
from verify.errors import VerificationError

RUN_DIR = "run"
_SHOWN = 3


class DatabaseDamaged(VerificationError):
    """The database fails its own integrity check, or cannot be read at all."""

    check = "database"


def database_integrity(engine: Engine) -> str:
    """A one-line verdict when the database is whole; DatabaseDamaged otherwise."""
    try:
        with engine.connect() as conn:
            if is_sqlite(engine):
                rows = [str(r[0]) for r in conn.exec_driver_sql("PRAGMA quick_check")]
                if rows != ["ok"]:
                    shown = "; ".join(rows[:_SHOWN]) + (" …" if len(rows) > _SHOWN else "")
                    raise DatabaseDamaged(f"SQLite quick_check found damage: {shown}")
                return "SQLite quick_check: ok"
            # PostgreSQL repairs itself from its WAL after a crash; what is left to check
            # is that every page of every table still reads back (with data checksums on,
            # a damaged page fails here).
            tables = inspect(conn).get_table_names()
            rows_read = 0
            for name in tables:
                quoted = conn.dialect.identifier_preparer.quote(name)
                rows_read += int(conn.execute(text(f"SELECT count(*) FROM {quoted}")).scalar_one())
            return f"PostgreSQL: {len(tables)} tables, {rows_read} rows read back"
    except SQLAlchemyError as exc:
        raise DatabaseDamaged(f"the database cannot be read: {_first_line(exc)}") from exc


def _first_line(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig if orig is not None else exc).strip().splitlines()[0]


@dataclass
class RunMarker:
    """This process's "vault open" marker, and whether an earlier process died open."""

    path: Path
    #: markers left by processes that are gone: each one an unclean shutdown
    stale: tuple[Path, ...]

    @property
    def unclean(self) -> bool:
        return bool(self.stale)

    @classmethod
    def open(cls, data_dir: Path) -> RunMarker:
        run = data_dir / RUN_DIR
        run.mkdir(parents=True, exist_ok=True, mode=0o700)
        host = socket.gethostname()
        stale = tuple(p for p in sorted(run.glob("*.open")) if not _alive(p, host))
        path = run / f"{os.getpid()}-{secrets.token_hex(4)}.open"
        path.write_text(f"{host}\n")
        return cls(path, stale)

    def cleared(self) -> None:
        """The database passed its check: the earlier unclean shutdowns are dealt with."""
        for p in self.stale:
            p.unlink(missing_ok=True)
        self.stale = ()

    def close(self) -> None:
        self.path.unlink(missing_ok=True)


def _alive(marker: Path, host: str) -> bool:
    try:
        pid = int(marker.name.split("-", 1)[0])
        owner = marker.read_text().strip()
    except (ValueError, OSError):
        return False
    if owner != host:
        # A process on another machine sharing this directory: not ours to judge.
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A recycled pid can hide one crash; the next audit still runs the full check.
    return True
