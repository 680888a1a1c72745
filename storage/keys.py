"""Object key rules shared by every backend, so a key valid on one is valid on all.

Keys are relative, '/'-separated paths. The local store maps them directly onto the
filesystem, so anything that could escape the root or alias another key is refused.
"""

from __future__ import annotations

from storage.errors import InvalidArgument, InvalidKey
from storage.hashing import is_sha256_hex

#: Evidence bytes: under their SHA-256 (`content_key`), or, for a large S3 upload whose
#: SHA-256 was not declared, under the upload's own random name (`upload_key`): S3 has no
#: rename, so naming it by content would mean writing every byte twice. Either key is
#: sealed in the ingest event, so readers never derive it from the digest.
EVIDENCE_PREFIX = "objects/"
OBJECTS_PREFIX = "objects/sha256/"
UPLOADS_PREFIX = "objects/upload/"
PROTECTED_PREFIXES = ("objects/", "ledger/")
# Areas the stores use for their own bookkeeping; never valid as object keys.
RESERVED_PREFIXES = ("staging/", "meta/")
MAX_KEY_LENGTH = 1024
#: The one key a store replaces instead of writing once: the tlog-tiles checkpoint, which
#: changes at every publication and must sit beside the tiles for a static (S3) server.
#: Its authenticity is its signature, not the store; versioned stores keep no history of it.
TLOG_CHECKPOINT_KEY = "ledger/tlog/checkpoint"
MUTABLE_KEYS = frozenset({TLOG_CHECKPOINT_KEY})


def content_key(sha256_hex: str) -> str:
    """The key under which bytes with this SHA-256 are stored."""
    return OBJECTS_PREFIX + sha256_hex


def upload_key(token: str) -> str:
    """The key of an upload stored under its own name (`token`: 32 lowercase hex digits)."""
    if not _is_token(token):
        raise InvalidArgument(f"not an upload token: {token!r}")
    return UPLOADS_PREFIX + token


def _is_token(value: str) -> bool:
    return len(value) == 32 and all(c in "0123456789abcdef" for c in value)


def is_evidence_key(key: str) -> bool:
    """A content key or an upload key: the only keys objects/ holds."""
    if key.startswith(OBJECTS_PREFIX):
        return is_sha256_hex(key[len(OBJECTS_PREFIX) :])
    return key.startswith(UPLOADS_PREFIX) and _is_token(key[len(UPLOADS_PREFIX) :])


def check_sha256(value: str) -> str:
    """A declared SHA-256, normalised to lowercase; InvalidArgument if it is not one."""
    normalised = value.strip().lower()
    if not is_sha256_hex(normalised):
        raise InvalidArgument(f"not a hex SHA-256 digest: {value!r}")
    return normalised


def _check_segments(text: str, *, what: str) -> None:
    if len(text) > MAX_KEY_LENGTH:
        raise InvalidKey(f"{what} longer than {MAX_KEY_LENGTH} characters")
    if any(ord(c) < 0x20 or c in "\x7f\\" for c in text):
        raise InvalidKey(f"{what} {text!r} contains a control character or backslash")
    if text.startswith("/"):
        raise InvalidKey(f"{what} {text!r} must be relative")


def check_key(key: str) -> str:
    """Return `key` if it is a valid object key, else raise InvalidKey."""
    if not key:
        raise InvalidKey("empty key")
    _check_segments(key, what="key")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise InvalidKey(f"key {key!r} has an empty, '.' or '..' segment")
    if key.startswith(RESERVED_PREFIXES):
        raise InvalidKey(f"key {key!r} is in a reserved area")
    if key.startswith(EVIDENCE_PREFIX) and not is_evidence_key(key):
        raise InvalidKey(
            f"key {key!r}: objects/ holds only objects/sha256/<hex> and "
            "objects/upload/<32 hex> keys"
        )
    return key


def check_mutable(key: str) -> str:
    if key not in MUTABLE_KEYS:
        raise InvalidKey(f"key {key!r} is write-once; only {sorted(MUTABLE_KEYS)} are replaced")
    return key


def check_prefix(prefix: str) -> str:
    """Return `prefix` if it can start a valid key ('' lists everything)."""
    if prefix:
        _check_segments(prefix, what="prefix")
        parts = prefix.split("/")
        # The last segment may be partial (or empty after a trailing '/').
        if any(part in ("", ".", "..") for part in parts[:-1]) or parts[-1] in (".", ".."):
            raise InvalidKey(f"prefix {prefix!r} has an empty, '.' or '..' segment")
    return prefix


def is_protected(key: str) -> bool:
    """Evidence and ledger keys: no store ever deletes them."""
    return key.startswith(PROTECTED_PREFIXES)


def check_named_write(key: str, sha256_hex: str) -> None:
    """`put_bytes` may write under objects/ only at the key its content hashes to."""
    if key.startswith("objects/") and key != content_key(sha256_hex):
        raise InvalidKey(f"{key} is a content key but the bytes hash to {sha256_hex}")
