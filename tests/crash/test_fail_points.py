"""kill -9 at each named crash point of an upload, then restart (issue 6).

Each test acknowledges a few writes on a clean server, restarts it with
`LOCARD_CRASH_AT=<point>`, sends the upload that reaches the point (the client sees
the connection drop), first checks on disk that the crash landed exactly there, then
restarts without the variable and asserts the one correct outcome for that point:

| point | sealed? | after restart |
|---|---|---|
| ingest.after_object | no | no artifact, no event; the orphan object reachable by no API |
| seal.before_commit | no | as above: the artifact row rolled back with the event |
| seal.after_commit | yes | archive write redone, token fetched; the artifact was whole at once |
| seal.after_archive | yes | token fetched; the artifact was whole at once |

"Sealed" means the ingest event is committed in the ledger. The client was never
answered, but a committed event is in the tree and cannot be withdrawn, so the
artifact it records must be whole: visible, downloadable, its receipt verifying.
Everything acknowledged before the crash keeps its index and bytes, `locard audit`
passes, and the upload can be sent again.
"""

from __future__ import annotations

import hashlib
import os
import signal
from pathlib import Path

import httpx
import pytest

from custody.faults import POINTS
from tests.api.helpers import staging_files
from tests.crash.harness import Acked, CrashVault, ingest_events, new_case, upload

SEALED = {
    "ingest.after_object": False,
    "seal.before_commit": False,
    "seal.after_commit": True,
    "seal.after_archive": True,
}
# collection.item_sealed is a collection's, not an upload's: tests/collectors/test_resume.py
assert set(SEALED) == POINTS - {"collection.item_sealed"}


@pytest.mark.parametrize("point", sorted(SEALED))
def test_kill_at_crash_point(point: str, db_url: str, tmp_path: Path) -> None:
    v = CrashVault(tmp_path, db_url)
    acked: list[Acked] = []

    # 1. Acknowledged writes on a server with no crash point armed.
    with v.serve() as (url, _), v.client(url, v.collector) as c:
        case, ack = new_case(c, f"crash at {point}")
        acked.append(ack)
        for i in range(3):
            acked.append(upload(c, case, f"before-{i}.bin", os.urandom(4096 + i)))
    size_before = v.db_ledger_size()
    objects_before = v.objects()
    seals_before = v.archived_seals()
    assert seals_before == {int(s) for (s,) in v.db("SELECT size FROM checkpoints")}
    names_before = sorted(a.artifact["file_name"] for a in acked if a.artifact)

    # 2. The upload that reaches the armed point: the server dies, the client gets no answer.
    data = os.urandom(64 * 1024 + 7)
    digest = hashlib.sha256(data).hexdigest()
    with v.serve(crash_at=point) as (url, proc), v.client(url, v.collector) as c:
        with pytest.raises(httpx.TransportError):
            c.post(
                f"/v1/cases/{case}/artifacts",
                params={"file_name": "crashed.bin", "sha256": digest},
                content=data,
            )
        assert proc.wait(30) == -signal.SIGKILL
    assert f"crash point {point} reached" in v.log.read_text()

    # 3. What the crash left, read from the database and the store with the server down.
    hidden = v.db("SELECT id, ingest_index FROM artifacts WHERE sha256 = :d", d=digest)
    assert v.objects() == objects_before | {digest}, "the object was committed before the crash"
    # The artifact row is the ingest event's projection, committed in the seal's own
    # transaction: it exists exactly when the event does.
    if SEALED[point]:
        assert hidden == [(hidden[0][0], size_before)], hidden
    else:
        assert hidden == [], hidden
    new_seal = size_before + 1
    if SEALED[point]:
        assert v.db_ledger_size() == new_seal
        assert v.db("SELECT tokens_pending FROM checkpoints WHERE size = :s", s=new_seal) == [(1,)]
        archived = point == "seal.after_archive"
        assert (new_seal in v.archived_seals()) == archived
    else:
        assert v.db_ledger_size() == size_before
        assert v.archived_seals() == seals_before
    assert new_seal not in v.archived_tokens()

    # 4. Restart with nothing armed.
    with v.serve() as (url, _):
        assert not staging_files(v.store)
        v.check_acked(url, acked)
        entries = v.entries(url)
        listed = v.visible(url, case)
        crashed = ingest_events(entries, digest)
        with v.client(url, v.collector) as c:
            if SEALED[point]:
                # Exactly one new event, the crashed upload's ingest, published whole.
                assert len(entries) == new_seal
                assert [e["index"] for e in crashed] == [size_before]
                art_id = crashed[0]["event"]["item"]
                assert art_id == hidden[0][0]
                assert sorted(a["file_name"] for a in listed) == [*names_before, "crashed.bin"]
                art = c.get(f"/v1/artifacts/{art_id}").json()
                assert (art["sha256"], art["size"], art["ingest_index"]) == (
                    digest,
                    len(data),
                    size_before,
                )
                got = c.get(f"/v1/artifacts/{art_id}/content", params={"reason": "crash test"})
                assert got.status_code == 200 and got.content == data
                with v.client(url, v.auditor) as a:
                    receipt = a.get(f"/v1/ledger/receipts/{size_before}").json()
                assert receipt["timestamps_pending"] == 0 and len(receipt["timestamps"]) == 1
                artifact_file = tmp_path / "crashed.bin"
                artifact_file.write_bytes(data)
                report = v.check.verify_receipt(receipt, artifact=artifact_file)
                assert report.ok, report.first_failure
            else:
                # Nothing was sealed: no event, no artifact, and the object that the
                # crash left in the store is reachable through no API.
                assert len(entries) == size_before
                assert crashed == []
                assert sorted(a["file_name"] for a in listed) == names_before
                assert digest not in {a["sha256"] for a in listed}
                for art_id, _ in hidden:
                    for path in ("", "/content", "/custody"):
                        r = c.get(f"/v1/artifacts/{art_id}{path}", params={"reason": "probe"})
                        assert r.status_code == 404, (path, r.text)
            referenced = {a["sha256"] for a in v.visible(url, case)}
        orphans = v.objects() - referenced
        assert orphans == (set() if SEALED[point] else {digest})

    # 5. The restart repaired the archive itself: every checkpoint archived with its token.
    seals = v.archived_seals()
    assert seals == {int(s) for (s,) in v.db("SELECT size FROM checkpoints")}
    assert v.archived_tokens() == seals
    done = v.audit()
    assert done.returncode == 0, done.stdout + done.stderr
    # The orphan is not evidence, but the auditor is told it is there and what it is.
    orphan_warning = "1 stored object(s) belong to no artifact"
    assert (orphan_warning in " ".join(done.stdout.split())) == (not SEALED[point]), done.stdout

    # 6. The vault takes the upload again (a sealed one too: every upload is its own event).
    with v.serve() as (url, _), v.client(url, v.collector) as c:
        again = upload(c, case, "retried.bin", data)
        assert again.artifact is not None and again.artifact["sha256"] == digest
        assert "deduplicated" not in again.receipt["event"]["body"]  # ingest v2: no cross-case fact
        assert v.check.verify_receipt(again.receipt).ok
        v.check_acked(url, [*acked, again])
    assert v.objects() == objects_before | {digest}
