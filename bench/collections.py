"""A collector's container ingested item by item, against unzipping it (issue 17).

Builds a synthetic Velociraptor offline collection (layout as app/collectors/velociraptor.py
reads it) of N files of 4-64 KiB, then in the same run: extracts it to disk with Python's
zipfile and with `unzip` (the baselines), and sends it to a fresh vault's
`POST /v1/cases/{id}/collections`, which stores, hashes, checks and seals every file as
its own artifact. Reports files/s and the ratio to each baseline.

Run: `.venv/bin/python -m bench.collections [--files N]`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

import httpx

from app.collectors.velociraptor import member_of
from bench.common import machine_info, report
from bench.ingest import file_chunks, vault_server

STAMP = "2026-11-03T09:15:00.000000000Z"


def build(path: Path, files: int, seed: int = 17) -> int:
    """The collection at `path`; returns its total payload bytes."""
    rnd = random.Random(seed)
    total = 0
    uploads, rows = [], []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for i in range(files):
            data = os.urandom(rnd.randint(4, 64) << 10)
            total += len(data)
            source = f"C:\\Users\\u{i % 50}\\AppData\\f{i:05d}.bin"
            comps = ["uploads", "auto", *source.split("\\")]
            zf.writestr(member_of(comps), data)
            uploads.append({"Timestamp": STAMP, "vfs_path": source, "_Components": comps})
            rows.append(
                {
                    "CopiedOnTimestamp": STAMP,
                    "SourceFile": source,
                    "DestinationFile": source,
                    "FileSize": len(data),
                    "SourceFileSha256": hashlib.sha256(data).hexdigest(),
                }
            )
        zf.writestr("uploads.json", "".join(json.dumps(r) + "\n" for r in uploads))
        zf.writestr(
            "results/Generic.Collectors.File%2FUploads.json",
            "".join(json.dumps(r) + "\n" for r in rows),
        )
        for name in ("collection_context.json", "client_info.json", "requests.json"):
            zf.writestr(name, "{}")
        zf.writestr("log.json", "")
    return total


def python_unzip(path: Path, dest: Path) -> float:
    t0 = time.perf_counter()
    with zipfile.ZipFile(path) as zf:
        zf.extractall(dest)
    return time.perf_counter() - t0


def unzip_cli(path: Path, dest: Path) -> float | None:
    if shutil.which("unzip") is None:
        return None
    t0 = time.perf_counter()
    subprocess.run(["unzip", "-q", str(path), "-d", str(dest)], check=True)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    args = parser.parse_args()
    print(f"machine: {machine_info()}", flush=True)
    root = Path(tempfile.mkdtemp(prefix="locard-bench-collections-"))
    try:
        container = root / "collection.zip"
        payload = build(container, args.files)
        print(f"{args.files} files, {payload / 1e6:.1f} MB of payload", flush=True)
        py_s = python_unzip(container, root / "py")
        cli_s = unzip_cli(container, root / "cli")
        with vault_server(root, "collections") as server:
            t0 = time.perf_counter()
            r = httpx.post(
                f"{server.url}/v1/cases/{server.case_id}/collections",
                params={"file_name": container.name},
                headers=server.headers() | {"Content-Length": str(container.stat().st_size)},
                content=file_chunks(container),
                timeout=None,
            )
            vault_s = time.perf_counter() - t0
        r.raise_for_status()
        doc = r.json()
        if len(doc["items"]) != args.files or doc["mismatches"]:
            raise SystemExit(f"ingest incomplete: {len(doc['items'])} items, {doc['mismatches']}")
        n = args.files
        report("collection ingest (files/s)", n / vault_s, "files/s", n / py_s, "zipfile extract")
        if cli_s is not None:
            report(
                "collection ingest vs unzip (files/s)", n / vault_s, "files/s", n / cli_s, "unzip"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
