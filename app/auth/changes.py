"""How one process tells the others sharing its database that principals changed.

A server keeps bearer tokens' principals (app.auth.cache); a principal sealed by another
process (the CLI beside a running server, a second server on the same PostgreSQL) must
reach it before its next request is answered, not after a timeout:

* SQLite (every process on one host): a stamp file beside the database, mapped into
  memory by every process, given new bytes after each principal change commits.
* PostgreSQL: `NOTIFY locard_principals` after each change commits; each server listens
  on its own connection. While that connection is down the cache is not used at all.
"""

from __future__ import annotations

import logging
import mmap
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine

log = logging.getLogger(__name__)
CHANNEL = "locard_principals"
STAMP_BYTES = 8


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
    """Eight bytes beside the database, mapped into every process: a publisher writes new
    random bytes into the shared page, and a reader's check is a comparison in memory
    (a `stat` per request cost a tenth of an annotation's CPU)."""

    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < STAMP_BYTES:
                os.ftruncate(fd, STAMP_BYTES)
            self._map = mmap.mmap(fd, STAMP_BYTES)
        finally:
            os.close(fd)
        self._seen = self._map[:STAMP_BYTES]

    def start(self) -> None:
        pass

    def publish(self) -> None:
        # random, not a counter: two publishers incrementing at once could both write the
        # same value, and a reader that had seen the first would miss the second
        self._map[:STAMP_BYTES] = os.urandom(STAMP_BYTES)

    def fresh(self) -> bool:
        now = self._map[:STAMP_BYTES]
        if now == self._seen:
            return True
        self._seen = now
        return False

    def close(self) -> None:
        self._map.close()


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
    path = Path(db).with_name(Path(db).name + "-principals")
    try:
        return StampFile(path)
    except OSError as exc:
        # e.g. a read-only data directory: this process can neither announce nor hear,
        # so cached principals live out `principal_cache_s` (LOCARD_PRINCIPAL_CACHE_S=0 to
        # read them on every request)
        log.warning("principal changes cannot be shared through %s: %s", path, exc)
        return NoOtherProcess()
