"""Names of a bundle's members: one definition for the exporter (app.bundles) and the reader.

manifest.json                          table of contents, written last
keys/log.vkey                          the vault's checkpoint key (C2SP vkey)
keys/log-history.json                  its signed hand-overs from the first key (/2, if rotated)
keys/tsa/<tsa>-root.pem                each TSA's root as the vault publishes it
keys/tsa/<tsa>-chain[-n].pem           the certificate chains the tokens were issued under
events/<index>.json                    every custody event of the case: its exact leaf bytes
proofs/<index>.json                    its inclusion proof against the anchor checkpoint
checkpoints/<size>.note                each checkpoint that first sealed a case event; the
checkpoints/<size>.<tsa>.tsr           last one (it sealed the export) is the anchor
consistency/<a>-<b>.json               consistency proofs chaining those checkpoints
renewals/<size>.<tsa>.json             a token's renewals (`/3`): its evidence record
artifacts/<artifact id>/<file name>    the evidence bytes (absent for a proofs-only export)
"""

from __future__ import annotations

import re

MANIFEST = "manifest.json"
LOG_KEY_MEMBER = "keys/log.vkey"
#: the log key's hand-overs (`verify.keyhistory`), oldest first: a JSON list
KEY_HISTORY_MEMBER = "keys/log-history.json"
#: Events are canonical JSON of a few KB; the export event, which lists every artifact and
#: chain head of the case, is the largest. Anything bigger is hostile.
MAX_SMALL_MEMBER = 4 * 1024 * 1024
_KIB = 1024
#: Proofs hold at most 2·64 hashes; notes, tokens, keys and certificates are kilobytes.
_MEMBER_LIMITS = (
    ("events/", MAX_SMALL_MEMBER),
    ("proofs/", 64 * _KIB),
    ("consistency/", 64 * _KIB),
    ("checkpoints/", 64 * _KIB),
    # An evidence record holds one token and a hash path per renewal: kilobytes each.
    ("renewals/", 1024 * _KIB),
    # A hand-over is ~2 KB: room for some two thousand rotations.
    (KEY_HISTORY_MEMBER, MAX_SMALL_MEMBER),
    ("keys/", 256 * _KIB),
)


def safe_component(name: str) -> str:
    """One path component that every unzip tool extracts in place (no '/', '..', controls)."""
    cleaned = "".join(ch if ch.isalnum() or ch in "._-+()[] " else "_" for ch in name).strip()
    cleaned = cleaned.lstrip(".")  # '..' and hidden files
    return (cleaned or "_")[:120]


def event_member(index: int) -> str:
    return f"events/{index}.json"


def proof_member(index: int) -> str:
    return f"proofs/{index}.json"


def checkpoint_member(size: int) -> str:
    return f"checkpoints/{size}.note"


def token_member(size: int, tsa: str) -> str:
    return f"checkpoints/{size}.{safe_component(tsa)}.tsr"


def renewal_member(size: int, tsa: str) -> str:
    return f"renewals/{size}.{safe_component(tsa)}.json"


def consistency_member(first: int, second: int) -> str:
    return f"consistency/{first}-{second}.json"


def artifact_member(artifact_id: str, file_name: str) -> str:
    return f"artifacts/{safe_component(artifact_id)}/{safe_component(file_name)}"


def tsa_root_member(tsa: str) -> str:
    return f"keys/tsa/{safe_component(tsa)}-root.pem"


def tsa_chain_member(tsa: str, n: int = 1) -> str:
    """The n-th distinct certificate chain of a TSA's tokens (a TSA may renew its certificate)."""
    suffix = f"-{n}" if n > 1 else ""
    return f"keys/tsa/{safe_component(tsa)}-chain{suffix}.pem"


def is_tsa_chain_member(name: str, tsa: str) -> bool:
    prefix = tsa_chain_member(tsa)[: -len(".pem")]
    return name == f"{prefix}.pem" or bool(
        name.startswith(f"{prefix}-")
        and name.endswith(".pem")
        and re.fullmatch(r"[2-9]|[1-9][0-9]{1,5}", name[len(prefix) + 1 : -len(".pem")])
    )


def member_limit(name: str) -> int:
    """The largest a genuine member of this name's kind can be (artifacts are streamed)."""
    for prefix, limit in _MEMBER_LIMITS:
        if name.startswith(prefix):
            return limit
    return MAX_SMALL_MEMBER
