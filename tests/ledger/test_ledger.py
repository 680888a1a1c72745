"""The ledger against real databases: sealing, per-item chains, proofs, receipts, archive."""

from __future__ import annotations

import hashlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from custody.ledger import EventDraft, Ledger, UnknownEntry
from custody.sequencer import Sequencer
from custody.signing import NoteSigner
from tests.ledger.conftest import ORIGIN
from tests.support.openssl_tsa import openssl_ts_verify
from verify.checkpoint import Checkpoint
from verify.errors import CanonicalEncodingError
from verify.events import chain_key, decode_event
from verify.merkle import root_from_leaf_hashes, verify_consistency, verify_inclusion
from verify.policy import VerificationPolicy
from verify.verifier import Verifier


def draft(i: int, item: str | None = "art-1", case: str = "IR-2026-0001") -> EventDraft:
    return EventDraft(
        type="annotation",
        actor_id="alice",
        actor_role="collector",
        case=case,
        item=item,
        body={"note": f"note {i}"},
    )


def pinned(ledger: Ledger, tsa_root: bytes) -> Verifier:
    return Verifier(
        VerificationPolicy(trusted_log_keys=(ledger.log_key,), trusted_tsa_roots=(tsa_root,))
    )


def test_seal_returns_receipts_that_verify_fully(ledger: Ledger, builtin_tsa: object) -> None:
    receipts = ledger.seal([draft(0), draft(1, item="art-2"), draft(2)])
    assert [r.event.index for r in receipts] == [0, 1, 2]
    assert receipts[0].checkpoint.size == 3
    verifier = pinned(ledger, builtin_tsa.root_cert_der)  # type: ignore[attr-defined]
    for r in receipts:
        report = verifier.verify_receipt(r.to_json())
        assert report.ok, report.to_json()
        assert not report.warnings
    names = [c.name for c in verifier.verify_receipt(receipts[0].to_json()).checks]
    assert names[:4] == ["receipt format", "event hash", "log key", "checkpoint signature"]
    assert "inclusion proof" in names and any(n.startswith("timestamp") for n in names)


def test_prev_links_each_item_chain(ledger: Ledger) -> None:
    ledger.seal([draft(0), draft(1, item="art-2")])
    ledger.seal([draft(2), draft(3, item=None)])
    events = [decode_event(e.canonical) for e in ledger.entries(0, 4)]
    assert events[0].prev is None and events[1].prev is None
    assert events[2].prev == events[0].leaf_hash  # same item, across seals
    assert events[3].prev is None and events[3].chain_key == chain_key("IR-2026-0001", None)
    assert [e.index for e in ledger.chain("item:art-1")] == [0, 2]


def test_checkpoints_are_consistent_and_roots_match_leaves(ledger: Ledger) -> None:
    sizes = []
    for batch in range(5):
        ledger.seal([draft(batch * 10 + i, item=f"a{i % 3}") for i in range(batch + 1)])
        sizes.append(ledger.size())
    leaves = [e.leaf_hash for e in ledger.entries(0, ledger.size())]
    for s1 in sizes:
        cp1 = ledger.checkpoint(s1)
        assert cp1.root == root_from_leaf_hashes(leaves[:s1])
        for s2 in sizes:
            if s1 <= s2:
                cp2 = ledger.checkpoint(s2)
                verify_consistency(s1, s2, ledger.consistency(s1, s2), cp1.root, cp2.root)
    for i, leaf in enumerate(leaves):
        verify_inclusion(leaf, i, sizes[-1], ledger.inclusion(i, sizes[-1]), ledger.root(sizes[-1]))


def test_every_stored_token_passes_openssl(ledger: Ledger, builtin_tsa: object) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509 import load_der_x509_certificate

    ledger.seal([draft(0)])
    ledger.seal([draft(1)])
    ca_pem = load_der_x509_certificate(builtin_tsa.root_cert_der).public_bytes(Encoding.PEM)  # type: ignore[attr-defined]
    for size in (1, 2):
        cp = ledger.checkpoint(size)
        assert cp.timestamps and cp.tokens_pending == 0
        digest = hashlib.sha256(Checkpoint(ORIGIN, cp.size, cp.root).body()).digest()
        for t in cp.timestamps:
            openssl_ts_verify(t.tsr_der, digest, ca_pem)


