"""RFC 9162 section 2.1 definitions, transcribed literally as recursion over leaf data.

Deliberately naive and independent of the iterative, node-store based code under
test: it is the oracle the tests compare against.
"""

from __future__ import annotations

from collections.abc import Sequence

from verify.merkle import EMPTY_ROOT, leaf_hash, node_hash


def split(n: int) -> int:
    """k: the largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: Sequence[bytes]) -> bytes:
    """MTH(D[n]), section 2.1.1."""
    n = len(d)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hash(d[0])
    k = split(n)
    return node_hash(mth(d[:k]), mth(d[k:]))


def path(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]), section 2.1.3.1."""
    n = len(d)
    if n == 1:
        return []
    k = split(n)
    if m < k:
        return path(m, d[:k]) + [mth(d[k:])]
    return path(m - k, d[k:]) + [mth(d[:k])]


def proof(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]), section 2.1.4.1; empty for m == 0 (left undefined by the RFC)."""
    if m == 0:
        return []
    return _subproof(m, d, True)


def _subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = split(n)
    if m <= k:
        return _subproof(m, d[:k], b) + [mth(d[k:])]
    return _subproof(m - k, d[k:], False) + [mth(d[:k])]
