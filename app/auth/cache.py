"""Bearer tokens already checked, so a loaded server does not read the principal per request.

The token lookup was the largest single cost of an authenticated request (a sixth of
its CPU, and a worker-thread hop). An entry is only a copy of the principal row: every
request still checks it is usable now (disabled, token expiry), and an entry is
dropped when

* a principal event sealed by this process commits (`changed`, called by the index
  writer after the seal's transaction: a disable, a role change or a rotated token
  takes effect on the next request), or one sealed by another process sharing the
  database does (app.auth.changes tells this one);
* it is older than `ttl_s`, a backstop should a change ever go unannounced. `ttl_s = 0`
  turns the cache off.

A reader takes the generation before it reads the row and stores its copy under that
generation: a copy read before an invalidation can never be served after it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from app.auth.changes import NoOtherProcess, PrincipalChanges
from app.auth.models import Principal

log = logging.getLogger(__name__)

#: entries kept at most; a vault has few principals, so this only bounds a flood of
#: distinct (valid) tokens
MAX_ENTRIES = 4096


@dataclass(frozen=True)
class _Entry:
    principal: Principal
    generation: int
    expires: float


class PrincipalCache:
    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        #: what other processes changed (set by the vault for its database)
        self.changes: PrincipalChanges = NoOtherProcess()
        self._entries: dict[str, _Entry] = {}
        self._generation = 0
        self._lock = threading.Lock()

    @property
    def generation(self) -> int:
        return self._generation

    def get(self, token_hash: str) -> Principal | None:
        if not self.changes.fresh():
            self.invalidate()
            return None
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        if entry.generation != self._generation or entry.expires <= time.monotonic():
            self._entries.pop(token_hash, None)
            return None
        return entry.principal

    def put(self, token_hash: str, principal: Principal, generation: int) -> None:
        """Keep `principal`, read after `generation` was taken, unless it changed since."""
        if self.ttl_s <= 0:
            return
        with self._lock:
            if generation != self._generation:
                return
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[token_hash] = _Entry(principal, generation, time.monotonic() + self.ttl_s)

    def changed(self) -> None:
        """A principal change this process sealed has committed: forget, and tell the
        other processes. The change is sealed already, so failing to announce it is
        logged, not raised (the other processes' entries expire within `ttl_s`)."""
        self.invalidate()
        try:
            self.changes.publish()
        except Exception:
            log.exception("could not announce a principal change to other processes")

    def invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()
