"""Exporting and verifying stream: memory stays flat whatever the artifacts' size."""

from __future__ import annotations

import hashlib
import random
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

from tests.bundles.conftest import export_api, pinned_policy
from tests.support.live_server import live_vault, make_settings
from verify.bundle import verify_bundle

MiB = 1024 * 1024
SIZE = 100 * MiB
#: Python allocations allowed at the peak, artifact bytes aside: a few chunks and buffers.
BUDGET = 16 * MiB


def _chunks() -> Iterator[bytes]:
    rng = random.Random(20261122)  # the same bytes on every call, never all held at once
    for _ in range(SIZE // MiB):
        yield rng.randbytes(MiB)


def test_export_and_verify_in_constant_memory(tmp_path: Path) -> None:
    digest = hashlib.sha256()
    for chunk in _chunks():
        digest.update(chunk)
    settings = make_settings(tmp_path / "vault", f"sqlite:///{tmp_path / 'locard.db'}")
    with live_vault(settings) as live:
        with live.client("collector") as c:
            case_id = c.post("/v1/cases", json={"title": "Memory image", "severity": "P1"}).json()[
                "case"
            ]["id"]
            r = c.post(
                f"/v1/cases/{case_id}/artifacts",
                params={"file_name": "mem.raw", "sha256": digest.hexdigest()},
                content=_chunks(),
            )
            assert r.status_code == 201, r.text

        # Server and client run in this process, so this measures both sides of the export.
        tracemalloc.start()
        try:
            bundle = export_api(live, case_id, tmp_path / "bundle.zip")
            _, export_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert bundle.stat().st_size > SIZE

        tracemalloc.start()
        try:
            report = verify_bundle(bundle, pinned_policy(live))
            _, verify_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert report.ok, report.to_json()
    print(f"peak Python memory: export {export_peak / MiB:.1f} MiB, ", end="")
    print(f"verify {verify_peak / MiB:.1f} MiB")
    assert export_peak < BUDGET, f"export peaked at {export_peak / MiB:.1f} MiB"
    assert verify_peak < BUDGET, f"verify peaked at {verify_peak / MiB:.1f} MiB"
