"""The issue's end-to-end run, at its size: a fresh vault, two cases, several artifacts
including one of 200 MiB, transfers, downloads, a legal hold, export with the CLI, then
`locard verify` of the bundle passes offline; each tamper is in tests/bundles/test_tamper.

The 200 MiB artifact is generated and hashed chunk by chunk, sent streaming and read
back streaming: the test itself never holds it either.
"""

from __future__ import annotations

import hashlib
import json
import random
import zipfile
from collections.abc import Iterator
from pathlib import Path

from tests.bundles.conftest import cli, client_env, populate, trust
from tests.support.downloads import download_sha256
from tests.support.live_server import live_vault, make_settings

MiB = 1024 * 1024
BIG = 200 * MiB


def big_chunks() -> Iterator[bytes]:
    rng = random.Random(4242)  # the same bytes on every call
    for _ in range(BIG // MiB):
        yield rng.randbytes(MiB)


def test_two_cases_200_mib_export_and_verify_offline(tmp_path: Path) -> None:
    digest = hashlib.sha256()
    for chunk in big_chunks():
        digest.update(chunk)
    big_sha = digest.hexdigest()
    settings = make_settings(tmp_path / "vault", f"sqlite:///{tmp_path / 'locard.db'}")
    with live_vault(settings) as live:
        first = populate(live)  # artifacts, download, range read, containment, transfer, hold
        other = populate(live)  # the second case: must not leak into the first's bundle
        with live.client("collector") as c:
            r = c.post(
                f"/v1/cases/{first.case_id}/artifacts",
                params={"file_name": "memory.lime", "sha256": big_sha},
                content=big_chunks(),
            )
            assert r.status_code == 201, r.text
            big_id = r.json()["artifact"]["id"]
            assert download_sha256(c, big_id, "memory triage") == big_sha
            r = c.post(f"/v1/cases/{first.case_id}/members", json={"principal": "legal"})
            assert r.status_code == 201, r.text
            r = c.post(f"/v1/artifacts/{big_id}/transfers", json={"to": "legal", "reason": "hold"})
            assert r.status_code == 201, r.text

        key, root = trust(live, tmp_path)
        env = client_env(live, tmp_path)
        bundle = tmp_path / "case.zip"
        r = cli("export", first.case_id, "-o", str(bundle), env=env)
        assert r.returncode == 0, r.stderr

    # Offline, the vault stopped: only the bundle and what the auditor pinned.
    r = cli("verify", str(bundle), "--trusted-key", str(key), "--trusted-tsa-ca", str(root))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "VERIFIED" in r.stdout
    with zipfile.ZipFile(bundle) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        entry = next(a for a in manifest["artifacts"] if a["id"] == big_id)
        assert zf.getinfo(entry["file"]).file_size == BIG
    assert manifest["case"] == first.case_id
    chains = {e["chain"] for e in manifest["events"]}
    assert chains == {f"case:{first.case_id}"} | {f"item:{a}" for a in [*first.artifacts, big_id]}
    assert not set(other.artifacts) & {a["id"] for a in manifest["artifacts"]}
    assert len(manifest["artifacts"]) == len(first.artifacts) + 1
