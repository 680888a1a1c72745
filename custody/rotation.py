"""Log key rotation: a new Ed25519 key takes over with a hand-over sealed under the old one.

The steps, each safe to crash after:

1. `prepare`: the new key is written beside the old one (`log-ed25519.next.pem`) and signs
   the hand-over statement (`verify.keyhistory.handover_statement`).
2. The caller seals a `key.rotated` event carrying both keys and that signature; the old key
   signs the checkpoint that includes it (size N) and its high-water mark moves to N.
3. `complete`: the new key's mark starts at the old key's mark, so it can never sign a second
   root for a size the old key signed (no fork across the rotation); the hand-over record is
   appended to `log-history.json`; the old key is moved to `retired/` and the new one takes
   its place. A crash inside this step is finished by the next `Keyring.load`.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from custody.pki import replace_file
from custody.signing import NoteSigner
from custody.watermark import HighWaterMark
from storage.fsio import fsync_dir_quietly as fsync_dir
from verify.keyhistory import Handover, handover_statement
from verify.note import NoteVerifier

if TYPE_CHECKING:
    from custody.ledger import Receipt

LOG_KEY = "log-ed25519.pem"
LOG_MARK = "log-ed25519.mark"
NEXT_KEY = "log-ed25519.next.pem"
NEXT_MARK = "log-ed25519.next.mark"
HISTORY_FILE = "log-history.json"
RETIRED_DIR = "retired"


class RotationError(Exception):
    """The key cannot be rotated now (an unfinished rotation, a hand-over that does not fit)."""


def read_history(keys_dir: Path) -> tuple[Handover, ...]:
    path = keys_dir / HISTORY_FILE
    if not path.exists():
        return ()
    return tuple(Handover.from_json(h) for h in json.loads(path.read_text())["handovers"])


def prepare(keys_dir: Path, signer: NoteSigner) -> tuple[NoteSigner, str]:
    """Make the next key; returns it and its signature (base64) over the hand-over."""
    if not signer.in_file:
        raise RotationError(
            "the log key lives in a PKCS#11 token: rotating a token key is not supported yet"
        )
    if (keys_dir / NEXT_KEY).exists():
        raise RotationError(
            f"{keys_dir / NEXT_KEY} exists: an earlier rotation stopped before its hand-over "
            "was sealed. Move that file aside (it signed nothing) and rotate again"
        )
    new = NoteSigner.generate(signer.name)
    new.save(keys_dir / NEXT_KEY)
    statement = handover_statement(signer.name, signer.vkey(), new.vkey())
    return new, base64.b64encode(new.private_key.sign(statement)).decode()


def complete(
    keys_dir: Path, old: NoteSigner, new: NoteSigner, sealed: Receipt
) -> tuple[Handover, ...]:
    """Record the sealed hand-over and put the new key in the old one's place."""
    handover = Handover(
        origin=sealed.origin,
        old_key=old.vkey(),
        new_key=new.vkey(),
        index=sealed.event.index,
        event=sealed.event.canonical,
        checkpoint=sealed.checkpoint.note,
        proof=sealed.inclusion_proof,
    )
    old_mark = HighWaterMark(keys_dir / LOG_MARK).read()
    if old_mark is None or old_mark.size < sealed.checkpoint.size:
        raise RotationError("the old key's high-water mark is behind the hand-over's checkpoint")
    HighWaterMark(keys_dir / NEXT_MARK).advance(old_mark)
    history = (*read_history(keys_dir), handover)
    doc = {"handovers": [h.to_json() for h in history]}
    replace_file(keys_dir / HISTORY_FILE, (json.dumps(doc, indent=2) + "\n").encode(), 0o600)
    finish_switch(keys_dir, history)
    return history


def finish_switch(keys_dir: Path, history: tuple[Handover, ...]) -> None:
    """Retire the old key and activate the next one, if a recorded hand-over names it."""
    next_key = keys_dir / NEXT_KEY
    if not next_key.exists() or not history:
        return
    pending = NoteSigner.load(next_key)
    if pending.vkey() != history[-1].new_key:
        return  # not handed over yet: `prepare` refuses until the operator moves it aside
    retired = keys_dir / RETIRED_DIR
    retired.mkdir(mode=0o700, exist_ok=True)
    key_id = NoteVerifier.from_vkey(history[-1].old_key).key_id.hex()
    # Each step is skipped once done, so a crash anywhere in here is finished next time.
    if (keys_dir / LOG_KEY).exists():
        os.replace(keys_dir / LOG_KEY, retired / f"log-ed25519-{key_id}.pem")
    if (keys_dir / NEXT_MARK).exists():
        if (keys_dir / LOG_MARK).exists():
            os.replace(keys_dir / LOG_MARK, retired / f"log-ed25519-{key_id}.mark")
        fsync_dir(retired)
        os.replace(keys_dir / NEXT_MARK, keys_dir / LOG_MARK)
    os.replace(next_key, keys_dir / LOG_KEY)
    fsync_dir(keys_dir)
