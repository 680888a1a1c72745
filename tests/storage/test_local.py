"""Local filesystem store: modes, refusals, races, crash leftovers and a full disk."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage.base import Retention, StoredObject, Upload
from storage.errors import IntegrityError, RetentionViolation, StorageFull
from storage.keys import content_key
from storage.local import LocalWormStore
from tests.support.tmpfs import mounted_tmpfs


@pytest.fixture
def store(tmp_path: Path) -> LocalWormStore:
    return LocalWormStore(tmp_path / "store")


def _upload(store: LocalWormStore, data: bytes) -> StoredObject:
    with store.begin_upload() as up:
        up.write(data)
        return up.commit()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_stored_files_are_read_only(store: LocalWormStore) -> None:
    stored = _upload(store, b"disk image")
    store.put_bytes("ledger/seals/1.json", b"{}")
    assert _mode(store.root / stored.key) == 0o400
    assert _mode(store.root / "ledger/seals/1.json") == 0o400


@pytest.mark.parametrize("key", ["objects", "ledger"])
def test_evidence_and_ledger_are_never_deleted(store: LocalWormStore, key: str) -> None:
    if key == "objects":
        target = _upload(store, b"evidence").key
    else:
        target = "ledger/seals/1.json"
        store.put_bytes(target, b"{}")
    with pytest.raises(RetentionViolation):
        store.delete(target)
    assert (store.root / target).read_bytes() in (b"evidence", b"{}")


def _soon() -> datetime:
    return datetime.now(UTC) + timedelta(hours=1)


def test_protection_survives_reopening(store: LocalWormStore) -> None:
    key = _upload(store, b"held").key
    store.set_legal_hold(key, True)
    store.extend_retention(key, Retention("COMPLIANCE", _soon()))
    reopened = LocalWormStore(store.root)
    protection = reopened.protection(key)
    assert protection.legal_hold
    assert protection.retention is not None and protection.retention.mode == "COMPLIANCE"


def test_concurrent_identical_commits_store_one_file(store: LocalWormStore) -> None:
    data = os.urandom(3 << 20)
    uploads = [store.begin_upload() for _ in range(8)]
    for up in uploads:
        up.write(data)
    barrier = threading.Barrier(len(uploads))
    results: list[StoredObject] = []
    errors: list[BaseException] = []

    def commit(up: Upload) -> None:
        barrier.wait()
        try:
            results.append(up.commit())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=commit, args=(up,)) for up in uploads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(r.created for r in results) == 1
    key = results[0].key
    assert (store.root / key).read_bytes() == data
    assert list(store.list_keys("objects/")) == [key]
    assert list((store.root / "staging").iterdir()) == []


def test_existing_object_of_wrong_size_is_reported(store: LocalWormStore) -> None:
    data = b"the real content"
    damaged = store.root / content_key(hashlib.sha256(data).hexdigest())
    damaged.parent.mkdir(parents=True, exist_ok=True)
    damaged.write_bytes(b"truncated")
    with pytest.raises(IntegrityError):
        _upload(store, data)
    assert list((store.root / "staging").iterdir()) == []


def test_cleanup_staging_removes_crash_leftovers(store: LocalWormStore) -> None:
    abandoned = store.begin_upload()
    abandoned.write(b"half an image")
    (store.root / "staging" / "0123.tmp").write_bytes(b"left by a crash")
    old = store.root / "staging" / "old.tmp"
    old.write_bytes(b"older")
    os.utime(old, (1, 1))
    assert store.cleanup_staging(older_than_s=3600) == 1
    assert store.cleanup_staging() == 2
    assert list((store.root / "staging").iterdir()) == []
    # The store still works afterwards.
    assert _upload(store, b"after the crash").created


# -- a genuinely full disk ------------------------------------------------------------


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs: real ENOSPC from the kernel, not a simulated one."""
    with mounted_tmpfs(tmp_path / "tiny", "2m") as mount_point:
        yield mount_point


def _contents(root: Path) -> list[str]:
    return sorted(
        str(p.relative_to(root))
        for area in ("objects", "staging", "ledger")
        if (root / area).exists()
        for p in (root / area).rglob("*")
        if p.is_file()
    )


def test_full_disk_during_upload_raises_storage_full_and_leaves_nothing(tiny_fs: Path) -> None:
    store = LocalWormStore(tiny_fs)
    with pytest.raises(StorageFull), store.begin_upload() as up:
        for _ in range(3):
            up.write(os.urandom(1 << 20))
        up.commit()
    assert _contents(tiny_fs) == []
    # The space came back: a small upload succeeds.
    assert _upload(store, b"fits").created


def test_full_disk_during_put_bytes_leaves_nothing(tiny_fs: Path) -> None:
    store = LocalWormStore(tiny_fs)
    with pytest.raises(StorageFull):
        store.put_bytes("ledger/big.bin", os.urandom(3 << 20))
    assert _contents(tiny_fs) == []
    assert not store.exists("ledger/big.bin")


def _resident_bytes(path: Path) -> int:
    out = subprocess.run(
        ["fincore", "--bytes", "--noheadings", "--output", "RES", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.strip())


def test_committed_upload_leaves_the_page_cache(store: LocalWormStore) -> None:
    fs = subprocess.run(
        ["stat", "-f", "-c", "%T", str(store.root)], capture_output=True, text=True
    ).stdout.strip()
    if shutil.which("fincore") is None or fs == "tmpfs":
        pytest.skip(
            "needs util-linux fincore and a disk-backed filesystem (tmpfs has no writeback)"
        )
    chunk = os.urandom(1 << 20)
    with store.begin_upload() as up:
        for _ in range(64):
            up.write(chunk)
        stored = up.commit()
    assert _resident_bytes(store.root / stored.key) == 0
    data = store.read_bytes(stored.key)  # and every byte is there
    assert hashlib.sha256(data).hexdigest() == hashlib.sha256(chunk * 64).hexdigest()
