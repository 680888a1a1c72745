"""A collection's files streamed into the store by a few workers and sealed in batches.

Each file is still its own artifact with its own chain and receipt, but nobody waits
for one file's seal: a worker streams a member into the store (hashed, fsynced) and
hands it on; its ingest draft is submitted to the sequencer at once, and only when
that ingest is sealed are its `collector.item` and mismatch drafts submitted (a
collector event never lands on a chain whose ingest failed). The sequencer's group
commit then seals hundreds of drafts with one signature and one token, where waiting
per file cost two seal intervals each (about 14 files/s with 32 threads waiting).

Memory is bounded: at most STREAMS files are being read and WINDOW files' events are
in flight at once.
"""

from __future__ import annotations

import zipfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from app.artifacts.ingest import Ingest
from app.artifacts.metadata import ArtifactMeta
from app.artifacts.service import IngestPlan, hold_if_case_held, ingest_draft
from app.auth.models import Principal
from app.collectors.progress import Progress
from app.errors import Conflict, Unavailable
from app.vault import Vault
from custody.faults import crash_point
from custody.ledger import EventDraft, Receipt, Refused
from custody.sequencer import SequencerStopped
from storage.base import StoredObject, Upload

READ = 1 << 20
#: files read from the zip and written to the store at once: storing a small file is
#: mostly its fsyncs, which overlap; more threads only contend for the GIL
STREAMS = 8
#: files whose events are submitted and not yet sealed (a seal takes up to max_batch)
WINDOW = 2000
#: how long one seal may take before the collection gives up (it can be resumed)
SEAL_WAIT_S = 120.0

R = TypeVar("R")


@dataclass(frozen=True)
class Job:
    member: str
    meta: ArtifactMeta
    artifact_id: str
    #: the member's size in the zip's directory (for progress before it is read)
    size: int


def sealed(fut: Future[Receipt]) -> Receipt:
    """The receipt of a submitted draft, with the errors `record` would raise."""
    try:
        try:
            return fut.result(SEAL_WAIT_S)
        except FutureTimeout:
            if fut.cancel():
                raise Unavailable(
                    f"the ledger did not seal within {SEAL_WAIT_S:.0f} s; send the "
                    "collection again to resume it"
                ) from None
            return fut.result()
    except Refused as exc:
        raise Conflict(str(exc), extra={"current": exc.current}) from exc
    except SequencerStopped as exc:
        raise Unavailable("the vault is shutting down; send the collection again") from exc


def submit(vault: Vault, d: EventDraft) -> Future[Receipt]:
    try:
        return vault.sequencer.submit(d)
    except SequencerStopped as exc:
        raise Unavailable("the vault is shutting down; send the collection again") from exc


def _member_chunks(zf: zipfile.ZipFile, name: str) -> Iterator[bytes]:
    with zf.open(name) as fh:
        while block := fh.read(READ):
            yield block


def _in_order(
    pool: ThreadPoolExecutor, fn: Callable[[Job], StoredObject], jobs: Iterable[Job], ahead: int
) -> Iterator[tuple[Job, StoredObject]]:
    """`fn` over `jobs` on the pool, at most `ahead` running, results in job order."""
    it = iter(jobs)
    running: deque[tuple[Job, Future[StoredObject]]] = deque()
    for job in it:
        running.append((job, pool.submit(fn, job)))
        if len(running) >= ahead:
            break
    while running:
        job, fut = running.popleft()
        nxt = next(it, None)
        if nxt is not None:
            running.append((nxt, pool.submit(fn, nxt)))
        yield job, fut.result()


@dataclass
class _InFlight(Generic[R]):
    job: Job
    stored: StoredObject
    ingest: Future[Receipt]
    follow: list[Future[Receipt]] = field(default_factory=list)
    result: R | None = None


@dataclass
class Pipeline:
    vault: Vault
    who: Principal
    plan: IngestPlan
    zf: zipfile.ZipFile
    progress: Progress
    max_size: int

    def store(self, job: Job) -> StoredObject:
        ingest = Ingest(self.vault, self.who, self._plan(job.meta), self._begin())
        try:
            for chunk in _member_chunks(self.zf, job.member):
                ingest.upload.write(chunk)
            return ingest.commit()
        finally:
            ingest.abort()  # a no-op after commit

    def _begin(self) -> Upload:
        return self.vault.store.begin_upload(max_size=self.max_size, retention=self.plan.retention)

    def _plan(self, meta: ArtifactMeta) -> IngestPlan:
        # The case and its retention were checked once for the whole collection.
        return IngestPlan(self.plan.case, meta, self.plan.retention, None)

    def run(
        self,
        jobs: Iterable[Job],
        follow: Callable[[Job, StoredObject], tuple[list[EventDraft], R]],
    ) -> list[R]:
        """Store, ingest and seal every job; `follow` gives the drafts to seal once a job's
        ingest is sealed, and what to return for it. Results in job order."""
        ingests: deque[_InFlight[R]] = deque()
        follows: deque[_InFlight[R]] = deque()
        out: list[R] = []

        def settle(block: bool) -> None:
            """Move sealed ingests on to their follow-ups, and finished jobs out."""
            newly: list[_InFlight[R]] = []
            while ingests and (block or ingests[0].ingest.done()):
                f = ingests.popleft()
                sealed(f.ingest)
                newly.append(f)
                block = False  # one wait, then whatever else is already sealed
            if newly:
                hold_if_case_held(self.vault, self.plan.case.id, [f.stored.key for f in newly])
                for f in newly:
                    drafts, f.result = follow(f.job, f.stored)
                    f.follow = [submit(self.vault, d) for d in drafts]
                    follows.append(f)
            while follows and (not ingests or all(x.done() for x in follows[0].follow)):
                f = follows.popleft()
                for x in f.follow:
                    sealed(x)
                assert f.result is not None
                out.append(f.result)
                self.progress.sealed(1, f.stored.digests.size)
                if f.follow:
                    crash_point("collection.item_sealed")

        with ThreadPoolExecutor(STREAMS, thread_name_prefix="collection") as pool:
            try:
                for job, stored in _in_order(pool, self.store, jobs, STREAMS * 2):
                    d = ingest_draft(self.who, self._plan(job.meta), stored, job.artifact_id)
                    ingests.append(_InFlight(job, stored, submit(self.vault, d)))
                    settle(block=len(ingests) + len(follows) >= WINDOW)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
            while ingests or follows:
                settle(block=True)
        return out
