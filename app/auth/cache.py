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

The generation and its rules are shared with the other row caches (app.rowcache).
"""

from __future__ import annotations

from app.auth.models import Principal
from app.rowcache import Generation, RowCache

#: entries kept at most; a vault has few principals, so this only bounds a flood of
#: distinct (valid) tokens
MAX_ENTRIES = 4096


class PrincipalCache(RowCache[Principal]):
    """Principals by token hash."""

    def __init__(self, ttl_s: float, generation: Generation | None = None) -> None:
        super().__init__(ttl_s, generation or Generation(), MAX_ENTRIES)
