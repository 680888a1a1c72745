"""Renewing the ledger's checkpoint tokens before they expire: archive timestamp chains.

A renewal (`ledger/renewals/<seq>.json` in the write-once store, its raw token beside it as
`.tsr` for `openssl ts -verify`) is one RFC 3161 token over the RFC 9162 Merkle root of the
SHA-256 hashes of the tokens it renews: checkpoint tokens, and earlier renewal tokens. Each
checkpoint token is followed through the renewals that cover it to its *head*, the newest
token standing for it; a renewal covers the heads that are due. `verify.renewal` checks the
resulting chain for one token (its evidence record) at any validation time.

The store is the source of truth, as for seals and tokens: the renewals are read back from it,
so there is no table to keep in step (and `locard rebuild` loses nothing).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from custody.ledger import StoredTimestamp
from custody.timestamps import TimestampAuthority
from storage.base import ObjectStore
from storage.errors import ObjectExists
from verify.errors import MalformedInput
from verify.merkle import leaf_hash, root_from_leaf_hashes
from verify.renewal import EvidenceRecord, RenewalStep, chain_expiry, leaf_data
from verify.timestamp import parse_timestamp_response

RENEWALS_PREFIX = "ledger/renewals/"
RENEWAL_FORMAT = "locard-renewal/1"
#: digest algorithms a token may rest on; a head on any other is renewed at once
STRONG_HASHES = frozenset({"sha256", "sha384", "sha512"})


@dataclass(frozen=True)
class Renewal:
    seq: int
    tsa: str
    self_operated: bool
    token: bytes
    chain: tuple[bytes, ...]
    gen_time: datetime
    #: SHA-256 of each renewed token (the tree's leaf data), in tree order
    leaves: tuple[bytes, ...]

    @property
    def root(self) -> bytes:
        return root_from_leaf_hashes([leaf_hash(x) for x in self.leaves])

    @property
    def expires(self) -> datetime:
        return chain_expiry(self.chain)


@dataclass(frozen=True)
class Head:
    """The newest token standing for one or more checkpoint tokens."""

    token: bytes
    chain: tuple[bytes, ...]
    tsa: str
    self_operated: bool

    @property
    def expires(self) -> datetime:
        return chain_expiry(self.chain)

    def due(
        self, now: datetime, horizon: timedelta, *, independent: bool, renewer_expires: datetime
    ) -> str | None:
        """Why this head needs a renewal now (None: it does not). `independent`: the
        renewal would come from a TSA the vault does not control; `renewer_expires`: when
        its certificate expires (a renewal expiring no later than the head adds nothing)."""
        if self.expires - now <= horizon and renewer_expires > self.expires:
            return f"its TSA certificate expires {self.expires:%Y-%m-%d}"
        info = parse_timestamp_response(self.token)
        if info.hash_algorithm.lower() not in STRONG_HASHES:
            return f"it rests on {info.hash_algorithm}"
        if self.self_operated and independent:
            return "it comes from the vault's own TSA"
        return None


def renewal_key(seq: int, ext: str = "json") -> str:
    return f"{RENEWALS_PREFIX}{seq:09d}.{ext}"


def renewal_json(r: Renewal) -> dict[str, object]:
    return {
        "format": RENEWAL_FORMAT,
        "seq": r.seq,
        "hash": "sha256",
        "tsa": r.tsa,
        "self_operated": r.self_operated,
        "gen_time": r.gen_time.isoformat(),
        "root": r.root.hex(),
        "leaves": [x.hex() for x in r.leaves],
        "token": base64.b64encode(r.token).decode(),
        "chain": [base64.b64encode(c).decode() for c in r.chain],
    }


def read_renewals(store: ObjectStore) -> list[Renewal]:
    """Every renewal in the store, oldest first."""
    out = []
    for key in store.list_keys(RENEWALS_PREFIX):
        if not key.endswith(".json"):
            continue
        try:
            doc = json.loads(store.read_bytes(key))
            out.append(
                Renewal(
                    seq=int(doc["seq"]),
                    tsa=str(doc["tsa"]),
                    self_operated=bool(doc["self_operated"]),
                    token=base64.b64decode(doc["token"], validate=True),
                    chain=tuple(base64.b64decode(c, validate=True) for c in doc["chain"]),
                    gen_time=datetime.fromisoformat(doc["gen_time"]),
                    leaves=tuple(bytes.fromhex(x) for x in doc["leaves"]),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedInput(f"renewal {key} is unreadable: {exc}", subject=key) from exc
    return sorted(out, key=lambda r: r.seq)


class RenewalIndex:
    """Which renewal covers which token, from the renewals in the store."""

    def __init__(self, renewals: Sequence[Renewal]) -> None:
        self.renewals = {r.seq: r for r in renewals}
        self._covered: dict[bytes, tuple[int, int]] = {}
        for r in renewals:
            for i, leaf in enumerate(r.leaves):
                # The earliest renewal of a token is its chain's next link.
                self._covered.setdefault(leaf, (r.seq, i))

    @property
    def next_seq(self) -> int:
        return max(self.renewals, default=0) + 1

    def head(self, token: bytes, chain: Sequence[bytes], tsa: str, self_operated: bool) -> Head:
        current = Head(token, tuple(chain), tsa, self_operated)
        while (link := self._covered.get(leaf_data(current.token))) is not None:
            r = self.renewals[link[0]]
            current = Head(r.token, r.chain, r.tsa, r.self_operated)
        return current

    def record(self, token: bytes) -> EvidenceRecord | None:
        """The evidence record of one token: its renewals with their hash-tree paths."""
        steps: list[RenewalStep] = []
        current = token
        while (link := self._covered.get(leaf_data(current))) is not None:
            r = self.renewals[link[0]]
            steps.append(
                RenewalStep(
                    seq=r.seq,
                    tsa=r.tsa,
                    token=r.token,
                    chain=r.chain,
                    tree_size=len(r.leaves),
                    leaf_index=link[1],
                    proof=tuple(inclusion_path(link[1], [leaf_hash(x) for x in r.leaves])),
                )
            )
            current = r.token
        return EvidenceRecord(leaf_data(token), tuple(steps)) if steps else None


def inclusion_path(index: int, hashes: Sequence[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n]) over leaf hashes."""
    n = len(hashes)
    if n <= 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if index < k:
        return [*inclusion_path(index, hashes[:k]), root_from_leaf_hashes(hashes[k:])]
    return [*inclusion_path(index - k, hashes[k:]), root_from_leaf_hashes(hashes[:k])]


