"""A bundle's log key history (`locard-bundle/2`): read it, and verify on with it.

Nothing in it is taken on the bundle's word: every hand-over must be signed by the key
before it, starting from a pinned key (`verify.keyhistory.key_eras`). Without a pin it starts
from its own first key, just as the bundle's log key would then be trusted.
"""

from __future__ import annotations

import dataclasses

from verify.bundle.members import Members
from verify.errors import KeyMismatch, MalformedInput, PolicyError
from verify.keyhistory import Handover, parse_key_history
from verify.note import NoteVerifier
from verify.report import Report
from verify.verifier import Verifier


def read_key_history(members: Members, member: str) -> tuple[Handover, ...]:
    data = members.read(member)
    try:
        return parse_key_history(data.decode("utf-8"), "the bundle's key history")
    except UnicodeDecodeError as exc:
        raise MalformedInput("the key history is not UTF-8") from exc
    except PolicyError as exc:
        raise MalformedInput(exc.message) from exc


def _from_pinned(verifier: Verifier, bundled: tuple[Handover, ...]) -> tuple[Handover, ...]:
    """The hand-overs from the first one a pinned key made (none: no pinned key made one)."""
    pinned = set(verifier.pinned)
    for i, handover in enumerate(bundled):
        try:
            old = NoteVerifier.from_vkey(handover.old_key)
        except ValueError as exc:
            raise MalformedInput(f"key hand-over #{i + 1}: an unusable key: {exc}") from exc
        if old in pinned:
            return bundled[i:]
    return ()


def follow_key_history(
    verifier: Verifier, report: Report, bundled: tuple[Handover, ...]
) -> Verifier:
    """The verifier to go on with: `verifier`'s policy with the bundle's history added.

    A history given to verify as well (`--key-history`) must agree with the bundle's: one is
    the start of the other, and the longer one is followed.
    """
    policy = verifier.policy
    if verifier.pinned:
        bundled = _from_pinned(verifier, bundled)
        if not bundled:
            return verifier  # no hand-over from a pinned key: checkpoints are judged on the pins
    elif not bundled:
        return verifier
    given = policy.log_key_history
    if given and bundled[: len(given)] != given and given[: len(bundled)] != bundled:
        raise KeyMismatch("the bundle's key history and the one given to verify disagree")
    history = bundled if len(bundled) >= len(given) else given
    keys = policy.trusted_log_keys
    if not keys:
        keys = (history[0].old_key,)
        report.warn(
            "log key not pinned: trusting the first key of the bundle's key history "
            "(pass --trusted-key to pin the vault's published key)"
        )
    try:
        return Verifier(dataclasses.replace(policy, trusted_log_keys=keys, log_key_history=history))
    except PolicyError as exc:
        raise KeyMismatch(exc.message) from exc