def test_seals_are_archived_in_the_worm_store(ledger: Ledger) -> None:
    ledger.seal([draft(0), draft(1)])
    ledger.seal([draft(2)])
    assert ledger.store is not None
    keys = sorted(ledger.store.list_keys("ledger/seals/"))
    assert keys == ["ledger/seals/000000000000002.json", "ledger/seals/000000000000003.json"]
    doc = json.loads(ledger.store.read_bytes(keys[1]))
    assert doc["first"] == 2 and doc["size"] == 3 and len(doc["events"]) == 1
    assert doc["checkpoint"] == ledger.checkpoint(3).note.decode()
    assert list(ledger.store.list_keys("ledger/timestamps/"))


def test_tsa_outage_leaves_tokens_pending_then_recovers(
    db_url: str, tmp_path: object, signer: NoteSigner, builtin_tsa: object
) -> None:
    from custody import migrations
    from custody.db import make_engine

    class Flaky:
        name = "flaky"
        up = False

        def timestamp(self, digest: bytes) -> object:
            if not self.up:
                raise ConnectionError("TSA unreachable")
            return builtin_tsa.timestamp(digest)  # type: ignore[attr-defined]

        def trust_roots(self) -> list[bytes]:
            return [builtin_tsa.root_cert_der]  # type: ignore[attr-defined]

    engine = make_engine(db_url)
    migrations.upgrade(engine)
    flaky = Flaky()
    ledger = Ledger(engine, ORIGIN, signer, [flaky])  # type: ignore[list-item]
    receipts = ledger.seal([draft(0)])
    assert receipts[0].checkpoint.tokens_pending == 1 and not receipts[0].checkpoint.timestamps
    report = Verifier(VerificationPolicy()).verify_receipt(receipts[0].to_json())
    assert not report.ok and report.first_failure and report.first_failure.name == "timestamp"
    assert ledger.retry_pending_timestamps() == 0
    flaky.up = True
    # A periodic retry spares checkpoints young enough to be another sealer's business.
    assert ledger.retry_pending_timestamps(older_than_s=3600) == 0
    assert ledger.retry_pending_timestamps() == 1
    assert ledger.checkpoint(1).tokens_pending == 0
    assert Verifier().verify_receipt(ledger.receipt(0).to_json()).ok
    engine.dispose()


def test_a_token_saved_first_by_another_process_keeps_the_seal(
    db_url: str, signer: NoteSigner, builtin_tsa: object
) -> None:
    """Two vault processes share a database: while one seals and waits for its token, the
    other's retry pass fetches and saves a token for that same checkpoint from the same TSA.
    The seal must still succeed (its events are committed), with one token kept, not two."""
    from sqlalchemy import text

    from custody import migrations
    from custody.db import make_engine

    class SameTSA:
        name = "shared"

        def __init__(self, before: object = None) -> None:
            self.before = before

        def timestamp(self, digest: bytes) -> object:
            if self.before is not None:
                racing, self.before = self.before, None
                assert racing.retry_pending_timestamps() == 1  # type: ignore[attr-defined]
            return builtin_tsa.timestamp(digest)  # type: ignore[attr-defined]

        def trust_roots(self) -> list[bytes]:
            return [builtin_tsa.root_cert_der]  # type: ignore[attr-defined]

    engine = make_engine(db_url)
    migrations.upgrade(engine)
    other = Ledger(engine, ORIGIN, signer, [SameTSA()])  # type: ignore[list-item]
    sealing = Ledger(engine, ORIGIN, signer, [SameTSA(before=other)])  # type: ignore[list-item]
    [receipt] = sealing.seal([draft(0)])
    assert receipt.checkpoint.tokens_pending == 0
    assert len(receipt.checkpoint.timestamps) == 1
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM timestamps")).scalar_one() == 1
        pending = conn.execute(text("SELECT tokens_pending FROM checkpoints")).scalar_one()
    assert pending == 0
    assert pinned(sealing, builtin_tsa.root_cert_der).verify_receipt(receipt.to_json()).ok  # type: ignore[attr-defined]
    engine.dispose()


