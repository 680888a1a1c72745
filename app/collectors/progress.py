"""How far the collections this process is ingesting have got: files and bytes sealed of
the whole, for `GET /v1/cases/{id}/collections/progress` and the CLI that polls it.

One run per container and case at a time: a second request for the same container
while the first is still running is refused (409) rather than racing it, since both
would claim the same item ids. Finished runs stay listed a while so that a client that
polls after the answer still sees the totals.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from app.errors import Conflict

#: finished runs kept for late polls
KEEP_FINISHED = 64


@dataclass
class Progress:
    case: str
    sha256: str
    container: str = ""
    files_total: int = 0
    bytes_total: int = 0
    files_done: int = 0
    bytes_done: int = 0
    #: of files_done, those an earlier interrupted run had sealed
    resumed: int = 0
    state: str = "running"
    started: float = field(default_factory=time.time)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def plan(self, container: str, files: int, size: int) -> None:
        with self._lock:
            self.container, self.files_total, self.bytes_total = container, files, size

    def sealed(self, files: int, size: int, *, resumed: bool = False) -> None:
        with self._lock:
            self.files_done += files
            self.bytes_done += size
            if resumed:
                self.resumed += files

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {
                "state": self.state,
                "container": self.container or None,
                "files_total": self.files_total,
                "files_done": self.files_done,
                "bytes_total": self.bytes_total,
                "bytes_done": self.bytes_done,
                "resumed": self.resumed,
            }


class Runs:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: OrderedDict[tuple[str, str], Progress] = OrderedDict()

    def start(self, case: str, sha256: str) -> Progress:
        with self._lock:
            now = self._runs.get((case, sha256))
            if now is not None and now.state == "running":
                raise Conflict(
                    f"this container (SHA-256 {sha256}) is being ingested into {case} "
                    "already; wait for that run, or send it again once it stopped"
                )
            p = Progress(case, sha256)
            self._runs[(case, sha256)] = p
            self._runs.move_to_end((case, sha256))
            done = [k for k, r in self._runs.items() if r.state != "running"]
            for k in done[: max(0, len(done) - KEEP_FINISHED)]:
                del self._runs[k]
            return p

    def finish(self, p: Progress, state: str) -> None:
        with p._lock:
            p.state = state

    def get(self, case: str, sha256: str) -> Progress | None:
        with self._lock:
            return self._runs.get((case, sha256))


RUNS = Runs()


@contextmanager
def tracked(case: str, sha256: str) -> Iterator[Progress]:
    """A run of this container, listed while it lasts and marked how it ended."""
    p = RUNS.start(case, sha256)
    try:
        yield p
    except BaseException:
        RUNS.finish(p, "interrupted")
        raise
    RUNS.finish(p, "finished")
