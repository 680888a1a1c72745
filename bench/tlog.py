"""Costs of speaking the transparency-log standards, each against the seal alone (issue 16).

* tlog-tiles: sealing 1,000-event workloads with tiles and entry bundles written after each
  seal, against the same seals without them (same run, same kind of database and store);
* witnesses: the time from calling seal to holding a checkpoint cosigned by a 2-of-3 quorum,
  with three witness servers on loopback, against the seal alone.

Run: `.venv/bin/python -m bench.tlog [--events N] [--batch B] [--seals S]`.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from app.witness.server import create_witness_app
from app.witness.service import Witness
from app.witness.state import WitnessState
from bench.common import machine_info, report
from custody import migrations
from custody.cosigner import Cosigner
from custody.db import make_engine
from custody.ledger import EventDraft, Ledger
from custody.signing import NoteSigner
from custody.tiles import FileSlot, TilePublisher
from custody.witnesses import WitnessClient, WitnessCollector
from storage.local import LocalWormStore
from verify.cosignature import verified_cosignatures
from verify.note import NoteVerifier

ORIGIN = "bench.locard.example/tlog"


def _drafts(first: int, n: int) -> list[EventDraft]:
    return [
        EventDraft(
            "access", f"user{i % 50}", "legal", {"reason": "review", "n": i}, "IR-1", f"a{i % 500}"
        )
        for i in range(first, first + n)
    ]


def _ledger(root: Path, tag: str, signer: NoteSigner) -> Ledger:
    engine = make_engine(f"sqlite:///{root / f'{tag}.db'}")
    migrations.upgrade(engine)
    return Ledger(engine, ORIGIN, signer, [], LocalWormStore(root / f"{tag}-store"))


def _seal_seconds(ledger: Ledger, events: int, batch: int) -> float:
    t0 = time.perf_counter()
    for first in range(0, events, batch):
        ledger.seal(_drafts(first, min(batch, events - first)))
    return time.perf_counter() - t0


def bench_tiles(root: Path, events: int, batch: int) -> None:
    signer = NoteSigner.generate(ORIGIN)
    plain = _ledger(root, "plain", signer)
    tiled = _ledger(root, "tiled", signer)
    assert isinstance(tiled.store, LocalWormStore)
    tiled.tiles = TilePublisher(tiled.engine, tiled.store, FileSlot(root / "tlog" / "checkpoint"))
    # Interleaved rounds, so drift in the machine's load falls on both alike.
    alone, with_tiles = 0.0, 0.0
    rounds = 3
    for _ in range(rounds):
        alone += _seal_seconds(plain, events // rounds, batch)
        with_tiles += _seal_seconds(tiled, events // rounds, batch)
    assert tiled.tiles.published_size() == tiled.size()
    per_k = 1000 / (rounds * (events // rounds))
    report(
        f"seal + tiles, per 1,000 events (batch {batch})",
        with_tiles * per_k * 1000,
        "ms",
        alone * per_k * 1000,
        "seal alone",
    )
    for ledger in (plain, tiled):
        ledger.engine.dispose()


@contextmanager
def _witnesses(root: Path, log_key: str, n: int) -> Iterator[list[tuple[str, str]]]:
    running: list[tuple[uvicorn.Server, threading.Thread, WitnessState]] = []
    out: list[tuple[str, str]] = []
    try:
        for i in range(n):
            signer = NoteSigner.generate(f"bench.witness/w{i}")
            state = WitnessState(root / f"w{i}.db")
            witness = Witness(Cosigner(signer), [NoteVerifier.from_vkey(log_key)], state)
            config = uvicorn.Config(
                create_witness_app(witness), host="127.0.0.1", port=0, log_level="warning"
            )
            server = uvicorn.Server(config)
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            while not server.started:
                time.sleep(0.01)
            port = server.servers[0].sockets[0].getsockname()[1]
            running.append((server, thread, state))
            out.append((f"http://127.0.0.1:{port}", witness.cosigner.vkey()))
        yield out
    finally:
        for server, thread, state in running:
            server.should_exit = True
            thread.join(10)
            state.close()


def bench_quorum(root: Path, seals: int) -> None:
    from verify.cosignature import CosignatureVerifier

    signer = NoteSigner.generate(ORIGIN)
    plain = _ledger(root, "q-plain", signer)
    witnessed = _ledger(root, "q-witnessed", signer)
    with _witnesses(root, signer.vkey(), 3) as ws:
        keys = [CosignatureVerifier.from_vkey(v) for _, v in ws]
        witnessed.witnesses = WitnessCollector(
            witnessed.engine,
            [WitnessClient(u, k) for (u, _), k in zip(ws, keys, strict=True)],
            witnessed.store,
        )
        alone: list[float] = []
        quorum: list[float] = []
        for i in range(seals):
            t0 = time.perf_counter()
            plain.seal(_drafts(i, 1))
            alone.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            (receipt,) = witnessed.seal(_drafts(i, 1))
            # The seal returns once every witness answered; a quorum needs 2 of the 3.
            assert len(verified_cosignatures(receipt.checkpoint.cosigned_note, keys)) >= 2
            quorum.append(time.perf_counter() - t0)
    report(
        "seal to 2-of-3 quorum (3 loopback witnesses)",
        statistics.median(quorum) * 1000,
        "ms",
        statistics.median(alone) * 1000,
        "seal alone",
    )
    for ledger in (plain, witnessed):
        ledger.engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=30_000, help="events per ledger (tiles)")
    ap.add_argument("--batch", type=int, default=100, help="events per seal (tiles)")
    ap.add_argument("--seals", type=int, default=200, help="one-event seals (quorum)")
    args = ap.parse_args()
    print(f"# Locard tlog-tiles and witness benchmark — {machine_info()}")
    tmp = Path(tempfile.mkdtemp(prefix="locard-bench-tlog-"))
    try:
        bench_tiles(tmp, args.events, args.batch)
        bench_quorum(tmp, args.seals)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
