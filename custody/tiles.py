"""The ledger as C2SP tlog-tiles: hash tiles, entry bundles and the published checkpoint.

Layout (https://c2sp.org/tlog-tiles), under `TILES_PREFIX` in the write-once store:
`tile/<L>/<N>[.p/<W>]` holds W (256 when full) consecutive hashes of Merkle level 8*L,
and `tile/entries/<N>[.p/<W>]` the matching events, each as a big-endian uint16 length
and the event's RFC 8785 bytes. Every full and partial tile has its own path, so each is
written once. The `checkpoint` changes at every seal and so lives outside the store (a
`CheckpointSlot`); it is written only after every tile it needs, so a reader following
it never meets a missing tile, and it doubles as the mark of how far publishing got.

Publishing never makes a seal fail: a failure leaves the slot behind and the next seal
(or the sequencer's idle pass) writes the missing tiles, checkpoint by checkpoint.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from sqlalchemy import Engine, select

from custody.models import CheckpointRow, LedgerEvent
from custody.nodes import DbNodeSource
from storage.base import ObjectStore
from storage.keys import TLOG_CHECKPOINT_KEY
from verify.checkpoint import parse_checkpoint_body
from verify.note import parse_note

log = logging.getLogger(__name__)

TILES_PREFIX = "ledger/tlog/"
TILE_WIDTH = 256
TILE_HEIGHT = 8
MAX_ENTRY = 0xFFFF

_CHECKPOINTS = CheckpointRow.__table__  # type: ignore[attr-defined]
_EVENTS = LedgerEvent.__table__  # type: ignore[attr-defined]


class EntryTooLarge(ValueError):
    """An entry bundle frames each entry with a uint16 length: 65,535 bytes at most."""


def index_path(n: int) -> str:
    """`<N>` as the spec writes it: zero-padded 3-digit elements, all but the last x-prefixed."""
    if n < 0:
        raise ValueError("tile index must be non-negative")
    digits = str(n)
    digits = digits.zfill(-(-len(digits) // 3) * 3)
    parts = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join([*("x" + p for p in parts[:-1]), parts[-1]])


def _suffix(width: int) -> str:
    if not 1 <= width <= TILE_WIDTH:
        raise ValueError(f"tile width {width} outside 1..{TILE_WIDTH}")
    return "" if width == TILE_WIDTH else f".p/{width}"


def tile_path(level: int, n: int, width: int) -> str:
    return f"tile/{level}/{index_path(n)}{_suffix(width)}"


def entries_path(n: int, width: int) -> str:
    return f"tile/entries/{index_path(n)}{_suffix(width)}"


@dataclass(frozen=True)
class Tile:
    level: int
    index: int
    width: int

    @property
    def path(self) -> str:
        return tile_path(self.level, self.index, self.width)


def tiles_for(size: int) -> list[Tile]:
    """Every tile a tree of `size` leaves consists of (full ones first, level by level)."""
    return tiles_grown(0, size)


def tiles_grown(old: int, new: int) -> list[Tile]:
    """The tiles a tree of `new` leaves has that one of `old` leaves does not."""
    if not 0 <= old <= new:
        raise ValueError(f"cannot grow a tree from {old} to {new}")
    out: list[Tile] = []
    level = 0
    while (hashes := new >> (TILE_HEIGHT * level)) > 0:
        before = old >> (TILE_HEIGHT * level)
        if hashes != before:
            for n in range(before // TILE_WIDTH, (hashes - 1) // TILE_WIDTH + 1):
                out.append(Tile(level, n, min(TILE_WIDTH, hashes - n * TILE_WIDTH)))
        level += 1
    return out


def bundle(entries: Sequence[bytes]) -> bytes:
    """An entry bundle: each entry behind its big-endian uint16 length."""
    out = bytearray()
    for e in entries:
        if len(e) > MAX_ENTRY:
            raise EntryTooLarge(f"an entry of {len(e)} bytes cannot be framed in a bundle")
        out += len(e).to_bytes(2, "big") + e
    return bytes(out)


class CheckpointSlot(Protocol):
    """The one mutable thing of a tiled log: where the latest published checkpoint is kept."""

    def read(self) -> bytes | None: ...

    def write(self, note: bytes) -> None: ...


@dataclass
class FileSlot:
    """A file beside the store, replaced atomically (rename), so readers see old or new."""

    path: Path

    def read(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None

    def write(self, note: bytes) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}")
        with tmp.open("wb") as fh:
            fh.write(note)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


@runtime_checkable
class MutableStore(Protocol):
    def replace_mutable(self, key: str, data: bytes) -> None: ...

    def read_mutable(self, key: str) -> bytes | None: ...


@dataclass
class MirroredSlot:
    """The checkpoint file beside the data directory, mirrored into the bucket beside the
    tiles (`ledger/tlog/checkpoint`), so one static S3 prefix serves the whole tiled log.

    Reads come from the file (the vault's own /tlog/ route); a failed bucket write fails
    the publication, which is retried like a failed tile write."""

    local: FileSlot
    store: MutableStore
    key: str = TLOG_CHECKPOINT_KEY

    def read(self) -> bytes | None:
        return self.local.read()

    def write(self, note: bytes) -> None:
        self.store.replace_mutable(self.key, note)
        self.local.write(note)


@dataclass
class TilePublisher:
    """Writes the tiles of every checkpoint the database holds, then publishes it."""

    engine: Engine
    store: ObjectStore
    slot: CheckpointSlot
    #: after a failure, seals skip publishing for this long rather than wait on a sick
    #: store each time; the sequencer's idle pass and later seals catch up
    backoff_s: float = 30.0
    #: publish at most this often: the seals in between go out together in the next
    #: publication (fewer, fuller partial tiles), and a quiet ledger gets a trailing one
    #: from the sequencer (`owed_in`). The published checkpoint lags by at most this.
    interval_s: float = 0.0
    clock: Callable[[], float] = time.monotonic
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    _down_until: float = field(init=False, default=0.0)
    _next_at: float = field(init=False, default=0.0)
    _owed: bool = field(init=False, default=False)
    _last: int = field(init=False, default=0)

    def published_size(self) -> int:
        note = self.slot.read()
        return parse_checkpoint_body(parse_note(note).text).size if note else 0

    def catch_up(self, *, force: bool = False) -> int:
        """Publish every checkpoint past the slot's; never raises. Returns checkpoints published."""
        if not force and self.clock() < max(self._down_until, self._next_at):
            self._owed = True
            return 0
        # A second caller (the sequencer while a request-side retry runs) would only
        # repeat the same writes: it skips instead of waiting.
        if not self._lock.acquire(blocking=False):
            return 0
        try:
            done = 0
            for size, note in self._pending():
                self._publish(self._last, size)
                # Another process on the same data directory may have published further.
                if self.published_size() < size:
                    self.slot.write(note)
                self._last = size
                done += 1
            self._down_until = 0.0
            self._owed = False
            self._next_at = self.clock() + self.interval_s
            return done
        except Exception as exc:  # the seal stands; the tiles are written on a later pass
            log.warning("publishing tiles failed (will retry): %s", exc)
            self._down_until = self.clock() + self.backoff_s
            self._owed = True
            return 0
        finally:
            self._lock.release()

    def owed_in(self) -> float | None:
        """Seconds until a publication held back by the interval (or a failure) is due;
        None when everything sealed has been published."""
        if not self._owed:
            return None
        return max(0.0, max(self._down_until, self._next_at) - self.clock())

    def _pending(self) -> Iterator[tuple[int, bytes]]:
        self._last = self.published_size()
        with self.engine.connect() as conn:
            rows = list(
                conn.execute(
                    select(_CHECKPOINTS.c.size, _CHECKPOINTS.c.note)
                    .where(_CHECKPOINTS.c.size > self._last)
                    .order_by(_CHECKPOINTS.c.size)
                )
            )
        for size, note in rows:
            yield int(size), str(note).encode()

    def _publish(self, old: int, new: int) -> None:
        grown = tiles_grown(old, new)
        with self.engine.connect() as conn:
            coords = [
                (TILE_HEIGHT * t.level, t.index * TILE_WIDTH + i)
                for t in grown
                for i in range(t.width)
            ]
            nodes = DbNodeSource(conn).get_nodes(coords) if coords else {}
            for t in grown:
                first = t.index * TILE_WIDTH
                data = b"".join(nodes[(TILE_HEIGHT * t.level, first + i)] for i in range(t.width))
                self.store.put_bytes(TILES_PREFIX + t.path, data)
                if t.level != 0:
                    continue
                events = [
                    bytes(c)
                    for c in conn.execute(
                        select(_EVENTS.c.canonical)
                        .where(
                            _EVENTS.c.leaf_index >= first, _EVENTS.c.leaf_index < first + t.width
                        )
                        .order_by(_EVENTS.c.leaf_index)
                    ).scalars()
                ]
                try:
                    data = bundle(events)
                except EntryTooLarge as exc:
                    # The hash tiles still prove everything; only this bundle is missing,
                    # rather than every tile after it.
                    log.error("entry bundle %s not published: %s", t.index, exc)
                    continue
                self.store.put_bytes(TILES_PREFIX + entries_path(t.index, t.width), data)
