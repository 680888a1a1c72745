"""The per-item hash chains: each event's `prev` names the previous event of its chain.

One walk, used by the bundle checker, the server audit and the custody report: events
are fed in ledger order, and the first one whose `prev` does not name the last event
seen of its chain is reported with what it should have named.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from verify.errors import ChainBreak, MissingEvent, VerificationError


@dataclass
class ChainWalk:
    #: chain key -> (index, leaf hash) of the last event seen of that chain
    last: dict[str, tuple[int, bytes]] = field(default_factory=dict)

    def check(self, index: int, chain: str, prev: bytes | None) -> VerificationError | None:
        """The failure for this link, or None; nothing is recorded (see `follow`)."""
        subject = f"event {index}"
        seen = self.last.get(chain)
        if seen is None:
            if prev is not None:
                return MissingEvent(
                    f"it is the first event of {chain} here, but its prev {prev.hex()} names "
                    "an earlier one that is missing",
                    subject=subject,
                )
            return None
        if prev is None:
            return ChainBreak(
                f"it restarts {chain} (prev is null) after event {seen[0]}", subject=subject
            )
        if prev != seen[1]:
            return MissingEvent(
                f"its prev {prev.hex()} is not event {seen[0]}, the previous event of {chain}: "
                "an event between them is missing",
                subject=subject,
            )
        return None

    def follow(self, index: int, chain: str, prev: bytes | None, leaf_hash: bytes) -> None:
        """Check the link and record the event as its chain's last; raises on a break."""
        error = self.check(index, chain, prev)
        if error is not None:
            raise error
        self.last[chain] = (index, leaf_hash)

    def record(self, index: int, chain: str, leaf_hash: bytes) -> None:
        self.last[chain] = (index, leaf_hash)

    @property
    def chains(self) -> int:
        return len(self.last)


__all__ = ["ChainWalk"]