def due_heads(
    tokens: Iterable[tuple[int, StoredTimestamp]],
    index: RenewalIndex,
    self_operated_tsas: frozenset[str],
    *,
    now: datetime,
    horizon: timedelta,
    independent: bool,
    renewer_expires: datetime,
    externally_stamped: frozenset[int] = frozenset(),
    force: bool = False,
) -> list[tuple[Head, str]]:
    """The distinct heads of `tokens` (checkpoint size, token) that are due, with the reason.

    A self-operated token on a checkpoint in `externally_stamped` (which also has an
    external TSA's token) is renewed for its expiry only: that checkpoint already has
    independent proof, and renewing the vault's own token again and again (each renewal's
    event is sealed under another one) would add none.
    """
    seen: dict[bytes, tuple[Head, str]] = {}
    checked: set[bytes] = set()
    for size, t in tokens:
        head = index.head(t.tsr_der, t.chain_der, t.tsa, t.tsa in self_operated_tsas)
        key = leaf_data(head.token)
        if key in checked:
            continue
        checked.add(key)
        outside = independent and size not in externally_stamped
        why = (
            "renewal forced"
            if force
            else head.due(now, horizon, independent=outside, renewer_expires=renewer_expires)
        )
        if why is not None:
            seen[key] = (head, why)
    return list(seen.values())


def renew(
    store: ObjectStore,
    index: RenewalIndex,
    heads: Sequence[Head],
    authority: TimestampAuthority,
    *,
    self_operated: bool,
) -> Renewal:
    """One renewal token over the heads, archived write-once under the next free number."""
    leaves = tuple(sorted({leaf_data(h.token) for h in heads}))
    root = root_from_leaf_hashes([leaf_hash(x) for x in leaves])
    token = authority.timestamp(root)
    seq = index.next_seq
    while True:
        r = Renewal(
            seq, authority.name, self_operated, token.tsr_der, token.chain_der,
            token.info.gen_time, leaves,
        )  # fmt: skip
        try:
            # The JSON first: its key is the one a concurrent renewer would also take.
            store.put_bytes(renewal_key(seq), json.dumps(renewal_json(r), sort_keys=True).encode())
        except ObjectExists:
            seq += 1  # another process took this number: ours is the next
            continue
        store.put_bytes(renewal_key(seq, "tsr"), token.tsr_der)
        return r


def token_sha256(token: bytes) -> str:
    return hashlib.sha256(token).hexdigest()
