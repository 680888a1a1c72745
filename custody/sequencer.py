"""Group commit: callers wait for the next seal, so one signature and one token cover a batch.

A seal happens when the oldest waiting event has waited `interval` seconds or
`max_batch` events are waiting, whichever comes first. One thread per process
seals; across processes the database lock in `Ledger.seal` serialises them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from custody.ledger import EventDraft, Ledger, Receipt

log = logging.getLogger(__name__)


class SequencerStopped(Exception):
    """The sequencer was stopped before the event could be sealed."""


class SealTimeout(Exception):
    """The event was not sealed in time and has been withdrawn: it will never be sealed."""


@dataclass
class _Waiting:
    draft: EventDraft
    future: Future[Receipt]
    since: float


def _loop_waiter(fut: Future[Receipt]) -> asyncio.Future[Receipt]:
    """An asyncio future of the running loop that follows `fut` (set from any thread)."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[Receipt] = loop.create_future()

    def settle(done: Future[Receipt]) -> None:
        if waiter.done():
            return
        if done.cancelled():
            waiter.cancel()
        elif (exc := done.exception()) is not None:
            waiter.set_exception(exc)
        else:
            waiter.set_result(done.result())

    def hand_over(done: Future[Receipt]) -> None:
        # runs on the sequencer thread: it only schedules `settle`, which the loop runs
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting
            loop.call_soon_threadsafe(settle, done)

    fut.add_done_callback(hand_over)
    # a caller cancelled while waiting leaves the outcome unread: mark it read
    waiter.add_done_callback(lambda w: w.cancelled() or w.exception())
    return waiter


class Sequencer:
    def __init__(
        self,
        ledger: Ledger,
        *,
        interval: float = 0.25,
        max_batch: int = 1000,
        retry_interval: float = 30.0,
    ) -> None:
        if interval < 0 or max_batch < 1:
            raise ValueError("interval must be >= 0 and max_batch >= 1")
        self.ledger = ledger
        self.interval = interval
        self.max_batch = max_batch
        self._queue: list[_Waiting] = []
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.seals = 0
        #: how often, at most, tokens still owed by a TSA that was down are asked for again
        self.retry_interval = retry_interval
        self._last_retry = time.monotonic()

    def start(self) -> Sequencer:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="locard-sequencer", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Seal what is waiting, then stop."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def submit(self, draft: EventDraft) -> Future[Receipt]:
        fut: Future[Receipt] = Future()
        with self._cond:
            if self._stopping:
                raise SequencerStopped("the ledger sequencer is stopped")
            self._queue.append(_Waiting(draft, fut, time.monotonic()))
            # The sequencer only needs waking when this draft starts a batch (its clock
            # starts now) or fills one; otherwise it is already waiting for the batch's
            # deadline. Waking it for every draft cost a lock hand-off per event.
            if len(self._queue) == 1 or len(self._queue) >= self.max_batch:
                self._cond.notify_all()
        return fut

    def append(self, draft: EventDraft, timeout: float | None = 60.0) -> Receipt:
        """Seal and return the receipt. On timeout the draft is withdrawn if it still can
        be; once its seal has started, the caller waits for it instead, so a caller never
        reports failure for an event the ledger then records."""
        fut = self.submit(draft)
        try:
            return fut.result(timeout)
        except FutureTimeout:
            if fut.cancel():
                raise SealTimeout(f"not sealed within {timeout} s; withdrawn") from None
            return fut.result()

    async def append_async(self, draft: EventDraft, timeout: float | None = 60.0) -> Receipt:
        """`append` for the event loop: the caller waits on an asyncio future that the
        sequencer thread resolves through `call_soon_threadsafe`, instead of a worker thread
        parked on each event (with hundreds waiting, their wake-ups and the GIL hand-offs
        cost more than the seal). Same timeout and withdrawal rules as `append`.

        Cancelling the caller (its client went away) does not withdraw the draft: as with
        `append`, an event once submitted is sealed or refused by the ledger alone.
        """
        fut = self.submit(draft)
        waiter = _loop_waiter(fut)
        withdrawn = False

        def expire() -> None:
            nonlocal withdrawn
            # a draft whose seal has started cannot be withdrawn: it is waited for
            withdrawn = fut.cancel()  # then `settle` cancels the waiter

        # A timer, not `wait_for` + `shield`: those two cost an extra task, future and
        # callbacks per event. Cancelling the caller cancels only its waiter, never `fut`.
        loop = asyncio.get_running_loop()
        timer = loop.call_later(timeout, expire) if timeout is not None else None
        try:
            return await waiter
        except asyncio.CancelledError:
            if withdrawn:
                raise SealTimeout(f"not sealed within {timeout} s; withdrawn") from None
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def _take_batch(self) -> list[_Waiting] | None:
        with self._cond:
            while True:
                if self._queue:
                    due = self._queue[0].since + self.interval
                    now = time.monotonic()
                    if self._stopping or len(self._queue) >= self.max_batch or now >= due:
                        batch = self._queue[: self.max_batch]
                        del self._queue[: self.max_batch]
                        # A withdrawn (cancelled) draft is dropped; the rest can no longer be.
                        return [w for w in batch if w.future.set_running_or_notify_cancel()]
                    self._cond.wait(due - now)
                elif self._stopping:
                    return None
                elif not self._cond.wait(self._idle_wait()):
                    return []  # idle: time for maintenance

    def _idle_wait(self) -> float:
        tiles = self.ledger.tiles
        if tiles is None or tiles.interval_s <= 0:
            return self.retry_interval
        # A seal made outside the sequencer (`Ledger.seal` from a request or the CLI) may
        # have left a publication owed without waking it: look again every interval.
        owed = tiles.owed_in()
        due = tiles.interval_s if owed is None else owed
        # never 0: a publication another thread is making would be waited for in a spin
        return min(self.retry_interval, max(0.01, due))

    def _publish_owed_tiles(self) -> None:
        tiles = self.ledger.tiles
        if tiles is not None and tiles.owed_in() == 0:
            tiles.catch_up()

    def _retry_pending(self) -> None:
        if time.monotonic() - self._last_retry < self.retry_interval:
            return
        self._last_retry = time.monotonic()
        try:
            # Only checkpoints older than one retry period: younger ones may still be in
            # the hands of the process that sealed them.
            if got := self.ledger.retry_pending_timestamps(older_than_s=self.retry_interval):
                log.info("obtained %d pending timestamp tokens", got)
        except Exception:
            log.exception("retrying pending timestamps failed")
        if self.ledger.tiles is not None:
            self.ledger.tiles.catch_up(force=True)
        try:
            if got := self.ledger.retry_cosignatures():
                log.info("obtained %d pending witness cosignatures", got)
        except Exception:
            log.exception("retrying witness cosignatures failed")

    def _run(self) -> None:
        while (batch := self._take_batch()) is not None:
            self._retry_pending()
            if not batch:
                self._publish_owed_tiles()
                continue
            try:
                outcomes = self.ledger.seal_each([w.draft for w in batch])
            except Exception as exc:  # the callers get the error; the sequencer lives on
                log.exception("seal of %d events failed", len(batch))
                for w in batch:
                    w.future.set_exception(exc)
                continue
            if any(not isinstance(o, Exception) for o in outcomes):
                self.seals += 1
            for w, o in zip(batch, outcomes, strict=True):
                if isinstance(o, Exception):
                    w.future.set_exception(o)
                else:
                    w.future.set_result(o)
