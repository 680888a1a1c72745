"""A damaged SQLite file: `locard audit` names it, a start after a crash refuses it, and
the way out (`locard rebuild --from-store`) works. The damage is real: bytes overwritten
in the middle of the database file, as a failing disk or a bad copy would leave it.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import httpx

from tests.equivocation.helpers import (
    CrashVault,
    corrupt_middle,
    drop_database,
    locard_run,
    one_line,
    start_refused,
)


def sqlite_vault(tmp_path: Path) -> CrashVault:
    v = CrashVault(tmp_path, f"sqlite:///{tmp_path / 'locard.db'}")
    return v


def fill(c: httpx.Client, n: int = 12) -> None:
    """Enough rows that the file has a middle to damage."""
    cid = c.post("/v1/cases", json={"title": "disk", "severity": "P2"}).json()["case"]["id"]
    for i in range(n):
        r = c.post(
            f"/v1/cases/{cid}/artifacts",
            params={"file_name": f"f{i}.bin"},
            content=os.urandom(2048),
        )
        assert r.status_code == 201, r.text
        note = {"text": "x" * 3000}
        assert c.post(
            f"/v1/artifacts/{r.json()['artifact']['id']}/annotations", json=note
        ).is_success


def test_audit_names_a_damaged_database_then_rebuild_recovers(tmp_path: Path) -> None:
    v = sqlite_vault(tmp_path)
    with v.serve() as (url, _), v.client(url, v.collector) as c:
        fill(c)
    size = v.db_ledger_size()
    corrupt_middle(v.db_url)

    done = locard_run(v, "audit")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    said = one_line(done.stdout)
    assert "database integrity" in said and "VERIFICATION FAILED" in said, said
    as_json = locard_run(v, "audit", "--json")
    assert as_json.returncode == 1 and "Traceback" not in as_json.stderr, as_json.stderr
    checks = json.loads(as_json.stdout)["reports"][0]["checks"]
    assert [(c["name"], c["ok"], c["check"]) for c in checks] == [
        ("database integrity", False, "database")
    ], checks

    drop_database(v.db_url, v.data_dir)
    rebuilt = locard_run(v, "rebuild", "--from-store")
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "database integrity" in one_line(rebuilt.stdout)
    with v.serve() as (url, _):
        assert httpx.get(f"{url}/healthz").status_code == 200
    assert v.db_ledger_size() == size
    again = locard_run(v, "audit")
    assert again.returncode == 0, again.stdout


def test_a_start_after_a_crash_checks_the_database_first(tmp_path: Path) -> None:
    v = sqlite_vault(tmp_path)
    with v.serve() as (url, proc), v.client(url, v.collector) as c:
        fill(c)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert list((v.data_dir / "run").glob("*.open")), "the killed server left its marker"
    corrupt_middle(v.db_url)
    said = start_refused(v)
    assert "quick_check found damage" in said or "cannot be read" in said, said
    assert "locard rebuild --from-store" in said, said
    # Still refused the next time: the marker stays until the database passes its check.
    assert list((v.data_dir / "run").glob("*.open"))
    done = locard_run(v, "user", "add", "ops", "--role", "admin")
    assert done.returncode == 1 and "locard rebuild --from-store" in one_line(done.stderr)

    drop_database(v.db_url, v.data_dir)
    assert locard_run(v, "rebuild", "--from-store").returncode == 0
    with v.serve() as (url, _):
        assert httpx.get(f"{url}/healthz").status_code == 200
    assert not list((v.data_dir / "run").glob("*.open"))
