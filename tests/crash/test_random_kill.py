"""kill -9 at random moments while uploads stream in from several clients (issue 6).

Three to five times, a server busy with concurrent uploads is killed at a random
moment and restarted. Afterwards every acknowledged upload is still there (same
index, same bytes, receipt and consistency verifying offline), each upload whose
answer the crash swallowed is either wholly present (sealed, visible, matching) or
wholly absent, nothing is visible that was never sent, and `locard audit` passes.
The seed is printed on failure; `LOCARD_CRASH_SEED=<n>` replays its timing choices.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.crash.harness import Acked, CrashVault, ingest_events, new_case

WORKERS = 4
MAX_BODY = 256 * 1024


@pytest.mark.soak
def test_random_kill_under_load(db_url: str, tmp_path: Path) -> None:
    seed = int(os.environ.get("LOCARD_CRASH_SEED", random.randrange(1 << 32)))
    rng = random.Random(seed)
    v = CrashVault(tmp_path, db_url)
    acked: list[Acked] = []
    unanswered: dict[str, str] = {}  # sha256 -> file name of uploads cut off by a kill
    refused: list[str] = []
    lock = threading.Lock()
    with v.serve() as (url, _), v.client(url, v.collector) as c:
        case, ack = new_case(c, "random kills")
        acked.append(ack)

    def uploader(url: str, dead: threading.Event, sizes: random.Random, tag: str) -> None:
        with v.client(url, v.collector, timeout=30) as c:
            n = 0
            while not dead.is_set():
                data = os.urandom(sizes.randint(1, MAX_BODY))
                sha = hashlib.sha256(data).hexdigest()
                name = f"{tag}-{n}.bin"
                n += 1
                try:
                    r = c.post(
                        f"/v1/cases/{case}/artifacts",
                        params={"file_name": name, "sha256": sha},
                        content=data,
                    )
                except httpx.TransportError:
                    with lock:
                        unanswered[sha] = name
                    return
                with lock:
                    if r.status_code == 201:
                        body = r.json()
                        acked.append(Acked(body["receipt"], body["artifact"]))
                    else:
                        refused.append(f"{name}: {r.status_code} {r.text[:200]}")

    kills = rng.randint(3, 5)
    for round_ in range(kills):
        with v.serve() as (url, proc):
            dead = threading.Event()
            threads = [
                threading.Thread(
                    target=uploader,
                    args=(url, dead, random.Random(rng.random()), f"r{round_}w{w}"),
                )
                for w in range(WORKERS)
            ]
            start = len(acked)
            for t in threads:
                t.start()
            # Kill a server that is busy: some uploads answered, others streaming or sealing.
            deadline = time.monotonic() + 60
            while len(acked) < start + 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.6))
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            dead.set()
            for t in threads:
                t.join(60)
    info = f"seed {seed}, {kills} kills, {len(acked)} acknowledged, {len(unanswered)} cut off"
    assert not refused, (info, refused)
    assert len(acked) > 2 * kills, info

    with v.serve() as (url, _):
        v.check_acked(url, acked)
        entries = v.entries(url)
        listed = {a["sha256"]: a for a in v.visible(url, case)}
        acked_shas = {a.artifact["sha256"] for a in acked if a.artifact is not None}
        assert acked_shas <= set(listed), info
        assert set(listed) <= acked_shas | set(unanswered), f"visible but never sent: {info}"
        whole = 0
        for sha, name in unanswered.items():
            sealed = ingest_events(entries, sha)
            assert len(sealed) <= 1, (info, name)
            if sealed:
                whole += 1
                assert listed[sha]["id"] == sealed[0]["event"]["item"], (info, name)
                assert listed[sha]["ingest_index"] == sealed[0]["index"], (info, name)
            else:
                assert sha not in listed, (info, name)
        # Every ingest in the ledger is an upload that was sent, and visible.
        ingests = [e for e in entries if e["event"]["type"] == "ingest"]
        assert len(ingests) == len(listed), info
    print(f"{info}; {whole} of the cut-off uploads had been sealed and were published")

    seals = v.archived_seals()
    assert seals == {int(s) for (s,) in v.db("SELECT size FROM checkpoints")}, info
    assert v.archived_tokens() == seals, info
    done = v.audit()
    assert done.returncode == 0, (info, done.stdout + done.stderr)
