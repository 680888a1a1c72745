"""`locard verify` of a bundle: artifact bytes MB/s against `sha256sum`, proof checks events/s.

Run: `.venv/bin/python -m bench.verify [--artifact-mib 1024] [--events 10000]`.
Builds a real vault in a temp dir (SQLite, local store, built-in TSA), ingests the
artifacts through the same service path as the API, seals the events, exports the
case's bundle twice (with and without content) and times the offline verifier.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

from app.artifacts.metadata import ArtifactMeta
from app.artifacts.service import plan_ingest, record_ingest
from app.auth.models import Principal
from app.auth.service import create_principal
from app.bundles.service import start_export, stream_bundle
from app.cases.models import Severity
from app.cases.schemas import CaseCreate
from app.cases.service import create_case
from app.settings import Settings
from app.vault import Vault, init_vault, open_vault
from bench.common import machine_info, report
from custody.ledger import EventDraft
from verify.bundle import verify_bundle
from verify.policy import VerificationPolicy

CHUNK = 1 << 20


def ingest_file(vault: Vault, who: Principal, case_id: str, path: Path) -> str:
    plan = plan_ingest(vault, who, case_id, ArtifactMeta(file_name=path.name), None)
    with vault.store.begin_upload(retention=plan.retention) as upload:
        with path.open("rb") as fh:
            while block := fh.read(CHUNK):
                upload.write(block)
        stored = upload.commit()
    art, _ = record_ingest(vault, who, plan, stored)
    return art.id


def export(vault: Vault, who: Principal, case_id: str, dest: Path, content: bool) -> Path:
    plan = start_export(vault, who, case_id, content)
    with dest.open("wb") as fh:
        for piece in stream_bundle(vault, plan):
            fh.write(piece)
    return dest


def read_and_hash_members(path: Path) -> float:
    """The floor for proof checking: unzip and hash every member once, nothing else."""
    t0 = time.perf_counter()
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            hashlib.sha256(zf.read(name)).digest()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--artifact-mib", type=int, default=1024)
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--events", type=int, default=10_000)
    args = ap.parse_args()
    print(f"# Locard bundle verification benchmark — {machine_info()}")
    tmp = Path(tempfile.mkdtemp(prefix="locard-bench-verify-"))
    try:
        settings = Settings(
            data_dir=tmp / "vault", seal_interval_ms=5, origin="bench.locard/ledger"
        )
        init_vault(settings)
        vault = open_vault(settings)
        who, _ = create_principal(vault, "bench", "collector")
        admin, _ = create_principal(vault, "auditor", "admin")
        case, _ = create_case(vault, who, CaseCreate(title="bench", severity=Severity.P3))
        per_file = args.artifact_mib // args.files
        files = []
        for i in range(args.files):
            p = tmp / f"artifact-{i}.bin"
            with p.open("wb") as fh:
                for _ in range(per_file):
                    fh.write(os.urandom(CHUNK))
            files.append(p)
        items = [ingest_file(vault, who, case.id, p) for p in files]
        batch = []
        for n in range(args.events - len(items)):
            batch.append(
                EventDraft("annotation", who.id, who.role, {"n": n}, case.id, items[n % len(items)])
            )
            if len(batch) == 1000:
                vault.ledger.seal(batch)
                batch = []
        if batch:
            vault.ledger.seal(batch)
        full = export(vault, admin, case.id, tmp / "full.zip", True)
        proofs = export(vault, admin, case.id, tmp / "proofs.zip", False)
        policy = VerificationPolicy(
            trusted_log_keys=(vault.ledger.log_key,),
            trusted_tsa_roots=(vault.keyring.tsa.root_cert_der,),
        )
        vault.close()
        total_mb = sum(p.stat().st_size for p in files) / 1e6

        t0 = time.perf_counter()
        subprocess.run(["sha256sum", *map(str, files)], check=True, capture_output=True)
        sha_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        r_proofs = verify_bundle(proofs, policy)
        proofs_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        r_full = verify_bundle(full, policy)
        full_s = time.perf_counter() - t0
        assert r_proofs.ok and r_full.ok, (r_proofs.to_json(), r_full.to_json())

        events = args.events
        bytes_s = max(full_s - proofs_s, 1e-9)  # the artifact part of the full verification
        report(
            "verify artifacts MB/s",
            total_mb / bytes_s,
            "MB/s",
            total_mb / sha_s,
            "sha256sum MB/s of the same files",
        )
        report(
            "verify proofs events/s (no content)",
            events / proofs_s,
            "ev/s",
            total_mb / sha_s,
            "sha256sum MB/s (for scale)",
        )
        report("verify whole bundle s", full_s, "s", sha_s, "sha256sum s")
        print(
            f"  bundle: {full.stat().st_size / 1e6:,.0f} MB, {events} events, "
            f"{len(items)} artifacts; proofs-only bundle {proofs.stat().st_size / 1e6:,.1f} MB"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
