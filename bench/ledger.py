"""Ledger benchmarks: sealed append throughput, proof generation at scale, full audit.

Run: `.venv/bin/python -m bench.ledger [--events N] [--sizes 100000,1000000] [--pg URL]`.
Every figure is printed as a ratio against a baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import Engine, create_engine, insert, select, text

from bench.common import machine_info, median_us, report
from custody import migrations
from custody.db import make_engine
from custody.ledger import EventDraft, Ledger
from custody.models import TreeNode
from custody.nodes import DbNodeSource
from custody.proofs import (
    MemoryNodeStore,
    append_leaves,
    consistency_proof,
    frontier_coords,
    inclusion_proof,
)
from custody.sequencer import Sequencer
from custody.signing import NoteSigner
from custody.tsa_builtin import BuiltinTSA
from verify.merkle import RootAccumulator, leaf_hash

ORIGIN = "bench.locard.example/ledger"


def bench_append(engine: Engine, label: str, tsa: BuiltinTSA, events: int) -> list[str]:
    ledger = Ledger(engine, ORIGIN, NoteSigner.generate(ORIGIN), [tsa])
    seq = Sequencer(ledger, interval=0.25, max_batch=1000).start()
    drafts = [
        EventDraft(
            "access",
            f"user{i % 50}",
            "legal",
            {"reason": "review", "n": i},
            "IR-2026-0001",
            f"art-{i % 500}",
        )
        for i in range(events)
    ]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = list(pool.map(seq.submit, drafts))
    for f in futures:
        f.result()
    elapsed = time.perf_counter() - t0
    seq.stop()
    sample = ledger.event(0).canonical
    sha_us = median_us(lambda: hashlib.sha256(sample).digest(), 2001)
    per_event_us = elapsed / events * 1e6
    return [
        report(
            f"append+seal {label} events/s",
            events / elapsed,
            "ev/s",
            1e6 / sha_us,
            "sha256(event) ops/s",
        ),
        report(
            f"append+seal {label} µs/event",
            per_event_us,
            "µs",
            sha_us,
            "one sha256 of the event bytes",
        ),
        f"  ({seq.seals} seals, {events / max(seq.seals, 1):.0f} events per seal)",
    ]


def populate_tree(engine: Engine, size: int) -> None:
    """Synthetic tree of `size` random leaves written straight into tree_nodes."""
    table = TreeNode.__table__  # type: ignore[attr-defined]
    store = MemoryNodeStore()
    done = 0
    rng = random.Random(7)
    batch = 200_000
    while done < size:
        n = min(batch, size - done)
        leaves = [rng.randbytes(32) for _ in range(n)]
        nodes = append_leaves(done, store, leaves)
        # Keep only what later appends need (the frontier) in memory: constant memory.
        store.add(nodes)
        keep = frontier_coords(done + n)
        store = MemoryNodeStore((lv, ix, h) for (lv, ix), h in store.get_nodes(keep).items())
        with engine.begin() as conn:
            conn.execute(insert(table), [{"level": a, "index": b, "hash": c} for a, b, c in nodes])
        done += n
        print(f"    populated {done:,}/{size:,} leaves", flush=True)


def bench_proofs(engine: Engine, label: str, size: int) -> list[str]:
    rng = random.Random(1)
    lines = []
    with engine.connect() as conn:
        src = DbNodeSource(conn)
        table = TreeNode.__table__  # type: ignore[attr-defined]
        row_us = median_us(
            lambda: conn.execute(
                select(table.c.hash).where(table.c.level == 0, table.c.index == rng.randrange(size))
            ).scalar_one(),
            501,
        )
        incl_us = median_us(lambda: inclusion_proof(rng.randrange(size), size, src), 301)
        cons_us = median_us(lambda: consistency_proof(rng.randrange(1, size), size, src), 301)
    lines.append(
        report(
            f"inclusion proof {label} n={size:,}", incl_us, "µs", row_us, "one primary-key row read"
        )
    )
    lines.append(
        report(
            f"consistency proof {label} n={size:,}",
            cons_us,
            "µs",
            row_us,
            "one primary-key row read",
        )
    )
    return lines


def bench_audit(engine: Engine, label: str) -> list[str]:
    """Recompute the root from every stored event, as `locard verify`'s audit does."""
    t0 = time.perf_counter()
    acc = RootAccumulator()
    n = 0
    with engine.connect() as conn:
        for (canonical,) in conn.execute(
            text("SELECT canonical FROM ledger_events ORDER BY leaf_index")
        ):
            acc.append(leaf_hash(bytes(canonical)))
            n += 1
    elapsed = time.perf_counter() - t0
    t1 = time.perf_counter()
    with engine.connect() as conn:
        for (canonical,) in conn.execute(
            text("SELECT canonical FROM ledger_events ORDER BY leaf_index")
        ):
            hashlib.sha256(bytes(canonical)).digest()
    base = time.perf_counter() - t1
    return [
        report(
            f"audit {label} (read+leaf+root) leaves/s",
            n / elapsed,
            "leaves/s",
            n / base,
            "read+sha256 only",
        )
    ]


def bench_root(size: int) -> list[str]:
    rng = random.Random(3)
    leaves = [rng.randbytes(32) for _ in range(size)]
    t0 = time.perf_counter()
    acc = RootAccumulator()
    for h in leaves:
        acc.append(h)
    acc.root()
    elapsed = time.perf_counter() - t0
    t1 = time.perf_counter()
    for h in leaves:
        hashlib.sha256(b"\x01" + h + h).digest()
    base = time.perf_counter() - t1
    return [
        report(
            f"root recompute n={size:,} leaves/s",
            size / elapsed,
            "leaves/s",
            size / base,
            "one sha256 node hash per leaf",
        )
    ]


def fresh_pg(admin_url: str) -> tuple[str, Engine]:
    name = "locard_bench_" + uuid.uuid4().hex[:8]
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    return name, make_engine(url)


def drop_pg(admin_url: str, name: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--no-pg", action="store_true")
    args = ap.parse_args()
    print(f"# Locard ledger benchmark — {machine_info()}")
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        tsa = BuiltinTSA.create(Path(tmp) / "tsa")
        engines: list[tuple[str, Engine, str | None]] = []
        sqlite = make_engine(f"sqlite:///{tmp}/bench.db")
        engines.append(("sqlite", sqlite, None))
        if not args.no_pg:
            name, pg = fresh_pg(args.pg)
            engines.append(("postgres", pg, name))
        try:
            for label, engine, _ in engines:
                migrations.upgrade(engine)
                lines += bench_append(engine, label, tsa, args.events)
                lines += bench_audit(engine, label)
            for size in [int(s) for s in args.sizes.split(",") if s]:
                lines += bench_root(size)
                for label, _, _ in engines:
                    pg_name: str | None = None
                    if label == "sqlite":
                        proof_engine = make_engine(f"sqlite:///{tmp}/proofs-{size}.db")
                    else:
                        pg_name, proof_engine = fresh_pg(args.pg)
                    migrations.upgrade(proof_engine)
                    populate_tree(proof_engine, size)
                    lines += bench_proofs(proof_engine, label, size)
                    proof_engine.dispose()
                    if pg_name:
                        drop_pg(args.pg, pg_name)
        finally:
            for _, engine, db_name in engines:
                engine.dispose()
                if db_name:
                    drop_pg(args.pg, db_name)


if __name__ == "__main__":
    main()
