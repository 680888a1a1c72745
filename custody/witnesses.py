"""Asking witnesses to cosign the vault's checkpoints (C2SP tlog-witness, client side).

Each configured witness is asked after the TSAs, at every seal. A witness that is down, slow
or refuses leaves its cosignature pending; nothing waits on it beyond one short timeout, and
after a failure seals skip it for a while (like a TSA). `retry` catches up: a witness only
needs to cosign the latest checkpoint, which covers every earlier one.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from custody.models import CheckpointRow, CosignatureRow
from storage.base import ObjectStore
from verify.cosignature import CosignatureVerifier, cosignature_timestamp
from verify.errors import VerificationError
from verify.note import parse_note

log = logging.getLogger(__name__)

COSIGNATURES_PREFIX = "ledger/cosignatures/"
_COSIGS = CosignatureRow.__table__  # type: ignore[attr-defined]
_CHECKPOINTS = CheckpointRow.__table__  # type: ignore[attr-defined]


class WitnessUnavailable(Exception):
    """No cosignature this time: down, timed out, refused or answered nonsense."""


class WitnessConflict(WitnessUnavailable):
    """409: the witness last cosigned another size than the one we assumed."""

    def __init__(self, size: int) -> None:
        super().__init__(f"witness last cosigned size {size}")
        self.size = size


@dataclass
class WitnessClient:
    url: str
    verifier: CosignatureVerifier
    timeout: float = 5.0
    #: one keep-alive connection per witness, as tlog-witness recommends
    _http: httpx.Client = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._http = httpx.Client(timeout=self.timeout)

    def close(self) -> None:
        self._http.close()

    @property
    def key(self) -> str:
        return self.verifier.vkey()

    def add_checkpoint(self, old: int, proof: Sequence[bytes], note: bytes) -> bytes:
        """The witness's verified cosignature line on `note`."""
        head = "".join(f"{line}\n" for line in [f"old {old}", *map(_b64, proof)])
        try:
            r = self._http.post(
                self.url.rstrip("/") + "/add-checkpoint", content=head.encode() + b"\n" + note
            )
        except httpx.HTTPError as exc:
            raise WitnessUnavailable(f"{self.url}: {exc}") from exc
        if r.status_code == 409 and r.headers.get("content-type") == "text/x.tlog.size":
            text = r.text
            if text.endswith("\n") and text[:-1].isdigit():
                raise WitnessConflict(int(text[:-1]))
        if r.status_code != 200:
            raise WitnessUnavailable(f"{self.url}: HTTP {r.status_code} {r.text[:200]!r}")
        text_part = parse_note(note).text
        for line in r.content.splitlines(keepends=True):
            sig = parse_note(text_part + b"\n" + line).signatures[0]
            if (sig.name, sig.key_id) != (self.verifier.name, self.verifier.key_id):
                continue  # other keys of the same witness: not ours to trust
            if not self.verifier.verify(text_part, sig.signature):
                raise WitnessUnavailable(f"{self.url}: cosignature does not verify")
            return line
        raise WitnessUnavailable(f"{self.url}: no cosignature by {self.verifier.name}")


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode()


@dataclass
class WitnessCollector:
    engine: Engine
    witnesses: Sequence[WitnessClient]
    store: ObjectStore | None = None
    backoff_s: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _down_until: dict[str, float] = field(init=False, default_factory=dict)

    def collect(
        self, size: int, note: bytes, consistency: Callable[[int, int], list[bytes]]
    ) -> int:
        """Ask every witness not backing off to cosign checkpoint `size`, all at once;
        never raises. Returns the cosignatures obtained."""
        asked = [w for w in self.witnesses if self.clock() >= self._down_until.get(w.key, 0.0)]
        if len(asked) <= 1:
            return sum(self._ask(w, size, note, consistency) for w in asked)
        with ThreadPoolExecutor(max_workers=len(asked)) as pool:
            return sum(pool.map(lambda w: self._ask(w, size, note, consistency), asked))

    def retry(
        self,
        latest: Callable[[], tuple[int, bytes]],
        consistency: Callable[[int, int], list[bytes]],
    ) -> int:
        """Bring every witness behind up to the latest checkpoint (an idle-time pass)."""
        try:
            size, note = latest()
        except Exception:  # an empty ledger has nothing to cosign
            return 0
        got = 0
        for w in self.witnesses:
            if self._last(w) < size and self._ask(w, size, note, consistency):
                got += 1
        return got

    def _last(self, w: WitnessClient) -> int:
        with self.engine.connect() as conn:
            last = conn.execute(
                select(func.max(_COSIGS.c.checkpoint_size)).where(_COSIGS.c.witness == w.key)
            ).scalar_one()
        return int(last or 0)

    def _ask(
        self,
        w: WitnessClient,
        size: int,
        note: bytes,
        consistency: Callable[[int, int], list[bytes]],
    ) -> bool:
        old = self._last(w)
        try:
            try:
                line = w.add_checkpoint(old, consistency(old, size) if old else [], note)
            except WitnessConflict as exc:
                if exc.size > size:
                    # The witness has cosigned a larger tree of this log than the vault
                    # holds: a fork or a rolled-back database. Loud, and never "fixed" here.
                    log.error("witness %s has seen size %d > %d", w.url, exc.size, size)
                    raise
                # It learnt of an earlier checkpoint elsewhere (or we lost our record).
                old = exc.size
                line = w.add_checkpoint(old, consistency(old, size) if old else [], note)
        except (WitnessUnavailable, VerificationError) as exc:
            log.warning("witness %s did not cosign checkpoint %d: %s", w.url, size, exc)
            self._down_until[w.key] = self.clock() + self.backoff_s
            return False
        self._down_until.pop(w.key, None)
        self._save(w, size, line)
        return True

    def _save(self, w: WitnessClient, size: int, line: bytes) -> None:
        sig = parse_note(b"x\n\n" + line).signatures[0]
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(_COSIGS),
                    {
                        "checkpoint_size": size,
                        "witness": w.key,
                        "line": line.decode(),
                        "timestamp": cosignature_timestamp(sig.signature),
                    },
                )
        except IntegrityError:
            return  # another process got this witness's cosignature on this checkpoint
        if self.store is not None:
            key = f"{COSIGNATURES_PREFIX}{size:015d}/{w.verifier.key_id.hex()}.sig"
            try:
                self.store.put_bytes(key, line)
            except Exception as exc:  # the database row stands; the audit reports the gap
                log.warning("could not archive cosignature %s: %s", key, exc)
