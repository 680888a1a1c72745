"""Witness policies (Sigsum-style): which witnesses, in which k-of-n groups, make a quorum.

    # one per line; '#' starts a comment
    witness <name> <vkey>                 # a tlog-cosignature/v1 key (type 0x04)
    group <name> <k|all|any> <member>...  # members: witnesses or groups defined above
    quorum <name>                         # the witness or group that must be satisfied
    since <size>                          # Locard: witnessing began at this tree size

Checkpoints smaller than `since` predate witnessing: they are reported as "unwitnessed
before size N", not failed. Offline, like the rest of verify/.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from verify.cosignature import CosignatureVerifier, verified_cosignatures
from verify.errors import PolicyError, QuorumNotMet, VerificationError


@dataclass(frozen=True)
class Group:
    name: str
    threshold: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class WitnessPolicy:
    witnesses: dict[str, CosignatureVerifier]
    groups: dict[str, Group]
    quorum: str
    since: int = 0

    def satisfied_by(self, names: Iterable[str]) -> bool:
        return self._holds(self.quorum, frozenset(names))

    def _holds(self, name: str, have: frozenset[str]) -> bool:
        if name in self.witnesses:
            return name in have
        g = self.groups[name]
        return sum(self._holds(m, have) for m in g.members) >= g.threshold

    def check(self, note: bytes, size: int) -> tuple[str, list[str]]:
        """A one-line verdict and the names of the witnesses that cosigned; raises
        QuorumNotMet (naming the missing witnesses) when the quorum is not reached."""
        if size < self.since:
            return f"unwitnessed before size {self.since} (this checkpoint has {size})", []
        by_key = {(v.name, v.key_id): n for n, v in self.witnesses.items()}
        got = sorted(
            by_key[(c.name, c.key_id)]
            for c in verified_cosignatures(note, list(self.witnesses.values()))
        )
        missing = tuple(n for n in sorted(self.witnesses) if n not in got)
        if not self.satisfied_by(got):
            raise QuorumNotMet(
                f"checkpoint {size} lacks a witness quorum ({self.quorum}): cosigned by "
                f"{', '.join(got) or 'none'}; missing {', '.join(missing)}",
                missing=missing,
            )
        return f"quorum {self.quorum} reached: cosigned by {', '.join(got)}", got


def parse_witness_policy(text: str, source: str = "witness policy") -> WitnessPolicy:
    """Raises PolicyError for anything but a complete, well-formed policy."""
    witnesses: dict[str, CosignatureVerifier] = {}
    groups: dict[str, Group] = {}
    quorum: str | None = None
    since = 0
    for n, raw in enumerate(text.splitlines(), 1):
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        where = f"{source} line {n}"
        kind, args = words[0], words[1:]
        if kind == "witness" and len(args) == 2:
            name = args[0]
            if name in witnesses or name in groups:
                raise PolicyError(f"{where}: {name!r} is defined twice")
            try:
                witnesses[name] = CosignatureVerifier.from_vkey(args[1])
            except (VerificationError, ValueError) as exc:
                raise PolicyError(f"{where}: {exc}") from exc
        elif kind == "group" and len(args) >= 3:
            name, k, members = args[0], args[1], tuple(args[2:])
            if name in witnesses or name in groups:
                raise PolicyError(f"{where}: {name!r} is defined twice")
            for m in members:
                if m not in witnesses and m not in groups:
                    raise PolicyError(f"{where}: {m!r} is not a witness or group defined above")
            if len(set(members)) != len(members):
                raise PolicyError(f"{where}: a member is listed twice")
            threshold = {"all": len(members), "any": 1}.get(k)
            if threshold is None:
                if not k.isdigit() or not 1 <= int(k) <= len(members):
                    raise PolicyError(f"{where}: threshold {k!r} is not 1..{len(members)}")
                threshold = int(k)
            groups[name] = Group(name, threshold, members)
        elif kind == "quorum" and len(args) == 1:
            if quorum is not None:
                raise PolicyError(f"{where}: a second quorum line")
            if args[0] not in witnesses and args[0] not in groups:
                raise PolicyError(f"{where}: {args[0]!r} is not a witness or group")
            quorum = args[0]
        elif kind == "since" and len(args) == 1 and args[0].isdigit():
            since = int(args[0])
        else:
            raise PolicyError(f"{where}: cannot read {raw.strip()!r}")
    if quorum is None:
        raise PolicyError(f"{source}: no quorum line")
    return WitnessPolicy(witnesses, groups, quorum, since)
