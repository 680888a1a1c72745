"""A witness's memory: the latest checkpoint it cosigned for each log, in SQLite.

Checking the old size and recording the new checkpoint are one compare-and-swap
statement, committed before the witness answers: two racing requests can never roll
the recorded size back (tlog-witness, "add-checkpoint").
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS logs (
    origin TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    root BLOB NOT NULL,
    note BLOB NOT NULL
)
"""


@dataclass(frozen=True)
class Latest:
    size: int
    root: bytes
    #: the checkpoint as cosigned: the log's signature and this witness's cosignature
    note: bytes


class WitnessState:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._conn() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA synchronous=FULL")
            self._local.conn = conn
        return conn

    def latest(self, origin: str) -> Latest | None:
        row = (
            self._conn()
            .execute("SELECT size, root, note FROM logs WHERE origin = ?", (origin,))
            .fetchone()
        )
        return None if row is None else Latest(int(row[0]), bytes(row[1]), bytes(row[2]))

    def advance(self, origin: str, old_size: int, new: Latest) -> bool:
        """Record `new` if the recorded size is still `old_size` (0: none yet); False if not."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            cur = conn.execute(
                "UPDATE logs SET size = ?, root = ?, note = ? WHERE origin = ? AND size = ?",
                (new.size, new.root, new.note, origin, old_size),
            )
            if cur.rowcount == 0 and old_size == 0:
                cur = conn.execute(
                    "INSERT INTO logs (origin, size, root, note) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (origin) DO NOTHING",
                    (origin, new.size, new.root, new.note),
                )
            swapped = cur.rowcount == 1
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return swapped

    def close(self) -> None:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
