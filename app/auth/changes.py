"""How one process tells the others sharing its database that principals changed.

A server keeps bearer tokens' principals (app.auth.cache); a principal sealed by another
process (the CLI beside a running server, a second server on the same PostgreSQL) must
reach it before its next request is answered, not after a timeout:

* SQLite (every process on one host): a stamp file beside the database, replaced after
  each principal change commits; a reader compares its inode and mtime (one `stat`).
* PostgreSQL: `NOTIFY locard_principals` after each change commits; each server listens
  on its own connection. While that connection is down the cache is not used at all.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine

log = logging.getLogger(__name__)
CHANNEL = "locard_principals"


class PrincipalChanges(Protocol):
    def start(self) -> None:
        """Start hearing the other processes (a serving vault)."""

    def publish(self) -> None:
        """Tell the other processes (called once a principal change has committed)."""

    def fresh(self) -> bool:
        """False when another process may have changed principals since last asked."""

    def close(self) -> None: ...


class NoOtherProcess:
    """An in-memory database: no other process can write to it."""

    def start(self) -> None:
        pass

    def publish(self) -> None:
        pass

    def fresh(self) -> bool:
        return True

    def close(self) -> None:
        pass


class StampFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen = self._stamp()

    def start(self) -> None:
        pass

    def _stamp(self) -> tuple[int, int]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return (0, 0)
        return (st.st_ino, st.st_mtime_ns)

    def publish(self) -> None:
        # A new file each time (a new inode), so two changes within one clock tick of the
        # file system's mtime still differ.
        fd, tmp = tempfile.mkstemp(prefix=".principals-", dir=self.path.parent)
        os.close(fd)
        os.replace(tmp, self.path)

    def fresh(self) -> bool:
        now = self._stamp()
        if now == self._seen:
            return True
        self._seen = now
        return False

    def close(self) -> None:
        pass


class PgListener:
    """LISTENs on its own connection once started (by a serving vault: a CLI command
    that only seals publishes, and never opens one)."""

    def __init__(self, engine: Engine, on_change: Callable[[], None]) -> None:
        self.engine = engine
        self.on_change = on_change
        self._connected = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def publish(self) -> None:
        with self.engine.connect() as conn:
            conn.exec_driver_sql(f"NOTIFY {CHANNEL}")
            conn.commit()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._listen, name="locard-principal-changes", daemon=True
            )
            self._thread.start()

    def fresh(self) -> bool:
        return self._connected.is_set()

    def _listen(self) -> None:
        import psycopg

        dsn = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._stop.is_set():
            try:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.on_change()  # whatever changed while nobody listened
                    self._connected.set()
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=0.25):
                            self.on_change()
            except Exception:
                log.warning("principal change listener lost its connection; retrying")
            finally:
                self._connected.clear()
                self.on_change()
            self._stop.wait(1.0)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)


def principal_changes(engine: Engine, on_change: Callable[[], None]) -> PrincipalChanges:
    """The mechanism for `engine`'s database; `on_change` is called from the listener's
    thread when another process's change arrives (PostgreSQL)."""
    if engine.dialect.name != "sqlite":
        return PgListener(engine, on_change)
    db = engine.url.database
    if not db or db == ":memory:" or db.startswith("file:"):
        return NoOtherProcess()
    with contextlib.suppress(OSError):
        return StampFile(Path(db).with_name(Path(db).name + "-principals"))
    return NoOtherProcess()
