"""kill -9 while a resumable upload completes, then complete it again (issue 6).

The session survives the crash (it is in the database, its bytes in the spool). Whether
the retried `complete` replays or ingests depends on one thing: was the first ingest
event sealed? If it was, that artifact is evidence already and the retry must answer
with it (200, same id): a second artifact for one upload would be a custody record of
a collection that never happened. If it was not, nothing is evidence yet and the retry
ingests (201), once.
"""

from __future__ import annotations

import hashlib
import os
import signal
from pathlib import Path

import httpx
import pytest

from tests.crash.harness import CrashVault, ingest_events, new_case
from tests.uploads.helpers import create, patch


@pytest.mark.parametrize(
    ("point", "sealed"),
    # after_archive is the same case as after_commit for a completion (tests/crash covers
    # it for single-request uploads); two points keep the crash suite's run time down.
    [("seal.before_commit", False), ("seal.after_commit", True)],
)
def test_complete_again_after_a_crash_gives_one_artifact(
    point: str, sealed: bool, db_url: str, tmp_path: Path
) -> None:
    v = CrashVault(tmp_path, db_url)
    data = os.urandom(300 * 1024 + 3)
    digest = hashlib.sha256(data).hexdigest()
    with v.serve() as (url, _), v.client(url, v.collector) as c:
        case, _ = new_case(c, f"resumable crash at {point}")

    with v.serve(crash_at=point) as (url, proc), v.client(url, v.collector) as c:
        r = create(c, case, data, file_name="memory.lime")
        assert r.status_code == 201, r.text
        uid = r.json()["upload_id"]
        assert patch(c, uid, 0, data).status_code == 200
        with pytest.raises(httpx.TransportError):
            c.post(f"/v1/uploads/{uid}/complete")
        assert proc.wait(30) == -signal.SIGKILL
    assert f"crash point {point} reached" in v.log.read_text()
    claimed = v.db("SELECT artifact_id, state FROM upload_sessions WHERE id = :u", u=uid)
    assert claimed[0][0] is not None and claimed[0][1] == "open", claimed

    with v.serve() as (url, _), v.client(url, v.collector) as c:
        again = c.post(f"/v1/uploads/{uid}/complete")
        assert again.status_code == (200 if sealed else 201), again.text
        art = again.json()["artifact"]
        if sealed:
            assert art["id"] == claimed[0][0]  # the artifact the crashed completion sealed
        assert again.json()["receipt"]["event"] is not None
        third = c.post(f"/v1/uploads/{uid}/complete")
        assert third.status_code == 200 and third.json()["artifact"]["id"] == art["id"]
        listed = c.get(f"/v1/cases/{case}/artifacts").json()
        assert [a["id"] for a in listed if a["sha256"] == digest] == [art["id"]]
        got = c.get(f"/v1/artifacts/{art['id']}/content", params={"reason": "crash test"})
        assert got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == digest
        [event] = ingest_events(v.entries(url), digest)
        assert event["event"]["item"] == art["id"]
    done = v.audit()
    assert done.returncode == 0, done.stdout + done.stderr
