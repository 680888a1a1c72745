"""Index rows a loaded server keeps per process, because they change only by rare sealed
events: bearer tokens' principals (app.auth.cache) and artifact rows (whose only change
is a custody transfer).

Every such cache shares one `Generation`. It moves on when a change any of them may hold
commits in this process (`changed`, called by the index writer after the seal's
transaction) or is announced by another process sharing the database (app.auth.changes),
and every entry stored under an older generation is then dead. One generation, not one
per cache, because a change announced by another process is heard once: whichever cache
asks first would otherwise consume it for all.

A reader takes the generation before it reads the row and stores its copy under that
generation: a copy read before an invalidation can never be served after it. Entries
also expire after `ttl_s`, a backstop should a change ever go unannounced; `ttl_s = 0`
turns the caches off.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Generic, TypeVar

from app.auth.changes import NoOtherProcess, PrincipalChanges

log = logging.getLogger(__name__)

V = TypeVar("V")


class Generation:
    def __init__(self) -> None:
        #: what other processes changed (set by the vault for its database)
        self.changes: PrincipalChanges = NoOtherProcess()
        self.value = 0
        self._lock = threading.Lock()

    def current(self) -> int:
        """The generation, moved on first if another process announced a change."""
        if not self.changes.fresh():
            self.invalidate()
        return self.value

    def invalidate(self) -> None:
        with self._lock:
            self.value += 1

    def changed(self) -> None:
        """A change this process sealed has committed: forget, and tell the other
        processes. The change is sealed already, so failing to announce it is logged, not
        raised (the other processes' entries expire within `ttl_s`)."""
        self.invalidate()
        try:
            self.changes.publish()
        except Exception:
            log.exception("could not announce a change of cached rows to other processes")


@dataclass(frozen=True)
class _Entry(Generic[V]):
    value: V
    generation: int
    expires: float


class RowCache(Generic[V]):
    def __init__(self, ttl_s: float, generation: Generation, max_entries: int) -> None:
        self.ttl_s = ttl_s
        self.shared = generation
        self.max_entries = max_entries
        self._entries: dict[str, _Entry[V]] = {}
        self._lock = threading.Lock()

    @property
    def generation(self) -> int:
        return self.shared.value

    @property
    def changes(self) -> PrincipalChanges:
        return self.shared.changes

    def invalidate(self) -> None:
        self.shared.invalidate()

    def get(self, key: str) -> V | None:
        generation = self.shared.current()
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.generation != generation or entry.expires <= time.monotonic():
            self._entries.pop(key, None)
            return None
        return entry.value

    def put(self, key: str, value: V, generation: int) -> None:
        """Keep `value`, read after `generation` was taken, unless a change came since."""
        if self.ttl_s <= 0:
            return
        with self._lock:
            if generation != self.shared.value:
                return
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = _Entry(value, generation, time.monotonic() + self.ttl_s)
