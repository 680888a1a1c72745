"""Deterministic crash points for the crash tests (test-only failpoints).

In the style of FoundationDB's buggify and TiKV's `fail` crate: the code names the
places where a crash is most interesting (between two durable writes that belong
together), and a test arms exactly one of them with `LOCARD_CRASH_AT=<name>`. The
process then kills itself with SIGKILL at that point: no `finally`, no atexit, no
flush, no rollback, exactly as a power cut or `kill -9` would leave it.

Inert unless the variable is set, and it is never set in production: the check is
one environment lookup, made only at these few places (once per seal, once per
upload), so there is nothing to switch off.

Points (see tests/crash/):

* ``ingest.after_object``: the evidence object is committed to the store, its
  artifact row and ingest event are not yet written;
* ``seal.before_commit``: a seal's rows are written inside its transaction, not committed;
* ``seal.after_commit``: the seal is committed to the database, not yet archived;
* ``seal.after_archive``: the seal is archived, its RFC 3161 tokens not yet fetched;
* ``collection.item_sealed``: a collection's first file is sealed with its collector
  events; others are sealed without them yet, stored, in flight or not yet read.
"""

from __future__ import annotations

import os
import signal
import sys

ENV = "LOCARD_CRASH_AT"

POINTS = frozenset(
    {
        "ingest.after_object",
        "seal.before_commit",
        "seal.after_commit",
        "seal.after_archive",
        "collection.item_sealed",
    }
)


def crash_point(name: str) -> None:
    """SIGKILL this process if `LOCARD_CRASH_AT` names this point; otherwise do nothing."""
    if os.environ.get(ENV) != name:
        return
    # Said on stderr so a test can tell the armed crash from any other death.
    sys.stderr.write(f"locard: crash point {name} reached: SIGKILL\n")
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)
