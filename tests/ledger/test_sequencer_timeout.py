"""A caller that times out must never see its event sealed afterwards, nor fail for one that is."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from custody.ledger import EventDraft, Ledger, Outcome, Receipt
from custody.sequencer import SealTimeout, Sequencer


class BlockingLedger(Ledger):
    """Holds its first seal until released, like a stalled database."""

    gate: threading.Event
    entered: threading.Event

    def seal_each(self, drafts: Sequence[EventDraft]) -> list[Outcome]:
        self.entered.set()
        self.gate.wait(30)
        return super().seal_each(drafts)


def draft(n: int) -> EventDraft:
    return EventDraft("annotation", "alice", "collector", {"n": n}, "IR-1", "art-1")


def test_timed_out_draft_is_withdrawn_and_running_seal_is_awaited(ledger: Ledger) -> None:
    blocking = BlockingLedger(ledger.engine, ledger.origin, ledger.signer, ledger.authorities)
    blocking.gate, blocking.entered = threading.Event(), threading.Event()
    seq = Sequencer(blocking, interval=0.0, max_batch=1).start()
    try:
        first: list[Receipt] = []
        t = threading.Thread(target=lambda: first.append(seq.append(draft(0), timeout=0.2)))
        t.start()
        assert blocking.entered.wait(10)  # draft 0's seal is running and blocked
        with pytest.raises(SealTimeout):
            seq.append(draft(1), timeout=0.2)  # still queued: withdrawn
        blocking.gate.set()
        t.join(30)
        assert first and first[0].event.index == 0  # timed out while running: awaited
        after = seq.append(draft(2), timeout=30)
    finally:
        blocking.gate.set()
        seq.stop()
    bodies = [e.canonical for e in ledger.entries(0, 10)]
    assert len(bodies) == 2 and after.event.index == 1
    assert not any(b'"n":1' in b for b in bodies), "a withdrawn draft was sealed"


def test_async_wait_follows_the_same_rules_and_outlives_its_caller(ledger: Ledger) -> None:
    """`append_async`: a queued draft past its timeout is withdrawn, a running seal is awaited,
    and a caller cancelled while waiting (its client went away) does not withdraw its draft."""
    blocking = BlockingLedger(ledger.engine, ledger.origin, ledger.signer, ledger.authorities)
    blocking.gate, blocking.entered = threading.Event(), threading.Event()
    seq = Sequencer(blocking, interval=0.0, max_batch=1).start()

    async def scenario() -> tuple[Receipt, Receipt]:
        running = asyncio.ensure_future(seq.append_async(draft(0), timeout=0.2))
        assert await asyncio.to_thread(blocking.entered.wait, 10)  # draft 0's seal blocks
        with pytest.raises(SealTimeout):
            await seq.append_async(draft(1), timeout=0.2)  # still queued: withdrawn
        abandoned = asyncio.ensure_future(seq.append_async(draft(2), timeout=30))
        await asyncio.sleep(0.05)
        abandoned.cancel()  # the caller goes; its draft stays queued
        blocking.gate.set()
        first = await running  # timed out while running: awaited, not failed
        return first, await seq.append_async(draft(3), timeout=30)

    try:
        first, last = asyncio.run(scenario())
    finally:
        blocking.gate.set()
        seq.stop()
    bodies = [e.canonical for e in ledger.entries(0, 10)]
    assert first.event.index == 0 and last.event.index == 2
    assert any(b'"n":2' in b for b in bodies), "a cancelled caller's draft was withdrawn"
    assert not any(b'"n":1' in b for b in bodies), "a withdrawn draft was sealed"
