"""The ledger published as C2SP tlog-tiles, read back by a client written from the spec."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from custody.ledger import EventDraft, Ledger
from custody.tiles import (
    TILES_PREFIX,
    EntryTooLarge,
    FileSlot,
    TilePublisher,
    bundle,
    index_path,
    tile_path,
    tiles_for,
)
from storage.local import LocalWormStore
from tests.support.tlog_reader import (
    TileReader,
    bundle_path,
    hash_tile_path,
    leaf,
    n_path,
    root_from_path,
    verify_checkpoint,
)


def draft(i: int) -> EventDraft:
    return EventDraft("annotation", "alice", "collector", {"note": f"n{i}"}, "IR-1", f"a{i % 3}")


def publishing(ledger: Ledger, tmp_path: Path, backoff_s: float = 30.0) -> TilePublisher:
    assert isinstance(ledger.store, LocalWormStore)
    ledger.tiles = TilePublisher(
        ledger.engine, ledger.store, FileSlot(tmp_path / "tlog" / "checkpoint"), backoff_s
    )
    return ledger.tiles


def fetcher(store: LocalWormStore):  # type: ignore[no-untyped-def]
    """What a static file server over the store's tlog directory would serve."""
    return lambda path: (store.root / TILES_PREFIX / path).read_bytes()


def check_tree(ledger: Ledger, size: int, note: bytes) -> None:
    assert isinstance(ledger.store, LocalWormStore)
    cp = verify_checkpoint(note, ledger.log_key)
    assert (cp.origin, cp.size) == (ledger.origin, size)
    reader = TileReader(fetcher(ledger.store), size)
    assert reader.root() == cp.root
    for m in {0, size // 2, size - 1}:
        entry = reader.entries(m // 256)[m % 256]
        assert leaf(entry) == reader.subtree(0, m)
        assert json.loads(entry) == json.loads(ledger.event(m).canonical)
        assert root_from_path(m, size, leaf(entry), reader.inclusion(m)) == cp.root


def test_spec_examples() -> None:
    assert index_path(1234067) == n_path(1234067) == "x001/x234/067"
    assert index_path(0) == "000" and index_path(999) == "999" and index_path(1000) == "x001/000"
    # "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial
    # level 0 tile of width 112, one full level 1 tile, one partial level 1 tile of width
    # 17, and one partial level 2 tile of width 1"
    shape = sorted((t.level, t.width) for t in tiles_for(70_000))
    assert shape == sorted([(0, 256)] * 273 + [(0, 112), (1, 256), (1, 17), (2, 1)])
    # "a tree of size 256 will be represented by a full level 0 tile and a partial level
    # 1 tile of width 1"
    assert [t.path for t in tiles_for(256)] == ["tile/0/000", "tile/1/000.p/1"]
    assert tile_path(0, 1234067, 7) == hash_tile_path(0, 1234067, 7) == "tile/0/x001/x234/067.p/7"
    assert bundle([b"ab", b""]) == b"\x00\x02ab\x00\x00"
    with pytest.raises(EntryTooLarge):
        bundle([b"x" * 65536])
    assert bundle_path(3, 256) == "tile/entries/003"


def test_tiles_follow_every_seal(ledger: Ledger, tmp_path: Path) -> None:
    tiles = publishing(ledger, tmp_path)
    sizes = []
    for n in (1, 100, 200, 10):
        ledger.seal([draft(i) for i in range(n)])
        sizes.append(ledger.size())
        note = (tmp_path / "tlog" / "checkpoint").read_bytes()
        assert note == ledger.checkpoint().note
        check_tree(ledger, sizes[-1], note)
    assert tiles.published_size() == 311
    # Every checkpoint's partial tiles stay at their own paths: older trees still read.
    for size in sizes:
        check_tree(ledger, size, ledger.checkpoint(size).note)


def test_a_failing_store_never_fails_a_seal(ledger: Ledger, tmp_path: Path) -> None:
    tiles = publishing(ledger, tmp_path)
    assert isinstance(ledger.store, LocalWormStore)
    ledger.seal([draft(i) for i in range(3)])
    # A file where the tile directory must go: every tile write fails for real.
    blocked = ledger.store.root / TILES_PREFIX / "tile" / "1"
    blocked.parent.mkdir(parents=True, exist_ok=True)
    blocked.write_bytes(b"in the way")
    receipts = ledger.seal([draft(i) for i in range(300)])
    assert len(receipts) == 300 and ledger.size() == 303
    assert tiles.published_size() == 3
    ledger.seal([draft(1)])  # backing off: not even tried
    assert tiles.published_size() == 3
    blocked.unlink()
    assert tiles.catch_up(force=True) == 2
    assert tiles.published_size() == 304
    for size in (303, 304):
        check_tree(ledger, size, ledger.checkpoint(size).note)


def test_an_event_too_large_for_a_bundle_leaves_out_only_its_bundle(
    ledger: Ledger, tmp_path: Path
) -> None:
    tiles = publishing(ledger, tmp_path)
    assert isinstance(ledger.store, LocalWormStore)
    big = EventDraft("annotation", "alice", "collector", {"note": "x" * 70_000}, "IR-1", "a")
    ledger.seal([draft(0), big])
    ledger.seal([draft(2)])
    assert tiles.published_size() == 3
    reader = TileReader(fetcher(ledger.store), 3)
    assert reader.root() == verify_checkpoint(ledger.checkpoint().note, ledger.log_key).root
    assert reader.subtree(0, 1) == ledger.event(1).leaf_hash
    bundles = ledger.store.root / TILES_PREFIX / "tile/entries"
    assert not [p for p in bundles.rglob("*") if p.is_file()]
