"""Events about the vault's own keys: the log key's signed hand-over (`locard keys rotate`).

No index rows change: the hand-over is read from the ledger by verifiers
(`verify.keyhistory`) and kept by the key directory (`custody.rotation`).
"""

from __future__ import annotations

from app.events.catalogue import Body, EventSpec, EventType, declare


class KeyRotated(Body):
    #: the retiring key (vkey); it signs the checkpoint that seals this event
    old_key: str
    #: the key that signs every later checkpoint
    new_key: str
    #: base64 Ed25519 signature by the new key over `verify.keyhistory.handover_statement`
    new_key_signature: str
    reason: str


def _key_id(vkey: object) -> str:
    parts = str(vkey).split("+")
    return f"{parts[0]}+{parts[1]}" if len(parts) == 3 else str(vkey)


KEY_ROTATED = declare(
    EventSpec(
        EventType.key_rotated,
        "admin",
        {1: KeyRotated},
        lambda ev, names: (
            f"Log key {_key_id(ev.body.get('old_key'))} handed over to "
            f"{_key_id(ev.body.get('new_key'))}: {ev.body.get('reason')}"
        ),
    )
)
