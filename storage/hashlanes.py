"""SHA-256, SHA-1 and MD5 of an upload, each computed on its own thread, behind the writer.

Ingest is bound by its slowest hash (MD5 on CPUs with SHA instructions). Hashing every
chunk on three threads and waiting for all three before taking the next chunk leaves
each hash idle while the others finish and while the next chunk arrives. Here each hash
is a *lane*: an ordered queue of chunks drained by one pool thread at a time, so a lane
never waits for another and is never starved while bytes are ahead of it. hashlib
releases the GIL on large buffers, so the lanes really run at once.

Memory stays flat: the writer blocks while any lane is more than `lag` bytes behind.
Chunks must not change after `update` (they are `bytes`): a lane reads them later.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from storage.hashing import Digests

#: chunks below this are hashed on the caller's thread when no lane has work queued
INLINE_MAX = 256 * 1024
#: how far (bytes) a lane may fall behind the writer before `update` waits
DEFAULT_LAG = 16 << 20

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _lane_pool() -> ThreadPoolExecutor:
    """Threads shared by every upload's lanes. A lane task never waits on another task,
    so any number of uploads share a few threads without deadlock."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=max(3, os.cpu_count() or 3), thread_name_prefix="locard-hash"
            )
        return _pool


class _Lane:
    def __init__(self, update: Callable[[bytes], None], done: threading.Condition) -> None:
        self._update = update
        self._done = done  # shared with the other lanes and the writer
        self._queue: deque[bytes] = deque()
        self.behind = 0  # bytes queued, not yet hashed
        self.running = False
        self.error: BaseException | None = None

    def push(self, chunk: bytes) -> bool:
        """Queue `chunk` (caller holds the condition); True if a drain must be started."""
        self._queue.append(chunk)
        self.behind += len(chunk)
        if self.running:
            return False
        self.running = True
        return True

    def drain(self) -> None:
        while True:
            with self._done:
                if not self._queue or self.error is not None:
                    self._queue.clear()
                    self.behind = 0
                    self.running = False
                    self._done.notify_all()
                    return
                chunk = self._queue.popleft()
            try:
                self._update(chunk)
            except BaseException as exc:  # noqa: BLE001 - handed to the writer
                with self._done:
                    self.error = exc
            with self._done:
                self.behind -= len(chunk)
                self._done.notify_all()

    def drop(self) -> None:
        """Forget queued chunks (caller holds the condition)."""
        self._queue.clear()
        self.behind = 0


class LaneHasher:
    """MultiHasher's interface (`update`, `size`, `digests`) with one thread per hash."""

    def __init__(self, lag: int = DEFAULT_LAG) -> None:
        self._sha256 = hashlib.sha256()
        self._sha1 = hashlib.sha1(usedforsecurity=False)
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._lag = lag
        self._cond = threading.Condition()
        # MD5 first: the slowest lane should start first.
        self._lanes = [
            _Lane(self._md5.update, self._cond),
            _Lane(self._sha256.update, self._cond),
            _Lane(self._sha1.update, self._cond),
        ]
        self._size = 0

    @property
    def size(self) -> int:
        return self._size

    def _idle(self) -> bool:
        return not any(lane.running for lane in self._lanes)

    def _raise_lane_error(self) -> None:
        for lane in self._lanes:
            if lane.error is not None:
                raise lane.error

    def update(self, chunk: bytes) -> None:
        if not chunk:
            return
        n = len(chunk)
        with self._cond:
            self._raise_lane_error()
            if n < INLINE_MAX and self._idle():
                # Small and nothing queued: a thread hop would cost more than hashing it.
                self._size += n
                for h in (self._md5, self._sha256, self._sha1):
                    h.update(chunk)
                return
            self._cond.wait_for(
                lambda: all(lane.behind + n <= self._lag or not lane.behind for lane in self._lanes)
            )
            self._raise_lane_error()
            self._size += n
            start = [lane for lane in self._lanes if lane.push(chunk)]
        pool = _lane_pool()
        for lane in start:
            pool.submit(lane.drain)

    def wait(self) -> None:
        """Until every queued byte is hashed; raises a lane's error."""
        with self._cond:
            self._cond.wait_for(self._idle)
            self._raise_lane_error()

    def digests(self) -> Digests:
        self.wait()
        return Digests(
            sha256=self._sha256.hexdigest(),
            sha1=self._sha1.hexdigest(),
            md5=self._md5.hexdigest(),
            size=self._size,
        )

    def close(self) -> None:
        """Drop what is still queued and wait for running updates to end (abort paths)."""
        with self._cond:
            for lane in self._lanes:
                lane.drop()
            self._cond.wait_for(self._idle)