def test_group_commit_batches_concurrent_appends(ledger: Ledger, builtin_tsa: object) -> None:
    seq = Sequencer(ledger, interval=0.2, max_batch=1000).start()
    try:
        with ThreadPoolExecutor(max_workers=32) as pool:
            receipts = list(pool.map(lambda i: seq.append(draft(i, item=f"x{i % 7}")), range(200)))
    finally:
        seq.stop()
    assert sorted(r.event.index for r in receipts) == list(range(200))
    assert seq.seals < 20  # 200 callers shared far fewer seals than events
    verifier = pinned(ledger, builtin_tsa.root_cert_der)  # type: ignore[attr-defined]
    assert all(verifier.verify_receipt(r.to_json()).ok for r in receipts)


def test_max_batch_splits_seals(ledger: Ledger) -> None:
    seq = Sequencer(ledger, interval=5.0, max_batch=10).start()
    try:
        futures = [seq.submit(draft(i)) for i in range(25)]
        results = [f.result(30) for f in futures]
    finally:
        seq.stop()
    sizes = sorted({r.checkpoint.size for r in results})
    assert sizes[:2] == [10, 20] and sizes[-1] == 25  # the last 5 sealed at stop()


def test_unknown_entries_are_typed_errors(ledger: Ledger) -> None:
    with pytest.raises(UnknownEntry):
        ledger.checkpoint()
    ledger.seal([draft(0)])
    with pytest.raises(UnknownEntry):
        ledger.receipt(5)
    with pytest.raises(UnknownEntry):
        ledger.consistency(1, 9)


def test_seal_failure_rolls_back_everything(ledger: Ledger) -> None:
    ledger.seal([draft(0)])
    bad = EventDraft("annotation", "alice", "collector", {"x": float("nan")}, "IR-1", "a")
    with pytest.raises(CanonicalEncodingError):
        ledger.seal([draft(1), bad])
    assert ledger.size() == 1 and len(ledger.entries(0, 10)) == 1
    ledger.seal([draft(2)])
    assert ledger.size() == 2


def test_concurrent_threads_without_sequencer_never_duplicate(ledger: Ledger) -> None:
    errors: list[Exception] = []

    def worker(n: int) -> None:
        try:
            for i in range(5):
                ledger.seal([draft(n * 100 + i, item=f"w{n}")])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert [e.index for e in ledger.entries(0, 100)] == list(range(20))


def test_sequencer_keeps_sealing_through_tsa_outage_and_catches_up(
    db_url: str, signer: NoteSigner, builtin_tsa: object
) -> None:
    import time

    from custody import migrations
    from custody.db import make_engine

    class Outage:
        name = "outage"
        up = False
        calls = 0

        def timestamp(self, digest: bytes) -> object:
            self.calls += 1
            if not self.up:
                raise ConnectionError("TSA unreachable")
            return builtin_tsa.timestamp(digest)  # type: ignore[attr-defined]

        def trust_roots(self) -> list[bytes]:
            return [builtin_tsa.root_cert_der]  # type: ignore[attr-defined]

    engine = make_engine(db_url)
    migrations.upgrade(engine)
    tsa = Outage()
    ledger = Ledger(engine, ORIGIN, signer, [tsa])  # type: ignore[list-item]
    seq = Sequencer(ledger, interval=0.01, max_batch=5, retry_interval=0.2).start()
    try:
        receipts = [seq.append(draft(i)) for i in range(12)]  # many seals while down
        assert all(r.checkpoint.tokens_pending == 1 for r in receipts)
        # backing off: most seals did not wait on the dead TSA (retry passes may ask once each)
        assert tsa.calls < len({r.checkpoint.size for r in receipts})
        tsa.up = True
        deadline = time.monotonic() + 20
        while any(ledger.checkpoint(r.checkpoint.size).tokens_pending for r in receipts):
            assert time.monotonic() < deadline, "pending tokens were never fetched"
            time.sleep(0.05)
    finally:
        seq.stop()
    for r in receipts:
        assert (
            Verifier().verify_receipt(ledger.receipt(r.event.index, r.checkpoint.size).to_json()).ok
        )
    engine.dispose()
