"""A tlog-tiles client written from the C2SP specs alone, to check what the vault publishes.

Nothing here imports the project: paths, Merkle hashing (RFC 6962 section 2.1), the
signed-note format and the entry-bundle framing are re-derived from the specs, so a
mistake shared by the writer and the project's own proof code cannot hide.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

Fetch = Callable[[str], bytes]


def n_path(n: int) -> str:
    s = str(n)
    while len(s) % 3:
        s = "0" + s
    groups = [s[i : i + 3] for i in range(0, len(s), 3)]
    return "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])


def hash_tile_path(level: int, n: int, width: int) -> str:
    return f"tile/{level}/{n_path(n)}" + ("" if width == 256 else f".p/{width}")


def bundle_path(n: int, width: int) -> str:
    return f"tile/entries/{n_path(n)}" + ("" if width == 256 else f".p/{width}")


def leaf(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two smaller than n (RFC 6962's k)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@dataclass(frozen=True)
class SignedCheckpoint:
    origin: str
    size: int
    root: bytes


def verify_checkpoint(note: bytes, vkey: str) -> SignedCheckpoint:
    """Check the log's Ed25519 signature line (signed-note) and parse the body."""
    name, key_hex, key_b64 = vkey.split("+", 2)
    key = base64.b64decode(key_b64)
    assert key[0] == 0x01, "not an Ed25519 key"
    assert bytes.fromhex(key_hex) == hashlib.sha256(name.encode() + b"\n" + key).digest()[:4]
    text, _, sigs = note.decode().partition("\n\n")
    text += "\n"
    ok = False
    for line in sigs.splitlines():
        dash, signer, blob = line.split(" ")
        assert dash == "\u2014"
        raw = base64.b64decode(blob)
        if signer == name and raw[:4] == bytes.fromhex(key_hex):
            Ed25519PublicKey.from_public_bytes(key[1:]).verify(raw[4:], text.encode())
            ok = True
    assert ok, "no signature by the log key"
    origin, size, root = text.splitlines()[:3]
    return SignedCheckpoint(origin, int(size), base64.b64decode(root))


class TileReader:
    """Merkle Tree Hashes of a tree of `size` leaves, from its tiles only."""

    def __init__(self, fetch: Fetch, size: int) -> None:
        self.fetch = fetch
        self.size = size
        self.tiles: dict[tuple[int, int], bytes] = {}

    def _tile(self, level: int, n: int) -> bytes:
        if (level, n) not in self.tiles:
            hashes_at_level = self.size // 256**level
            width = min(256, hashes_at_level - n * 256)
            data = self.fetch(hash_tile_path(level, n, width))
            assert len(data) == 32 * width, f"tile {level}/{n} has {len(data)} bytes"
            self.tiles[(level, n)] = data
        return self.tiles[(level, n)]

    def subtree(self, height: int, index: int) -> bytes:
        """MTH(D[index * 2**height : (index + 1) * 2**height]), a complete subtree."""
        if height % 8 == 0:
            level = height // 8
            tile = self._tile(level, index // 256)
            i = index % 256
            return tile[32 * i : 32 * i + 32]
        return node(self.subtree(height - 1, 2 * index), self.subtree(height - 1, 2 * index + 1))

    def mth(self, lo: int, hi: int) -> bytes:
        n = hi - lo
        assert n > 0
        if n & (n - 1) == 0 and lo % n == 0:
            return self.subtree(n.bit_length() - 1, lo // n)
        k = split(n)
        return node(self.mth(lo, lo + k), self.mth(lo + k, hi))

    def root(self) -> bytes:
        if self.size == 0:
            return hashlib.sha256(b"").digest()
        return self.mth(0, self.size)

    def inclusion(self, m: int) -> list[bytes]:
        """PATH(m, D[0:size]) of RFC 6962 section 2.1.1."""

        def path(m: int, lo: int, hi: int) -> list[bytes]:
            n = hi - lo
            if n == 1:
                return []
            k = split(n)
            if m < k:
                return path(m, lo, lo + k) + [self.mth(lo + k, hi)]
            return path(m - k, lo + k, hi) + [self.mth(lo, lo + k)]

        return path(m, 0, self.size)

    def entries(self, n: int) -> list[bytes]:
        width = min(256, self.size - n * 256)
        data = self.fetch(bundle_path(n, width))
        out: list[bytes] = []
        while data:
            length = int.from_bytes(data[:2], "big")
            out.append(data[2 : 2 + length])
            data = data[2 + length :]
        assert len(out) == width
        return out


def root_from_path(m: int, size: int, entry_hash: bytes, path: list[bytes]) -> bytes:
    """Recompute the root from an audit path by mirroring PATH's recursion."""

    def up(m: int, n: int, proof: list[bytes]) -> bytes:
        if n == 1:
            assert not proof
            return entry_hash
        k = split(n)
        if m < k:
            return node(up(m, k, proof[:-1]), proof[-1])
        return node(proof[-1], up(m - k, n - k, proof[:-1]))

    return up(m, size, path)
